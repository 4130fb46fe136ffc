"""Wire the worker: database pool, global inputs, decision loop, probes, signals."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from riskgate import metrics
from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import (
    BlackSwanState,
    MarketMetrics,
    PortfolioSnapshot,
    RiskConfigEvent,
)
from riskgate.core import EmergencyLevel
from riskgate.errors import ConfigTopicInvalid, RetryableStateError
from riskgate.kafka.clients import kafka_producer
from riskgate.kafka.limits import OutputLimits, TopicConfigError, output_limits, read_topic_limits
from riskgate.settings import Settings
from riskgate.store import history
from riskgate.store import state as db
from riskgate.store.connect import DB_FAULTS
from riskgate.store.migrate import migrate
from riskgate.worker import codec
from riskgate.worker.access import AccessRefused, check_kafka, open_pool
from riskgate.worker.app import DecisionLoop
from riskgate.worker.bootstrap import bootstrap
from riskgate.worker.control import check_config_topic, show_profiles
from riskgate.worker.emergency import issue_forced_derisk
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.health import HealthServer
from riskgate.worker.inputs import CompactedReader
from riskgate.worker.lifecycle import Backoff, install_signal_handlers
from riskgate.worker.ports import SystemClock
from riskgate.worker.retry import Stopped, retry
from riskgate.worker.shadow import Shadow, ShadowConfigError, shadow_for
from riskgate.worker.status import StatusReporter

log = structlog.get_logger("riskgate.service")
T = TypeVar("T")


class _StopRequested(Exception):
    """A stop was requested while start-up was still waiting for this step."""


class WorkerService:
    """One worker process. ``run`` returns after SIGTERM once the batch in flight is committed."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.s = settings
        self.clock = clock
        self.world = GlobalState(
            snapshot_ttl_s=settings.snapshot_ttl_s, max_decision_age_s=settings.max_decision_age_s,
            max_snapshot_age_s=settings.max_snapshot_age_s, max_price_age_s=settings.max_price_age_s,
            max_emergency_age_s=settings.max_emergency_age_s,
        )
        self.pool: asyncpg.Pool | None = None
        self.loop: DecisionLoop | None = None
        self.reader: CompactedReader | None = None
        self.limits: OutputLimits | None = None
        self._producer: AIOKafkaProducer | None = None
        self.shadow: Shadow | None = None
        self.status: StatusReporter | None = None
        self._stopping = asyncio.Event()
        self._db_ok = True
        self._emitted: set[str] = set()  # forced de-risk commands this process wrote

    def ready(self) -> bool:
        return bool(self.readiness()["ready"])

    def readiness(self) -> dict[str, Any]:
        """The /ready body: not ready while starting, stopping, without PostgreSQL, or while any
        owned partition is halted or stuck publishing (named, so an operator knows which)."""
        loop = self.loop
        halted = loop.halted if loop is not None else []
        stuck = loop.stuck if loop is not None else []
        up = bool(self.reader and self.reader.caught_up.is_set() and loop and loop.state_ok
                  and self._db_ok and not self._stopping.is_set())
        return {"ready": up and not halted and not stuck, "halted": halted, "stuck": stuck}

    async def _watch_database(self) -> None:
        """Readiness follows PostgreSQL even when no batch is in flight to notice an outage."""
        while not self._stopping.is_set():
            try:
                assert self.pool is not None
                async with self.pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1", timeout=2)
                self._db_ok = True
            except Exception:  # noqa: BLE001 - any failure means not ready
                self._db_ok = False
            await asyncio.sleep(1.0)

    def request_stop(self) -> None:
        self._stopping.set()
        if self.loop is not None:
            self.loop.request_stop()
        if self.reader is not None:
            self.reader.stop()

    async def run(self, install_signals: bool = True) -> None:
        s = self.s
        try:
            self.shadow = shadow_for(s)
        except ShadowConfigError as exc:  # a setting to fix: one line, exit 2, nothing started
            print(f"riskgate worker: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        if install_signals:
            install_signal_handlers(self.request_stop)
        health = HealthServer(s.http_port, self.readiness, lambda: not self._stopping.is_set())
        if s.http_port:
            await health.start()
        # The broker or the database may be restarting: start-up waits for them, it never dies,
        # but a stop request ends it at once with what was started so far closed.
        try:
            # Credentials, certificates and ACLs first: a refusal is a deployment error, named
            # in one line before anything is read (riskgate.worker.access).
            self.pool = await self._retry("database", lambda: open_pool(
                s, min_size=1, max_size=s.partitions + 4, init=db.init_connection,
                command_timeout=30))
            await self._retry("kafka access", lambda: check_kafka(s))
            await self._retry("migrations", self._migrate)
            self.limits = await self._retry("output topic limits", self._read_limits)
            self._producer = await self._retry("producer", self._start_producer)
            await self._retry("config topic", lambda: check_config_topic(s))
            self.reader = await self._retry("compacted inputs", self._start_reader)
        except _StopRequested as stop:
            log.info("worker_stopped_during_startup", step=str(stop))
            await self._close_partial_startup(health)
            return
        except (ConfigTopicInvalid, AccessRefused) as exc:  # a deployment to fix: one line, exit 2
            await self._close_partial_startup(health)
            print(f"riskgate worker: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        self.status = StatusReporter(s, self.pool, lambda: self.world.config.version,
                                     self._owned_partitions)
        reader_task = asyncio.create_task(self.reader.run(), name="compacted-reader")
        watcher = asyncio.create_task(self._watch_database(), name="database-watch")
        reporter = asyncio.create_task(self.status.run(), name="worker-status")
        try:
            await self._wait_caught_up(reader_task)
            handler = DecisionHandler(s, self.world, partition_count=self._partition_count,
                                      limits=self.limits, shadow=self.shadow)
            self.loop = bootstrap(s, self.pool, handler, SystemClock(self.clock),
                                  limits=self.limits, on_assigned=self._on_assigned)
            if self._stopping.is_set():
                return
            # Both read at every scrape: readiness as /ready says it (halts, PostgreSQL,
            # stopping), and the emergency level held now.
            metrics.READY.set_function(lambda: float(self.ready()))
            metrics.EMERGENCY_LEVEL.set_function(
                lambda: metrics.EMERGENCY_LEVELS[self.world.emergency_in_force().level.value])
            log.info("worker_ready", group=s.group_id)
            await self.loop.run()
        finally:
            metrics.READY.set_function(lambda: 0.0)
            self.reader.stop()  # type: ignore[union-attr]
            reader_task.cancel()
            watcher.cancel()
            self.status.stop()  # removes this worker's row on the way out
            await asyncio.gather(reader_task, watcher, reporter, return_exceptions=True)
            await self._producer.stop()
            await health.stop()
            await self.pool.close()

    async def _retry(self, what: str, start):
        """``start()`` until it succeeds; raise _StopRequested once a stop is requested, even
        in the middle of an attempt or of the backoff."""
        try:
            return await retry(lambda: self._unless_stopped(what, start()), what=what,
                               sleep=asyncio.sleep, backoff=Backoff(maximum=5.0),
                               retry_on=(*DB_FAULTS, KafkaError), stopping=self._stopping,
                               event="startup_retry")
        except Stopped:
            raise _StopRequested(what) from None

    async def _unless_stopped(self, what: str, attempt: Awaitable[T]) -> T:
        """The attempt's result, or _StopRequested (the attempt cancelled) if a stop comes first."""
        task = asyncio.ensure_future(attempt)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.cancelled():
            raise _StopRequested(what)
        return task.result()

    async def _close_partial_startup(self, health: HealthServer) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self.pool is not None:
            await self.pool.close()
        await health.stop()

    async def _read_limits(self) -> OutputLimits:
        t = self.s.topics
        names = [t.actions, t.targets, t.dlq] + ([t.shadow] if self.shadow is not None else [])
        try:
            limits = output_limits(await read_topic_limits(self.s, names), t.dlq,
                                   self.s.publish_max_request_bytes)
        except TopicConfigError as exc:  # topics not created yet: wait for `riskgate topics create`
            raise KafkaError(str(exc)) from exc
        limits.check()
        log.info("output_limits", dlq_bytes=limits.dlq_bytes, batch_bytes=limits.batch_bytes)
        return limits

    async def _migrate(self) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await migrate(conn)

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = kafka_producer(self.s, enable_idempotence=True)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _start_reader(self) -> CompactedReader:
        s = self.s
        reader = CompactedReader(s, {
            s.topics.market: self._on_market, s.topics.black_swan: self._on_emergency,
            s.topics.config: self._on_config, s.topics.snapshots: self._on_snapshot,
        })
        await reader.start()
        return reader

    async def _wait_caught_up(self, reader_task: asyncio.Task) -> None:
        assert self.reader is not None
        waiter = asyncio.create_task(self.reader.caught_up.wait())
        stopper = asyncio.create_task(self._stopping.wait())
        done, pending = await asyncio.wait({waiter, stopper, reader_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending - {reader_task}:
            task.cancel()
        if reader_task in done:
            reader_task.result()  # re-raise why the reader died

    # ----- compacted inputs -------------------------------------------------------------

    async def _on_market(self, key: bytes | None, value: bytes | None) -> None:
        message = decode(MarketMetrics, value, max_bytes=self.s.max_message_bytes)
        data = codec.market(message)
        if not self.world.is_new_market(data):
            return
        # History first: a version is used only once it is on record (docs/replay.md).
        await self._store(history.record_market, self.s.topics.market, data.ticker, data.version, value)
        self.world.apply_market(data)

    async def _on_config(self, key: bytes | None, value: bytes | None) -> None:
        message = decode(RiskConfigEvent, value, max_bytes=self.s.max_message_bytes)
        change = codec.config_change(message)
        # History first, with the verdict of a trial apply; then the apply itself.
        error = self.world.config.trial(*change)
        await self._store(db.record_config, self.s.topics.config, message.version, message.record_key(), message.scope.value,
                          message.scope_id, error is None, error, value or b"{}")
        if error is not None:
            metrics.CONFIG_REFUSED.inc()
            log.error("config_refused", version=message.version, error=error,
                      in_force=self.world.config.version)
            return
        before = self.world.emergency_in_force()
        self.world.config.apply(*change)
        show_profiles(self.world.config.profile)
        if self.status is not None:
            self.status.poke()
        after = self.world.emergency_in_force()
        if after is not before:
            log.warning("emergency_rearmed", event_id=before.event_id, level=after.level.value,
                        config_version=message.version)

    async def _on_snapshot(self, key: bytes | None, value: bytes | None) -> None:
        f = codec.snapshot(decode(PortfolioSnapshot, value, max_bytes=self.s.max_message_bytes))
        self.world.portfolios.add(f.portfolio_id)
        await self._store(db.upsert_snapshot, f.portfolio_id, f.version, f.as_of, f.equity, f.nav,
                          f.pnl_today, f.peak_equity, f.positions, f.reflects, value)

    async def _on_emergency(self, key: bytes | None, value: bytes | None) -> None:
        m = decode(BlackSwanState, value, max_bytes=self.s.max_message_bytes)
        if m.scope != "global":
            return
        before = self.world.emergency_in_force()
        held = codec.after_emergency(self.world.emergency, m)
        await self._store(db.record_emergency, self.s.topics.black_swan, m.event_id, m.version, m.level.value,
                          value or b"{}")
        self.world.emergency = held
        after = self.world.emergency_in_force()  # a re-arm on risk.config may release it
        if after.level is EmergencyLevel.EMERGENCY and after.event_id != before.event_id:
            await self._derisk(self._owned_partitions())

    async def _on_assigned(self, partitions: set[int]) -> None:
        if self.status is not None:
            self.status.poke()
        if self.world.emergency_in_force().level is EmergencyLevel.EMERGENCY and partitions:
            await self._derisk(partitions)

    async def _derisk(self, partitions: set[int]) -> None:
        em = self.world.emergency_in_force()
        if not partitions or self.pool is None or self._producer is None or em.event_id is None:
            return
        await issue_forced_derisk(self.pool, self._producer, self.s.topics.proposed,
                                  sorted(self.world.portfolios), partitions,
                                  self._partition_count(self.s.topics.proposed) or self.s.partitions,
                                  em.event_id, em.gross_cut_pct, em.as_of or 0.0,
                                  self._emitted)

    def _partition_count(self, topic: str) -> int | None:
        return self.loop.partition_count(topic) if self.loop is not None else None

    def _owned_partitions(self) -> set[int]:
        return {tp.partition for tp in self.loop.owned} if self.loop is not None else set()

    async def _store(self, fn, *args) -> None:
        assert self.pool is not None
        try:
            async with self.pool.acquire() as conn:
                await fn(conn, *args)
        except DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc
