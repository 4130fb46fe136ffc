"""The group consumer port on librdkafka (confluent-kafka), for the KIP-447 client.

confluent-kafka's consumer admits one call at a time: a call from another thread waits until
the one in flight (a ``consume`` of up to ``batch_timeout_ms``) returns. So every call to it
runs on one thread of its own, and the loop's synchronous requests (pause, resume, seek) are
queued and applied on that thread before the next ``consume``. The rebalance callbacks run on
that thread inside ``consume``: they hand the listener to the event loop and wait for it, so a
revocation still waits for the revoked partitions' in-flight commits. Committed and beginning
offsets come from an admin client instead, so that a pipeline asking for them never waits
behind a rebalance that is waiting for that pipeline.

The rule this client follows is in docs/kafka-clients.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

import structlog
from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import TopicPartition as RdTopicPartition
from confluent_kafka.admin import OffsetSpec

from riskgate.kafka.clients import confluent_admin, confluent_consumer
from riskgate.kafka.options import CONSUMER, options
from riskgate.settings import Settings

log = structlog.get_logger("riskgate.worker")
T = TypeVar("T")
_ADMIN_TIMEOUT_S = 15.0
_METADATA_TIMEOUT_S = 10.0
_NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: nothing committed
_WAIT_SLICE_S = 0.01


class Fetched(NamedTuple):
    """One consumed record, in the attributes the pipeline reads (as aiokafka's)."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int


def consumer_config(s: Settings) -> dict[str, Any]:
    """The worker's consumer settings in librdkafka's names (as the aiokafka consumer's)."""
    return options(CONSUMER, "confluent", group_id=s.group_id, fetch_max_wait_ms=s.batch_timeout_ms)


def kafka_error(exc: BaseException) -> KafkaError:
    """A librdkafka failure as the error type the loop retries on."""
    return KafkaError(f"librdkafka: {exc}")


class RdKafkaGroupConsumer:
    """``ports.GroupConsumer`` over confluent-kafka's consumer, subscribed to one topic."""

    def __init__(self, settings: Settings, topic: str, listener: ConsumerRebalanceListener) -> None:
        self._s = settings
        self._topic = topic
        self._listener = listener
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rdkafka-consumer")
        self._consumer: Any = None
        self._admin: Any = None
        self._retired_admin: Any = None
        self._admin_since = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assigned: set[TopicPartition] = set()
        self._requests: deque[Callable[[Any], None]] = deque()
        self._highwater: dict[TopicPartition, int] = {}
        self._partitions: dict[str, set[int]] = {}
        self.group_metadata: Any = None  # the latest; the KIP-447 producer sends it with offsets

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._loop is not None
        try:
            return await self._loop.run_in_executor(self._thread, fn, *args)
        except KafkaException as exc:
            raise kafka_error(exc) from exc

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._admin, self._admin_since = confluent_admin(self._s), time.monotonic()
        await self._on_thread(self._create)

    def _create(self) -> None:
        consumer = confluent_consumer(self._s, **consumer_config(self._s))
        try:
            self._refresh_partitions(consumer)
            consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                               on_lost=self._on_revoke)
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer

    def _refresh_partitions(self, consumer: Any) -> None:
        meta = consumer.list_topics(self._topic, timeout=_METADATA_TIMEOUT_S).topics[self._topic]
        if meta.error is not None:
            raise KafkaException(meta.error)
        self._partitions[self._topic] = set(meta.partitions)

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await self._on_thread(consumer.close)  # runs the revoke callback first
        self._thread.shutdown(wait=False)

    # ----- polling, on the consumer's thread ------------------------------------------------

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        messages = await self._on_thread(self._consume, max_records or 500, timeout_ms / 1000)
        batches: dict[TopicPartition, list[Any]] = {}
        for m in messages:
            error = m.error()
            if error is not None:
                if error.fatal():
                    raise kafka_error(KafkaException(error))
                if error.code() != RdKafkaError._PARTITION_EOF:
                    log.warning("consume_error", error=str(error))
                continue
            tp = TopicPartition(m.topic(), m.partition())
            batch = batches.get(tp)
            if batch is None:
                batch = batches[tp] = []
            batch.append(Fetched(m.offset(), m.key(), m.value(), m.timestamp()[1]))
        return batches

    def _consume(self, limit: int, timeout_s: float) -> list[Any]:
        """What is there now, or else the first records to arrive within ``timeout_s`` and what
        came with them. librdkafka's ``consume`` waits until ``limit`` records or the timeout,
        so it is asked for what is there, and waited on in short slices: a record never waits
        for a batch to fill, and a queued resume or seek waits one slice at most."""
        consumer = self._consumer
        if consumer is None:
            raise KafkaException(RdKafkaError(RdKafkaError._STATE, "consumer stopped"))
        deadline = time.monotonic() + timeout_s
        while True:
            self._apply_requests(consumer)
            messages = consumer.consume(num_messages=limit, timeout=0)
            left = deadline - time.monotonic()
            if messages or left <= 0:
                break
            messages = consumer.consume(num_messages=1, timeout=min(left, _WAIT_SLICE_S))
            if messages:
                if limit > 1:
                    messages += consumer.consume(num_messages=limit - 1, timeout=0)
                break
        self._apply_requests(consumer)  # those the rebalance callbacks queued
        for tp in self._assigned:
            _, high = consumer.get_watermark_offsets(RdTopicPartition(tp.topic, tp.partition),
                                                     cached=True)
            if high >= 0:
                self._highwater[tp] = high
        self.group_metadata = consumer.consumer_group_metadata()
        return messages

    def _apply_requests(self, consumer: Any) -> None:
        while self._requests:
            request = self._requests.popleft()
            try:
                request(consumer)
            except KafkaException as exc:  # e.g. a seek on a partition revoked meanwhile
                log.warning("consumer_request_failed", error=str(exc))

    # ----- the rebalance callbacks (on the consumer's thread, inside consume) ----------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        # Paused until each pipeline has set up; the pipeline resumes its own partition.
        consumer.assign(partitions)
        consumer.pause(partitions)
        assigned = [TopicPartition(p.topic, p.partition) for p in partitions]
        self._assigned = set(assigned)
        self.group_metadata = consumer.consumer_group_metadata()
        self._hand_over(self._listener.on_partitions_assigned, assigned)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = [TopicPartition(p.topic, p.partition) for p in partitions]
        self._hand_over(self._listener.on_partitions_revoked, revoked)
        self._assigned.difference_update(revoked)
        for tp in revoked:
            self._highwater.pop(tp, None)
        consumer.unassign()

    def _hand_over(self, callback: Callable[[list[TopicPartition]], Awaitable[None]],
                   partitions: list[TopicPartition]) -> None:
        """Run the listener on the event loop and wait for it (the loop is free meanwhile)."""
        assert self._loop is not None
        try:
            asyncio.run_coroutine_threadsafe(callback(partitions), self._loop).result()
        except Exception:  # noqa: BLE001 - the loop logs its own failures; the group goes on
            log.exception("rebalance_callback_failed", partitions=sorted(tp.partition for tp in partitions))

    # ----- the loop's synchronous requests --------------------------------------------------

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        target = RdTopicPartition(partition.topic, partition.partition, offset)
        self._requests.append(lambda c: c.seek(target))

    def pause(self, *partitions: TopicPartition) -> None:
        targets = [RdTopicPartition(tp.topic, tp.partition) for tp in partitions]
        self._requests.append(lambda c: c.pause(targets))

    def resume(self, *partitions: TopicPartition) -> None:
        targets = [RdTopicPartition(tp.topic, tp.partition) for tp in partitions]
        self._requests.append(lambda c: c.resume(targets))

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._highwater.get(partition)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self._partitions.get(topic)

    # ----- offsets, from the admin client ---------------------------------------------------

    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset, once no transaction on it is pending (require_stable:
        the broker answers only after the previous owner's transaction has ended)."""
        request = ConsumerGroupTopicPartitions(
            self._s.group_id, [RdTopicPartition(partition.topic, partition.partition)])
        futures = self._admin.list_consumer_group_offsets(
            [request], require_stable=True, request_timeout=_ADMIN_TIMEOUT_S)
        found = (await self._admin_result(futures[self._s.group_id])).topic_partitions[0]
        if found.error is not None:
            raise kafka_error(KafkaException(found.error))
        return None if found.offset == _NO_OFFSET else found.offset

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        asked = {RdTopicPartition(tp.topic, tp.partition): OffsetSpec.earliest() for tp in partitions}
        futures = self._admin.list_offsets(asked, request_timeout=_ADMIN_TIMEOUT_S)
        return {TopicPartition(tp.topic, tp.partition): (await self._admin_result(f)).offset
                for tp, f in futures.items()}

    async def _admin_result(self, future: Any) -> Any:
        """The admin call's answer. After a failure the admin client is replaced, so that a
        connection left stale by a broker restart is not asked again (the caller retries)."""
        try:
            return await asyncio.wrap_future(future)
        except KafkaException as exc:
            log.warning("admin_call_failed", error=str(exc.args[0]))
            self._renew_admin()
            raise kafka_error(exc) from exc

    def _renew_admin(self) -> None:
        # At most once per request timeout, and the old client is kept until the next renewal:
        # the other pipelines' requests on it still end (answered or timed out) before it goes.
        now = time.monotonic()
        if now - self._admin_since >= _ADMIN_TIMEOUT_S:
            self._retired_admin, self._admin = self._admin, confluent_admin(self._s)
            self._admin_since = now
