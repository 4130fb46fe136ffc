"""The worker's Kafka client options: one table, read in each client's names."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer

from riskgate.kafka.options import CONSUMER, PRODUCER, options
from riskgate.settings import Settings
from riskgate.worker.rdkafka_consumer import consumer_config
from riskgate.worker.rdkafka_publisher import producer_config

pytestmark = pytest.mark.unit


class TestOptions:
    def test_both_clients_get_the_same_values_under_their_own_names(self) -> None:
        """A row shared by the clients gives each the same value; client-only rows stay out."""
        # Arrange / Act
        aio = options(CONSUMER, "aiokafka", group_id="g", fetch_max_wait_ms=50)
        rd = options(CONSUMER, "confluent", group_id="g", fetch_max_wait_ms=50)
        # Assert
        assert aio["isolation_level"] == rd["isolation.level"] == "read_committed"
        assert aio["session_timeout_ms"] == rd["session.timeout.ms"] == 10_000
        assert aio["group_id"] == rd["group.id"] == "g"
        assert "partition.assignment.strategy" in rd and "" not in aio

    def test_a_row_without_a_value_must_be_given(self) -> None:
        """Leaving out a caller-given option is an error, not a silent default."""
        # Arrange / Act / Assert
        with pytest.raises(KeyError, match="fetch_max_wait_ms"):
            options(CONSUMER, "aiokafka", group_id="g")

    def test_librdkafka_accepts_every_name_the_worker_gives_it(self) -> None:
        """confluent-kafka builds a consumer and a transactional producer from the worker's
        configs (it refuses an unknown property at construction, before any connection)."""
        # Arrange
        s = Settings()
        # Act
        consumer = Consumer(consumer_config(s))
        producer = Producer(producer_config(s, "rg-w-options-test", 256 * 1024))
        # Assert
        assert consumer.assignment() == []
        assert len(producer) == 0
        consumer.close()

    def test_aiokafka_accepts_every_name_the_worker_gives_it(self) -> None:
        """The aiokafka constructors take the table's options as keywords."""
        # Arrange
        import asyncio

        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        async def build() -> None:
            AIOKafkaConsumer(**options(CONSUMER, "aiokafka", group_id="g", fetch_max_wait_ms=50))
            AIOKafkaProducer(**options(PRODUCER, "aiokafka", transactional_id="t", linger_ms=0,
                                       max_batch_size=16384, max_request_size=1 << 20))

        # Act / Assert: a wrong keyword raises TypeError
        asyncio.run(build())
