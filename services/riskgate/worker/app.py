"""The worker process: consume decisions, commit batches per partition, survive every fault.

The loop is sequential around ``getmany``: batches of different partitions run concurrently,
but a rebalance callback only ever runs between batches, so revocation never races a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import (
    PartitionHalted,
    PublisherFenced,
    PublishRefused,
    RetryablePublishError,
    RetryableStateError,
)
from riskgate.kafka.clients import kafka_consumer
from riskgate.kafka.limits import OutputLimits
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.worker.batch import BatchCommitter
from riskgate.worker.decision_metrics import count_committed
from riskgate.worker.lifecycle import Backoff
from riskgate.worker.publisher import PartitionPublisher, refusal, transactional_id

log = structlog.get_logger("riskgate.worker")


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
    """Owns the group consumer on ``decisions.proposed`` and one publisher per assigned partition."""

    def __init__(self, settings: Settings, committer: BatchCommitter, clock: Callable[[], float],
                 on_assigned: Callable[[set[int]], Awaitable[None]] | None = None,
                 limits: OutputLimits | None = None) -> None:
        self._s = settings
        self._limits = limits
        self._on_assigned = on_assigned
        self._committer = committer
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._publishers: dict[TopicPartition, PartitionPublisher] = {}
        self._halted: set[TopicPartition] = set()
        self._resume_at: dict[TopicPartition, float] = {}
        self._state_backoff = Backoff()
        # Publish failures per partition: when the streak began, and its own backoff. A streak
        # longer than publish_halt_after_s halts the partition instead of spinning on it.
        self._failing_since: dict[TopicPartition, float] = {}
        self._publish_backoff: dict[TopicPartition, Backoff] = {}
        self._unstored_halts: dict[TopicPartition, str] = {}
        self._next_halt_check = 0.0
        self._stopping = asyncio.Event()
        # Partitions we hold no producer for although they are ours: set-up failed (due now)
        # or we were fenced (due after fenced_recheck_s). ``_heal`` takes them up again.
        self._fenced_until: dict[TopicPartition, float] = {}
        # The next offset each partition must decide. A fetch made before a seek can still be
        # handed out after it; its records are older than this and must not be published twice.
        self._next: dict[TopicPartition, int] = {}
        # Batches and ownership changes never interleave: a revocation waits for the commit.
        self.ownership = asyncio.Lock()
        self.state_ok = True

    @property
    def owned(self) -> list[TopicPartition]:
        return list(self._publishers)

    def partition_count(self, topic: str) -> int | None:
        """The topic's real partition count from the consumer's metadata; None until known."""
        found = self._consumer.partitions_for_topic(topic) if self._consumer is not None else None
        return len(found) if found else None

    @property
    def halted(self) -> list[int]:
        """Owned partitions halted for an operator."""
        return sorted(tp.partition for tp in self._halted)

    @property
    def stuck(self) -> list[int]:
        """Owned partitions whose publishes are failing right now (backing off, not yet halted)."""
        return sorted(tp.partition for tp in self._failing_since if tp not in self._halted)

    def request_stop(self) -> None:
        self._stopping.set()

    def _new_consumer(self) -> AIOKafkaConsumer:
        s = self._s
        consumer = kafka_consumer(
            s, group_id=s.group_id,
            enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=10_000, heartbeat_interval_ms=2_000, max_poll_interval_ms=300_000,
            fetch_max_wait_ms=s.batch_timeout_ms,
        )
        consumer.subscribe([s.topics.proposed], listener=_Rebalance(self))
        return consumer

    async def run(self) -> None:
        s = self._s
        consumer = await self._start_consumer()
        if consumer is None:  # stopped before the broker let the group consumer start
            return
        self._consumer = consumer
        try:
            while not self._stopping.is_set():
                self._resume_due()
                try:
                    batches = await consumer.getmany(timeout_ms=s.batch_timeout_ms,
                                                     max_records=s.batch_max_records)
                except KafkaError as exc:  # the broker is restarting; aiokafka reconnects
                    log.warning("poll_failed", error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                async with self.ownership:
                    await self._heal()
                    await self._check_resumed()
                    if batches:
                        await asyncio.gather(*(self._one(tp, recs) for tp, recs in batches.items()))
                    self._record_lag()
        finally:
            await self.release(list(self._publishers))
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _start_consumer(self) -> AIOKafkaConsumer | None:
        """The started group consumer, or None when a stop is requested first."""
        delay = Backoff()
        while not self._stopping.is_set():
            consumer = self._new_consumer()
            try:
                await consumer.start()
                return consumer
            except KafkaError as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                if self._stopping.is_set():
                    break
                wait = delay.next()
                log.warning("consumer_start_failed", error=str(exc), delay_s=wait)
                await self._pause(wait)
        return None

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when a stop is requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _record_lag(self) -> None:
        """Per owned partition, the end offset of the last fetch minus the next offset to decide.
        A paused (halted, backing-off) partition is not fetched, so its value stays as it was."""
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        for tp in self._publishers:
            end, next_offset = (consumer.highwater(tp) if tp in assigned else None), self._next.get(tp)
            if end is not None and next_offset is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, end - next_offset))

    async def _one(self, tp: TopicPartition, raw: list) -> None:
        publisher = self._publishers.get(tp)
        if publisher is None or tp in self._halted or tp in self._resume_at:
            # Not ours to decide now. Rewind, so that nothing fetched is skipped when we are.
            if self._consumer is not None and tp in self._consumer.assignment():
                self._consumer.seek(tp, raw[0].offset)
            return
        floor = self._next.get(tp, 0)
        records = [InRecord(tp.topic, tp.partition, r.offset, r.key, r.value) for r in raw
                   if r.offset >= floor]
        if not records:
            return
        outputs = []
        try:
            with metrics.BATCH_SECONDS.time():
                outputs = await self._committer.persist(tp.topic, tp.partition, records, self._clock())
                await publisher.publish(outputs, tp, records[-1].offset + 1)
            count_committed(outputs, self._s.topics.actions)  # once committed, never before
            self._next[tp] = records[-1].offset + 1
            metrics.observe_batch_age(self._clock(), (r.timestamp for r in raw if r.offset >= floor))
            self._state_backoff.reset()
            self.state_ok = True
            if tp in self._failing_since:
                self._publish_recovered(tp)
        except RetryableStateError as exc:
            self.state_ok = False
            self._back_off(tp, records[0].offset, self._state_backoff.next(), "state", exc)
        except PublisherFenced as exc:
            await self._drop_fenced(tp, str(exc))
        except RetryablePublishError as exc:
            await self._publish_failed(tp, exc)
            if self._next.get(tp, -1) > records[-1].offset:  # re-fetched: the commit went through
                count_committed(outputs, self._s.topics.actions)
        except PublishRefused as exc:
            metrics.PUBLISH_FAILURES.labels("refused").inc()
            await self._resync(tp)  # a fresh producer aborts the failed transaction
            await self._halt(tp, str(exc), store=True)
        except PartitionHalted as exc:
            await self._halt(tp, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug: keep the records, retry later, never skip
            log.exception("batch_failed", partition=tp.partition)
            self._back_off(tp, records[0].offset, self._state_backoff.next(), "unexpected", exc)

    def _back_off(self, tp: TopicPartition, offset: int, delay: float, kind: str, exc: Exception) -> None:
        metrics.RETRIES.labels(kind).inc()
        log.warning("batch_retry", partition=tp.partition, kind=kind, delay_s=delay, error=str(exc))
        assert self._consumer is not None
        self._consumer.seek(tp, offset)
        self._next[tp] = offset
        self._consumer.pause(tp)
        self._resume_at[tp] = asyncio.get_running_loop().time() + delay

    def _resume_due(self) -> None:
        if not self._resume_at or self._consumer is None:
            return
        now = asyncio.get_running_loop().time()
        for tp, at in list(self._resume_at.items()):
            if at <= now:
                del self._resume_at[tp]
                if tp in self._publishers and tp not in self._halted:
                    self._consumer.resume(tp)

    async def _publish_failed(self, tp: TopicPartition, exc: Exception) -> None:
        """Back off exponentially per partition; halt once the failure outlasts the bound."""
        metrics.PUBLISH_FAILURES.labels("retryable").inc()
        metrics.RETRIES.labels("publish").inc()
        clock = asyncio.get_running_loop().time
        since = self._failing_since.setdefault(tp, clock())
        metrics.PARTITION_STUCK.labels(str(tp.partition)).set(1)
        blocked_from = clock()
        await self._resync(tp)
        if tp in self._halted:
            return
        # Time spent waiting for the broker to come back is an outage, not a failing publish:
        # only failed attempts count towards publish_halt_after_s.
        since = self._failing_since[tp] = since + (clock() - blocked_from)
        now = clock()
        if now - since >= self._s.publish_halt_after_s:
            await self._halt(tp, f"publishing has failed for {now - since:.0f} s "
                                 f"(publish_halt_after_s={self._s.publish_halt_after_s:g}); "
                                 f"last error: {exc}", store=True)
            return
        delay = self._publish_backoff.setdefault(tp, Backoff(initial=0.5, maximum=30.0)).next()
        log.warning("publish_failed", partition=tp.partition, error=str(exc), delay_s=delay,
                    failing_s=round(now - since, 1))
        assert self._consumer is not None
        self._consumer.pause(tp)
        self._resume_at[tp] = now + delay

    def _publish_recovered(self, tp: TopicPartition) -> None:
        self._failing_since.pop(tp, None)
        self._publish_backoff.pop(tp, None)
        metrics.PARTITION_STUCK.labels(str(tp.partition)).set(0)

    async def _halt(self, tp: TopicPartition, reason: str, store: bool = False) -> None:
        """Stop deciding ``tp`` until an operator resumes it; ``store`` writes the halt down so
        that the next owner after a rebalance stays halted too."""
        self._halted.add(tp)
        self._resume_at.pop(tp, None)
        metrics.HALTED_PARTITIONS.set(len(self._halted))
        metrics.PARTITION_HALTED.labels(str(tp.partition)).set(1)
        log.error("partition_halted", partition=tp.partition, reason=reason, alert=True)
        if self._consumer is not None:
            self._consumer.pause(tp)
        if store:
            self._unstored_halts[tp] = reason
            await self._store_halts()

    async def _store_halts(self) -> None:
        # Several partitions can halt in one poll round, each storing every unstored halt.
        for tp in list(self._unstored_halts):
            reason = self._unstored_halts.get(tp)
            if reason is None:
                continue
            try:
                await self._committer.halt(tp.topic, tp.partition, reason)
                if self._unstored_halts.get(tp) == reason:
                    del self._unstored_halts[tp]
            except RetryableStateError as exc:  # kept, and stored on the next check
                log.warning("halt_not_stored", partition=tp.partition, error=str(exc))

    async def _check_resumed(self) -> None:
        """Every ``halt_recheck_s``, take up again the halted partitions an operator resumed."""
        if not self._halted:
            return
        now = asyncio.get_running_loop().time()
        if now < self._next_halt_check:
            return
        self._next_halt_check = now + self._s.halt_recheck_s
        await self._store_halts()
        halted = [tp for tp in self._halted if tp not in self._unstored_halts]
        try:
            still = await self._committer.still_halted(self._s.topics.proposed,
                                                       [tp.partition for tp in halted])
        except RetryableStateError:
            return
        for tp in halted:
            if tp.partition in still:
                continue
            log.warning("partition_resumed", partition=tp.partition)
            self._halted.discard(tp)
            self._publish_recovered(tp)
            metrics.PARTITION_HALTED.labels(str(tp.partition)).set(0)
            metrics.HALTED_PARTITIONS.set(len(self._halted))
            await self._resync(tp)
            if self._consumer is not None and tp in self._publishers and tp not in self._halted:
                self._consumer.resume(tp)

    async def _drop_fenced(self, tp: TopicPartition, reason: str) -> None:
        """A newer owner fenced us: stop touching the partition instead of fencing it back.

        Re-creating the producer here would bump the epoch and fence the rightful owner. The
        rebalance that made us a zombie will revoke the partition; if after a session timeout
        it is still ours, the fencing came from outside the group and we take it back.
        """
        metrics.RETRIES.labels("fenced").inc()
        log.error("partition_fenced", partition=tp.partition, reason=reason)
        publisher = self._publishers.pop(tp, None)
        if publisher is not None:
            await publisher.close()
        assert self._consumer is not None
        self._consumer.pause(tp)
        self._fenced_until[tp] = asyncio.get_running_loop().time() + self._s.fenced_recheck_s

    async def _heal(self) -> None:
        """Take up a partition whose set-up failed, or one we were fenced from whose fencer has
        had a session timeout to take it, if the group still assigns it to us. (Partitions in
        the middle of a rebalance are left to the rebalance callbacks.)"""
        consumer = self._consumer
        if consumer is None or not self._fenced_until:
            return
        now = asyncio.get_running_loop().time()
        assigned = consumer.assignment()
        for tp in [tp for tp in self._fenced_until if tp not in assigned]:
            del self._fenced_until[tp]
        orphans = [tp for tp, due in self._fenced_until.items()
                   if due <= now and tp not in self._publishers]
        if orphans:
            log.warning("partitions_reacquired", partitions=sorted(tp.partition for tp in orphans))
            for tp in orphans:
                del self._fenced_until[tp]  # a failed set-up below marks it again
            await self.acquire(orphans)
            for tp in orphans:
                if tp in self._publishers and tp not in self._halted:
                    consumer.resume(tp)

    async def _resync(self, tp: TopicPartition) -> None:
        """After an unknown commit outcome: re-create the producer (fencing), re-fetch, seek."""
        publisher = self._publishers.get(tp)
        if publisher is None:
            return
        delay = Backoff()
        while not self._stopping.is_set():
            try:
                await publisher.restart()
                await self._seek_committed(tp)
                return
            except Exception as exc:  # noqa: BLE001 - the broker may be down: keep trying
                refused = refusal(exc)
                if refused is not None:  # e.g. not authorised for the transactional id
                    await self._halt(tp, f"{publisher.txn_id}: the broker refuses the producer: "
                                         f"{type(refused).__name__}: {refused}", store=True)
                    return
                wait = delay.next()
                log.warning("resync_failed", partition=tp.partition, error=str(exc), delay_s=wait)
                await asyncio.sleep(wait)

    async def _seek_committed(self, tp: TopicPartition) -> None:
        assert self._consumer is not None
        committed = await self._consumer.committed(tp)
        if committed is None:
            committed = (await self._consumer.beginning_offsets([tp]))[tp]
        self._consumer.seek(tp, committed)
        self._next[tp] = committed
        self._resume_at.pop(tp, None)

    async def acquire(self, assigned: list[TopicPartition]) -> None:
        """Init each partition's producer first (fences a zombie), then fetch, check and seek.

        A partition whose set-up fails is left without a producer; ``_heal`` retries it."""
        for tp in assigned:
            try:
                await self._acquire_one(tp)
            except Exception as exc:  # noqa: BLE001 - e.g. the coordinator moved mid-fetch
                log.error("partition_setup_failed", partition=tp.partition, error=str(exc))
                publisher = self._publishers.pop(tp, None)
                if publisher is not None:
                    await publisher.close()
                self._fenced_until[tp] = asyncio.get_running_loop().time() + 1.0
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
        if self._on_assigned is not None and assigned:
            try:
                await self._on_assigned({tp.partition for tp in assigned})
            except Exception as exc:  # noqa: BLE001 - retried on the next assignment or event
                log.error("on_assigned_failed", error=str(exc))

    async def _acquire_one(self, tp: TopicPartition) -> None:
        s = self._s
        old = self._publishers.pop(tp, None)
        if old is not None:  # taken up twice (heal, then the rebalance): one producer per id
            await old.close()
        limits = self._limits
        publisher = PartitionPublisher(
            s, transactional_id(s.transactional_id_prefix, tp.topic, tp.partition),
            s.group_id, max_request_bytes=s.publish_max_request_bytes,
            **({"max_batch_bytes": limits.batch_bytes} if limits is not None else {}),
        )
        await self._start_with_retry(publisher)
        self._publishers[tp] = publisher
        self._halted.discard(tp)
        await self._seek_committed(tp)
        assert self._consumer is not None
        committed = await self._consumer.committed(tp)
        await self._check_progress(tp, committed)

    async def _check_progress(self, tp: TopicPartition, committed: int | None) -> None:
        delay = Backoff()
        while not self._stopping.is_set():
            try:
                await self._committer.check_progress(tp.topic, tp.partition, committed)
                return
            except PartitionHalted as exc:
                await self._halt(tp, str(exc))
                return
            except RetryableStateError as exc:
                self.state_ok = False
                wait = delay.next()
                log.warning("progress_check_failed", partition=tp.partition, error=str(exc), delay_s=wait)
                await asyncio.sleep(wait)

    async def _start_with_retry(self, publisher: PartitionPublisher) -> None:
        delay = Backoff()
        while True:
            try:
                await publisher.start()
                return
            except Exception as exc:  # noqa: BLE001 - broker restarting: retry until it answers
                if self._stopping.is_set():
                    raise
                wait = delay.next()
                log.warning("producer_init_failed", txn_id=publisher.txn_id, error=str(exc), delay_s=wait)
                await self._pause(wait)

    async def release(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            publisher = self._publishers.pop(tp, None)
            self._resume_at.pop(tp, None)
            self._fenced_until.pop(tp, None)
            self._next.pop(tp, None)
            self._halted.discard(tp)
            self._unstored_halts.pop(tp, None)
            self._failing_since.pop(tp, None)
            self._publish_backoff.pop(tp, None)
            metrics.forget_partition(tp.partition)
            if publisher is not None:
                await publisher.close()
        metrics.HALTED_PARTITIONS.set(len(self._halted))
