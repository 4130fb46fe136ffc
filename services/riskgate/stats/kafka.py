"""The stats process's Kafka plumbing: its changelog topic, reading a topic to its end, and the
one transaction that checkpoints everything."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from riskgate.errors import PublisherFenced, RetryablePublishError
from riskgate.kafka.admin import admin_client
from riskgate.kafka.clients import kafka_consumer, kafka_producer
from riskgate.settings import Settings
from riskgate.worker.inputs import partitions_of

_TXN_TIMEOUT_S = 30.0

Outgoing = tuple[str, bytes, bytes | None]
"""(topic, key, value) of one record to publish; a None value is a tombstone."""


async def ensure_state_topic(settings: Settings, name: str) -> None:
    """Create the changelog topic (compacted, one partition) unless it exists."""
    admin = admin_client(settings)
    await admin.start()
    try:
        if name in set(await admin.list_topics()):
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(name, 1, 1, topic_configs={
                "cleanup.policy": "compact", "min.compaction.lag.ms": "60000"})])
    finally:
        await admin.close()


async def read_to_end(settings: Settings, topic: str, deadline_s: float = 120.0
                      ) -> list[tuple[bytes, bytes | None]]:
    """Every committed record of ``topic`` from its start to the end it has now, in order per
    partition (no group, read_committed)."""
    consumer = kafka_consumer(settings, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(settings, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[bytes, bytes | None]] = []
        async with asyncio.timeout(deadline_s):
            while any([await consumer.position(tp) < ends[tp] for tp in tps]):
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend((r.key or b"", r.value) for r in records)
        return out
    finally:
        await consumer.stop()


def checkpoint_producer(settings: Settings, transactional_id: str) -> AIOKafkaProducer:
    return kafka_producer(settings, transactional_id=transactional_id,
        enable_idempotence=True, acks="all", linger_ms=5, transaction_timeout_ms=60_000,
        request_timeout_ms=30_000, max_request_size=settings.publish_max_request_bytes)


async def checkpoint(producer: AIOKafkaProducer, records: Sequence[Outgoing],
                     offsets: dict[TopicPartition, int], group_id: str) -> None:
    """Publish ``records`` and commit ``offsets`` for ``group_id`` in one Kafka transaction.

    Raises PublisherFenced when a newer stats process has taken the transactional id, and
    RetryablePublishError when the outcome is unknown: the caller then rebuilds its state from
    the changelog and the committed offsets, which are exactly what the last commit left."""
    try:
        async with asyncio.timeout(_TXN_TIMEOUT_S):
            await producer.begin_transaction()
            futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
            if futures:
                await asyncio.gather(*futures)
            if offsets:
                await producer.send_offsets_to_transaction(
                    {tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()},
                    group_id)
            await producer.commit_transaction()
    except Exception as exc:  # noqa: BLE001 - any failure leaves the outcome unknown
        if fenced(producer, exc):
            raise PublisherFenced(f"another riskgate stats process took over: {exc}") from exc
        raise RetryablePublishError(f"stats checkpoint: {type(exc).__name__}: {exc}") from exc


def fenced(producer: AIOKafkaProducer, exc: BaseException) -> bool:
    """Fencing shows as ProducerFenced, or as a later error once aiokafka's sender task has
    died of it. Telling it apart matters: a fenced process that restarted would fence back."""
    if isinstance(exc, _FENCED) or isinstance(exc.__cause__, _FENCED):
        return True
    sender = getattr(getattr(producer, "_sender", None), "_sender_task", None)
    return bool(sender is not None and sender.done() and not sender.cancelled()
                and isinstance(sender.exception(), _FENCED))


_FENCED = (ProducerFenced, InvalidProducerEpoch)
