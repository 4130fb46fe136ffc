"""Kafka-side faults injected into the worker's real publisher, for either client
(``kafka_client``: aiokafka's per-partition publisher, or librdkafka's shared transactions).

Each patches one seam with pytest's ``monkeypatch``; every call after the injected one is real.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError

from riskgate.records import OutRecord
from riskgate.settings import Settings
from riskgate.worker.publisher import PartitionPublisher

Publish = Callable[[Any, list[OutRecord], Any, int], Awaitable[None]]


def fail_publishes(monkeypatch, s: Settings, failing: Publish) -> None:
    """Every publish of a partition batch runs ``failing(self, records, tp, next_offset)``."""
    if s.kafka_client == "confluent":
        from riskgate.worker.rdkafka_publisher import SharedPartitionPublisher
        monkeypatch.setattr(SharedPartitionPublisher, "publish", failing)
    else:
        monkeypatch.setattr(PartitionPublisher, "publish", failing)


def lose_first_commit(monkeypatch, s: Settings, topic: str, calls: list[list[OutRecord]], *,
                      applied: bool) -> None:
    """The first Kafka transaction carrying a record for ``topic`` fails as if its commit's
    answer were lost. ``applied``: it did commit; else it was aborted. Its records are
    appended to ``calls``."""
    if s.kafka_client == "confluent":
        _lose_first_rdkafka_commit(monkeypatch, topic, calls, applied)
        return
    real = PartitionPublisher._transaction

    async def transaction(self, producer, records, tp, next_offset):
        if calls or not any(r.topic == topic for r in records):
            return await real(self, producer, records, tp, next_offset)
        calls.append(list(records))
        if applied:
            await real(self, producer, records, tp, next_offset)
        else:
            await producer.begin_transaction()
            for r in records:
                await producer.send(r.topic, r.value, key=r.key)
            await producer.abort_transaction()
        raise KafkaError("simulated: the commit's outcome is unknown")

    monkeypatch.setattr(PartitionPublisher, "_transaction", transaction)


def _lose_first_rdkafka_commit(monkeypatch, topic: str, calls: list, applied: bool) -> None:
    from confluent_kafka import KafkaError as RdKafkaError

    from riskgate.worker import rdkafka_publisher as rd

    real = rd.WorkerTransactions._transaction

    def transaction(self, producer, batches, group_metadata):  # on the producer's thread
        records = [r for batch in batches for r in batch.records]
        if calls or not any(r.topic == topic for r in records):
            return real(self, producer, batches, group_metadata)
        calls.append(records)
        if applied:
            real(self, producer, batches, group_metadata)
        else:
            producer.begin_transaction()
            for r in records:
                producer.produce(r.topic, r.value, r.key)
            producer.abort_transaction(10)
        raise rd._Failed(RdKafkaError(RdKafkaError._TIMED_OUT, "simulated: the commit's outcome "
                                      "is unknown"), broken=True)

    monkeypatch.setattr(rd.WorkerTransactions, "_transaction", transaction)


async def usurp_transactional_id(s: Settings, partition: int) -> Callable[[], Awaitable[None]]:
    """Start a producer with the transactional id the in-process worker uses for
    ``partition`` (its own one with librdkafka), fencing the worker's; returns its closer."""
    if s.kafka_client == "confluent":
        import asyncio

        from riskgate.kafka.clients import confluent_producer
        from riskgate.worker.rdkafka_publisher import worker_transactional_id

        producer = confluent_producer(s, **{"transactional.id": worker_transactional_id(s)})
        await asyncio.to_thread(producer.init_transactions, 20)

        async def close_rdkafka() -> None:
            await asyncio.to_thread(producer.flush, 5)
        return close_rdkafka
    usurper = PartitionPublisher(s, f"{s.transactional_id_prefix}-{s.topics.proposed}-{partition}",
                                 s.group_id)
    await usurper.start()
    return usurper.close
