"""The worker loop: one poll task for the group consumer, one pipeline task per owned partition.

aiokafka's consumer must not run concurrent ``getmany`` calls, so one task polls every owned
partition and hands each partition's records to that partition's ``PartitionPipeline``
(synchronously, so that the consumer's position and the pipeline's stay equal). Each pipeline
commits on its own (``commit.PartitionCommit`` holds the written contract and its invariants),
so a slow partition delays no other; a full pipeline pauses its partition on the consumer.

Ownership changes (the rebalance callbacks, and taking back a partition we were fenced from)
hold ``ownership``: a revocation waits for the revoked partitions' in-flight commits only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.settings import Settings
from riskgate.worker.pipeline import PartitionPipeline
from riskgate.worker.ports import (
    Clock,
    ConsumerFactory,
    GroupConsumer,
    PublisherFactory,
    StateStore,
)
from riskgate.worker.retry import Stopped, pause, retry

log = structlog.get_logger("riskgate.worker")
_REVOKE_GRACE_S = 30.0  # well inside max_poll_interval_ms, the group's rebalance timeout


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: DecisionLoop) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._worker.ownership:
            await self._worker.release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self._worker.ownership:
            await self._worker.acquire(assigned)


class DecisionLoop:
    """Owns the group consumer on ``decisions.proposed`` and one pipeline per assigned partition."""

    def __init__(self, settings: Settings, store: StateStore, clock: Clock, *,
                 consumers: ConsumerFactory, publishers: PublisherFactory,
                 on_assigned: Callable[[set[int]], Awaitable[None]] | None = None,
                 on_stopped: Callable[[], Awaitable[None]] | None = None,
                 revoke_grace_s: float = _REVOKE_GRACE_S) -> None:
        self._s = settings
        self._revoke_grace_s = revoke_grace_s
        self._store = store
        self._clock = clock
        self._consumers = consumers
        self._publishers = publishers
        self._on_assigned = on_assigned
        self._on_stopped = on_stopped  # closes what the publishers share, after the consumer
        self._consumer: GroupConsumer | None = None
        self._pipelines: dict[TopicPartition, PartitionPipeline] = {}
        # The ownership epoch per partition: a new one at every take-up, none once released.
        self._epochs: dict[TopicPartition, int] = {}
        self._epoch_counter = itertools.count(1)
        # Partitions we were fenced from, and when to take them up again if still ours.
        self._fenced_until: dict[TopicPartition, float] = {}
        self._stopping = asyncio.Event()
        self.ownership = asyncio.Lock()

    # ----- what the service and its probes read -----------------------------------------

    @property
    def owned(self) -> list[TopicPartition]:
        """Partitions set up here: producer started, committed offset fetched (or halted)."""
        return [tp for tp, p in self._live() if p.set_up or p.halted is not None]

    @property
    def halted(self) -> list[int]:
        """Owned partitions halted for an operator."""
        return sorted(tp.partition for tp, p in self._live() if p.halted is not None)

    @property
    def stuck(self) -> list[int]:
        """Owned partitions whose publishes are failing right now (backing off, not yet halted)."""
        return sorted(tp.partition for tp, p in self._live()
                      if p.failing_since is not None and p.halted is None)

    @property
    def state_ok(self) -> bool:
        """False while any partition's PostgreSQL work is failing."""
        return not any(p.state_failing for _, p in self._live())

    def _live(self) -> list[tuple[TopicPartition, PartitionPipeline]]:
        return [(tp, p) for tp, p in self._pipelines.items() if not p.dropped]

    def partition_count(self, topic: str) -> int | None:
        """The topic's real partition count from the consumer's metadata; None until known."""
        found = self._consumer.partitions_for_topic(topic) if self._consumer is not None else None
        return len(found) if found else None

    def owns(self, tp: TopicPartition, epoch: int) -> bool:
        """Whether ``epoch`` is the current ownership of ``tp`` (checked before publishing)."""
        return self._epochs.get(tp) == epoch

    def request_stop(self) -> None:
        self._stopping.set()

    # ----- the poll task ----------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            if self._on_stopped is not None:
                await self._on_stopped()

    async def _run(self) -> None:
        try:
            consumer = await retry(self._start_consumer, what="consumer start", sleep=self._clock.sleep,
                                   retry_on=(KafkaError,), stopping=self._stopping)
        except Stopped:  # stopped before the broker let the group consumer start
            return
        try:
            while not self._stopping.is_set():
                await self._poll_once(consumer)
        finally:
            async with self.ownership:
                await self.release(list(self._pipelines))
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _start_consumer(self) -> GroupConsumer:
        consumer = self._consumers(_Rebalance(self))
        self._consumer = consumer  # the rebalance callbacks may run before start returns
        try:
            await consumer.start()
        except BaseException:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        return consumer

    async def _poll_once(self, consumer: GroupConsumer) -> None:
        s = self._s
        try:
            batches = await consumer.getmany(timeout_ms=s.batch_timeout_ms, max_records=s.batch_max_records)
        except KafkaError as exc:  # the broker is restarting; aiokafka reconnects
            log.warning("poll_failed", error=str(exc))
            await pause(self._clock.sleep, 0.5, self._stopping)
            return
        # No await before every batch is handed over: positions and pipelines stay equal.
        for tp, raw in batches.items():
            pipeline = self._pipelines.get(tp)
            if pipeline is not None:
                pipeline.offer(raw)
            elif tp in consumer.assignment():  # not ours to decide now: fetch it again later
                consumer.seek(tp, raw[0].offset)
                consumer.pause(tp)
        if self._fenced_until:
            async with self.ownership:
                await self._take_back_fenced()
        self._record_lag()

    def _record_lag(self) -> None:
        """Per owned partition, the end offset of the last fetch minus the next offset to decide."""
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        for tp, pipeline in self._pipelines.items():
            end = consumer.highwater(tp) if tp in assigned else None
            next_offset = pipeline.next_offset
            if end is not None and next_offset is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, end - next_offset))

    # ----- ownership --------------------------------------------------------------------

    async def acquire(self, assigned: list[TopicPartition]) -> None:
        """Start a pipeline (a new epoch) per partition; each inits its producer first (fencing
        any zombie), then fetches the committed offset and seeks, in its own task."""
        for tp in assigned:
            await self._end(tp)  # taken up twice (fenced, then the rebalance): one producer per id
            self._fenced_until.pop(tp, None)
            epoch = next(self._epoch_counter)
            self._epochs[tp] = epoch
            pipeline = PartitionPipeline(
                tp, epoch, settings=self._s, store=self._store, publisher=self._publishers(tp),
                consumer=self._require_consumer(), clock=self._clock, owns=self.owns,
                on_change=self._pipeline_changed)
            self._pipelines[tp] = pipeline
            pipeline.start()
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
        if self._on_assigned is not None and assigned:
            try:
                await self._on_assigned({tp.partition for tp in assigned})
            except Exception as exc:  # noqa: BLE001 - retried on the next assignment or event
                log.error("on_assigned_failed", error=str(exc))

    async def release(self, revoked: list[TopicPartition]) -> None:
        """Wait for the revoked partitions' in-flight commits (only theirs), then forget them."""
        await asyncio.gather(*(self._end(tp) for tp in revoked))
        for tp in revoked:
            self._fenced_until.pop(tp, None)
            metrics.forget_partition(tp.partition)
        self._pipeline_changed(None)

    async def _end(self, tp: TopicPartition) -> None:
        pipeline = self._pipelines.pop(tp, None)
        if pipeline is not None:
            await pipeline.stop(self._revoke_grace_s)
        self._epochs.pop(tp, None)  # after the wait: a commit still running then cannot publish

    def _require_consumer(self) -> GroupConsumer:
        assert self._consumer is not None, "ownership changes only with a consumer"
        return self._consumer

    def _pipeline_changed(self, pipeline: PartitionPipeline | None) -> None:
        metrics.HALTED_PARTITIONS.set(len(self.halted))
        if pipeline is None or not pipeline.dropped or self._pipelines.get(pipeline.tp) is not pipeline:
            return
        # Fenced (or its task failed): re-creating the producer now would bump the epoch and
        # fence the rightful owner. The rebalance that made us a zombie revokes the partition;
        # if after fenced_recheck_s it is still ours, the fencing came from outside the group
        # and we take it back. (The dropped pipeline stays listed until then, so that taking
        # it back waits for its end.)
        self._epochs.pop(pipeline.tp, None)
        self._fenced_until[pipeline.tp] = self._clock.monotonic() + self._s.fenced_recheck_s

    async def _take_back_fenced(self) -> None:
        """Take up again a partition we were fenced from, once its fencer has had
        fenced_recheck_s to take it, if the group still assigns it to us."""
        assigned = self._require_consumer().assignment()
        now = self._clock.monotonic()
        for tp in [tp for tp in self._fenced_until if tp not in assigned]:
            del self._fenced_until[tp]
        due = [tp for tp, at in self._fenced_until.items() if at <= now]
        if due:
            log.warning("partitions_reacquired", partitions=sorted(tp.partition for tp in due))
            await self.acquire(due)
