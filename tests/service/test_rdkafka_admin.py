"""The librdkafka consumer's admin client: renewed after a failed call, at most once per
request timeout, and never dropped while another pipeline's request may still run on it."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from aiokafka.errors import KafkaError as AioKafkaError
from aiokafka.structs import TopicPartition
from confluent_kafka import KafkaError, KafkaException

from riskgate.settings import Settings
from riskgate.worker import rdkafka_consumer
from riskgate.worker.rdkafka_consumer import RdKafkaGroupConsumer

pytestmark = pytest.mark.service


class FailingAdmin:
    """An admin client whose committed-offset answers fail with a transport error."""

    def __init__(self) -> None:
        self.calls = 0

    def list_consumer_group_offsets(self, requests, require_stable, request_timeout):
        self.calls += 1
        failed: Future = Future()
        failed.set_exception(KafkaException(KafkaError(KafkaError._TRANSPORT, "injected")))
        return {requests[0].group_id: failed}


class TestAdminRenewal:
    async def test_a_failed_call_renews_the_admin_once_per_request_timeout(self, monkeypatch):
        """Two failures in quick succession make one new admin client; the old one is kept."""
        # Arrange
        made: list[FailingAdmin] = []

        def make_admin(_settings):
            made.append(FailingAdmin())
            return made[-1]

        monkeypatch.setattr(rdkafka_consumer, "confluent_admin", make_admin)
        consumer = RdKafkaGroupConsumer(Settings(), "in", listener=None)  # type: ignore[arg-type]
        first = FailingAdmin()
        consumer._admin = first  # as start() leaves it, long enough ago to renew
        tp = TopicPartition("in", 0)
        # Act
        for _ in range(2):
            with pytest.raises(AioKafkaError):
                await consumer.committed(tp)
        # Assert
        assert len(made) == 1
        assert first.calls == 1 and made[0].calls == 1
        assert consumer._retired_admin is first
