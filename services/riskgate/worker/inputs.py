"""Read the compacted inputs (market, emergency, config, snapshots) from their start, then follow.

``caught_up`` is set once every partition has been read to the end offset it had at start, so
a worker never reports ready, or decides anything, before it knows the current EMERGENCY.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import PoisonMessage, RetryableError
from riskgate.kafka.access import TopicAccessDenied, refused_topics
from riskgate.kafka.clients import kafka_admin, kafka_consumer
from riskgate.settings import Settings
from riskgate.worker.lifecycle import Backoff
from riskgate.worker.retry import retry

log = structlog.get_logger("riskgate.inputs")

Apply = Callable[[bytes | None, bytes | None], Awaitable[None]]


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """The partition ids of an existing topic (a missing topic is a deployment error)."""
    admin = kafka_admin(settings)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [p["partition"] for d in described if d.get("error_code", 0) == 0 for p in d["partitions"]]
    if refused_topics(described):
        raise TopicAccessDenied(settings, topic)
    if not parts:
        raise RuntimeError(f"topic {topic!r} does not exist; run `riskgate topics create`")
    return sorted(parts)


class CompactedReader:
    """One consumer, no group, every partition of the given topics, from the beginning."""

    def __init__(self, settings: Settings, appliers: dict[str, Apply]) -> None:
        self._settings = settings
        self._appliers = appliers
        self.caught_up = asyncio.Event()
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = kafka_consumer(
            self._settings, group_id=None, enable_auto_commit=False,
            isolation_level="read_committed", auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await self._assign(consumer)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        tps = []
        for topic in self._appliers:
            parts = await self._partitions(consumer, topic)
            tps.extend(TopicPartition(topic, p) for p in parts)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._targets = await consumer.end_offsets(tps)

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[int]:
        return await partitions_of(self._settings, topic)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            await self._check_caught_up()
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=2000)
                for tp, records in batches.items():
                    apply = self._appliers[tp.topic]
                    for r in records:
                        await self._apply_one(apply, tp.topic, r.key, r.value)
                if not self.caught_up.is_set():
                    await self._check_caught_up()
        finally:
            await consumer.stop()

    async def _apply_one(self, apply: Apply, topic: str, key: bytes | None, value: bytes | None) -> None:
        try:  # the database down is retried every second: the input must not be skipped
            await retry(lambda: apply(key, value), what=topic, sleep=asyncio.sleep,
                        backoff=Backoff(initial=1.0, maximum=1.0), retry_on=(RetryableError,),
                        event="global_input_retry")
        except PoisonMessage as exc:
            metrics.GLOBAL_BAD.labels(topic).inc()
            log.error("global_input_invalid", topic=topic, code=exc.code, error=exc.reason)

    async def _check_caught_up(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        for tp, end in self._targets.items():
            if await consumer.position(tp) < end:
                return
        self.caught_up.set()
