"""What a partition pipeline does when a batch fails: back off, halt, wait for a resume."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import RetryableStateError
from riskgate.settings import Settings
from riskgate.worker.lifecycle import Backoff
from riskgate.worker.ports import Clock, StateStore

log = structlog.get_logger("riskgate.worker")


class PartitionFaults:
    """The fault state of one partition pipeline; ``resync`` and ``sleep`` come from it."""

    def __init__(self, tp: TopicPartition, settings: Settings, store: StateStore, clock: Clock,
                 on_change: Callable[[Any], None]) -> None:
        self.tp, self.s, self.store, self.clock = tp, settings, store, clock
        self._on_change = on_change
        self.closing = asyncio.Event()
        self.halted: str | None = None
        self.dropped = False
        self.state_failing = False
        # When the current streak of failing publishes began (monotonic), and its backoff. A
        # streak longer than publish_halt_after_s halts the partition instead of spinning.
        self.failing_since: float | None = None
        self._publish_backoff = Backoff(initial=0.5, maximum=30.0)
        self._state_backoff = Backoff()
        self._unstored_halt: str | None = None

    async def resync(self) -> None:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    def committed_ok(self) -> None:
        self._state_backoff.reset()
        self.state_failing = False
        if self.failing_since is not None:
            self._publish_recovered()

    def _state_failed(self, exc: BaseException) -> None:
        self.state_failing = True

    async def back_off(self, exc: Exception) -> None:
        """A PostgreSQL fault, or a bug: keep the records, wait, try them again."""
        kind = "state" if isinstance(exc, RetryableStateError) else "unexpected"
        if kind == "unexpected":
            log.error("batch_failed", partition=self.tp.partition, exc_info=exc)
        else:
            self.state_failing = True
        delay = self._state_backoff.next()
        metrics.RETRIES.labels(kind).inc()
        log.warning("batch_retry", partition=self.tp.partition, kind=kind, delay_s=delay, error=str(exc))
        await self.sleep(delay)

    async def publish_failed(self, exc: Exception) -> None:
        """Resync, then back off exponentially; halt once the failure outlasts the bound."""
        metrics.PUBLISH_FAILURES.labels("retryable").inc()
        metrics.RETRIES.labels("publish").inc()
        clock = self.clock.monotonic
        since = self.failing_since if self.failing_since is not None else clock()
        self.failing_since = since
        metrics.PARTITION_STUCK.labels(str(self.tp.partition)).set(1)
        blocked_from = clock()
        await self.resync()
        if self.halted is not None or self.closing.is_set():
            return
        # Time spent waiting for the broker to come back is an outage, not a failing publish:
        # only failed attempts count towards publish_halt_after_s.
        since = self.failing_since = since + (clock() - blocked_from)
        failing_s, bound = clock() - since, self.s.publish_halt_after_s
        if failing_s >= bound:
            await self.halt(f"publishing has failed for {failing_s:.0f} s (publish_halt_after_s="
                            f"{bound:g}); last error: {exc}", store=True)
            return
        delay = self._publish_backoff.next()
        log.warning("publish_failed", partition=self.tp.partition, error=str(exc), delay_s=delay,
                    failing_s=round(failing_s, 1))
        await self.sleep(delay)

    def _publish_recovered(self) -> None:
        self.failing_since = None
        self._publish_backoff.reset()
        metrics.PARTITION_STUCK.labels(str(self.tp.partition)).set(0)

    def fenced(self, reason: str) -> None:
        """A newer owner fenced us: drop the partition instead of fencing it back (the loop
        takes it up again after fenced_recheck_s if the group still assigns it to us)."""
        metrics.RETRIES.labels("fenced").inc()
        log.error("partition_fenced", partition=self.tp.partition, reason=reason)
        self.dropped = True
        self._on_change(self)

    async def halt(self, reason: str, store: bool = False) -> None:
        """Stop deciding until an operator resumes; ``store`` writes the halt down so that the
        next owner after a rebalance stays halted too."""
        self.halted = reason
        metrics.PARTITION_HALTED.labels(str(self.tp.partition)).set(1)
        log.error("partition_halted", partition=self.tp.partition, reason=reason, alert=True)
        self._on_change(self)
        if store:
            self._unstored_halt = reason
            await self._store_halt()

    async def _store_halt(self) -> bool:
        reason = self._unstored_halt
        if reason is None:
            return True
        try:
            await self.store.halt(self.tp.topic, self.tp.partition, reason)
        except RetryableStateError as exc:  # kept, and stored on the next check
            log.warning("halt_not_stored", partition=self.tp.partition, error=str(exc))
            return False
        self._unstored_halt = None
        return True

    async def _wait_resumed(self) -> None:
        """Every halt_recheck_s: store the halt if it is not yet, and ask if it was lifted."""
        await self.sleep(self.s.halt_recheck_s)
        if self.closing.is_set() or not await self._store_halt():
            return
        try:
            still = await self.store.still_halted(self.tp.topic, [self.tp.partition])
        except RetryableStateError:
            return
        if self.tp.partition in still:
            return
        log.warning("partition_resumed", partition=self.tp.partition)
        self.halted = None
        self._publish_recovered()
        metrics.PARTITION_HALTED.labels(str(self.tp.partition)).set(0)
        self._on_change(self)
        await self.resync()
