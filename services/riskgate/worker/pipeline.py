"""One owned partition's own task: set it up, commit what accumulated, meet each fate.

The one poll task (``app.DecisionLoop``) hands each partition's records to its pipeline with
``offer``; the pipeline's task commits them in batches of whatever accumulated during the
previous commit, up to ``batch_max_records``. A slow partition therefore delays no other, and
a record waits for at most the one commit in flight before its own. A pipeline whose buffer is
full pauses its partition on the consumer (back-pressure) and resumes it once it drains.

Invariant kept with the poll task: the consumer's position of the partition is the pipeline's
``_fetched_to``. Records are handed over synchronously right after ``getmany`` returns, and
the pipeline seeks only together with setting ``_fetched_to``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import (
    PartitionHalted,
    PublisherFenced,
    PublishRefused,
    RetryablePublishError,
    RetryableStateError,
)
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.worker.commit import PartitionCommit
from riskgate.worker.fates import Fate, fate_of
from riskgate.worker.partition_faults import PartitionFaults
from riskgate.worker.ports import Clock, GroupConsumer, Publisher, StateStore
from riskgate.worker.retry import Stopped, pause, retry

log = structlog.get_logger("riskgate.worker")
_BUFFER_BYTES = 16 * 1024 * 1024


class PartitionPipeline(PartitionFaults):
    """Owns one partition for one ownership epoch: its publisher, buffer, floor and faults."""

    def __init__(self, tp: TopicPartition, epoch: int, *, settings: Settings, store: StateStore,
                 publisher: Publisher, consumer: GroupConsumer, clock: Clock,
                 owns: Callable[[TopicPartition, int], bool],
                 on_change: Callable[[PartitionPipeline], None]) -> None:
        super().__init__(tp, settings, store, clock, on_change)
        self.epoch = epoch
        self.publisher = publisher
        self._consumer = consumer
        self._commit = PartitionCommit(tp, store, publisher, clock.now, epoch=epoch, owns=owns,
                                       actions_topic=settings.topics.actions)
        self._pending: deque[tuple[InRecord, int]] = deque()  # (record, Kafka timestamp)
        self._bytes = 0
        self._fetched_to: int | None = None  # None until set up: the partition stays paused
        self._paused = False
        self._wake = asyncio.Event()
        self.set_up = False
        self.task: asyncio.Task | None = None

    @property
    def next_offset(self) -> int | None:
        return self._commit.floor if self.set_up else None

    def start(self) -> None:
        self._hold()
        self.task = asyncio.create_task(self.run(), name=f"partition-{self.tp.partition}")

    # ----- the poll task's side ---------------------------------------------------------

    def offer(self, raw: list[Any]) -> None:
        """Take records the poll fetched for this partition (synchronously after getmany)."""
        if self._fetched_to is None:
            return
        for r in raw:
            if r.offset < self._fetched_to:
                continue  # already taken; cannot happen while the invariant holds
            self._pending.append((InRecord(self.tp.topic, self.tp.partition, r.offset, r.key, r.value),
                                  r.timestamp))
            self._bytes += len(r.value or b"")
            self._fetched_to = r.offset + 1
        self._wake.set()
        self._hold()

    def _hold(self) -> None:
        """Pause the partition while it is not set up or its buffer is full; else resume it."""
        full = (len(self._pending) >= 2 * self.s.batch_max_records or self._bytes >= _BUFFER_BYTES)
        want = self._fetched_to is None or full or self.closing.is_set()
        if want != self._paused and self.tp in self._consumer.assignment():
            (self._consumer.pause if want else self._consumer.resume)(self.tp)
            self._paused = want

    # ----- the partition's own task -----------------------------------------------------

    async def run(self) -> None:
        try:
            await self._set_up()
            while not self.closing.is_set():
                if self.halted is not None:
                    await self._wait_resumed()
                elif self._pending:
                    await self._commit_next()
                else:
                    self._wake.clear()
                    await self._wait(self._wake)
        except Stopped:
            pass
        except Exception:  # noqa: BLE001 - a bug: drop the partition; the loop takes it up again
            log.exception("partition_task_failed", partition=self.tp.partition)
            self.closing.set()
            self.dropped = True
            self._on_change(self)
        finally:
            await self.publisher.close()

    async def stop(self, grace_s: float) -> None:
        """Let the commit in flight finish (up to ``grace_s``), then end the task."""
        self.closing.set()
        self._wake.set()
        if self.task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=grace_s)
        except TimeoutError:
            log.error("partition_stop_timeout", partition=self.tp.partition, grace_s=grace_s)
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _wait(self, event: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(event.wait())
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            await asyncio.wait({waiter, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            closing.cancel()

    async def _set_up(self) -> None:
        """Init the producer first (fences any zombie), then fetch the committed offset, seek,
        and check PostgreSQL's progress against it."""
        try:
            await retry(self.publisher.start, what="producer init", sleep=self.clock.sleep,
                        fatal=(PublishRefused,), stopping=self.closing)
        except PublishRefused as exc:
            await self.halt(str(exc), store=True)
            return  # resuming the halt resyncs, which completes the set-up
        committed = await self._fetch_committed()
        self._rewind(committed)
        try:
            await retry(lambda: self.store.check_progress(self.tp.topic, self.tp.partition, committed),
                        what="progress check", sleep=self.clock.sleep, retry_on=(RetryableStateError,),
                        stopping=self.closing, on_retry=self._state_failed)
        except PartitionHalted as exc:  # stored already: by the last owner, or by the check
            await self.halt(str(exc))
        self.state_failing = False

    async def _fetch_committed(self) -> int:
        async def fetch() -> int:
            committed = await self._consumer.committed(self.tp)
            if committed is None:
                committed = (await self._consumer.beginning_offsets([self.tp]))[self.tp]
            return committed
        return await retry(fetch, what="committed offset", sleep=self.clock.sleep,
                           stopping=self.closing)

    def _rewind(self, committed: int) -> None:
        """Continue from Kafka's committed offset: drop what it covers, seek if it is ahead."""
        self._commit.resynced(committed)
        if self._fetched_to is None or committed >= self._fetched_to:
            self._pending.clear()
            self._bytes = 0
            self._consumer.seek(self.tp, committed)
            self._fetched_to = committed
        self._drop_below(committed)
        self.set_up = True
        self._hold()

    def _drop_below(self, offset: int) -> None:
        while self._pending and self._pending[0][0].offset < offset:
            record, _ = self._pending.popleft()
            self._bytes -= len(record.value or b"")

    async def _commit_next(self) -> None:
        taken = list(self._pending)[: self.s.batch_max_records]
        try:
            with metrics.BATCH_SECONDS.time():
                await self._commit.commit([r for r, _ in taken])
        except Exception as exc:  # noqa: BLE001 - every error has a fate; none kills the task
            await self._meet(fate_of(exc), exc)
            return
        self._drop_below(self._commit.floor)
        self._hold()
        metrics.observe_batch_age(self.clock.now(), (ts for _, ts in taken))
        self.committed_ok()

    async def _meet(self, fate: Fate, exc: Exception) -> None:
        if fate is Fate.DROP:
            self.closing.set()
            self._hold()
            if isinstance(exc, PublisherFenced):
                self.fenced(str(exc))
        elif fate is Fate.HALT:
            if isinstance(exc, PublishRefused):
                metrics.PUBLISH_FAILURES.labels("refused").inc()
                await self.resync()  # a fresh producer aborts the failed transaction
            await self.halt(str(exc), store=isinstance(exc, PublishRefused))
        elif isinstance(exc, RetryablePublishError):
            await self.publish_failed(exc)
        else:
            await self.back_off(exc)

    async def resync(self) -> None:
        """After an unknown outcome: re-create the producer (fencing), re-fetch, continue there."""
        try:
            await retry(self.publisher.restart, what="producer restart", sleep=self.clock.sleep,
                        fatal=(PublishRefused,), stopping=self.closing)
        except PublishRefused as exc:
            await self.halt(str(exc), store=True)
            return
        self._rewind(await self._fetch_committed())

    async def sleep(self, seconds: float) -> None:
        await pause(self.clock.sleep, seconds, self.closing)
