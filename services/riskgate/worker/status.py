"""The worker's row in ``worker_status``: applied config version, owned partitions, heartbeat.

A background task, never on the decision path: a config apply only sets an event, and the
task upserts at once, and otherwise every ``heartbeat_s``. A failed upsert is logged and tried
again on the next beat; the worker goes on deciding (the writer's wait then names it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable

import asyncpg
import structlog

from riskgate import metrics
from riskgate.settings import Settings
from riskgate.store import worker_status as store

log = structlog.get_logger("riskgate.status")

#: Rows silent this long are deleted by the next worker that starts (killed, never back).
FORGET_AFTER_S = 86_400.0


def worker_identity(settings: Settings) -> tuple[str, str, int]:
    """(worker id, host, pid); the id is unique even for two workers in one process."""
    host, pid = socket.gethostname(), os.getpid()
    return settings.worker_id or f"{host}:{pid}:{uuid.uuid4().hex[:6]}", host, pid


class StatusReporter:
    """Upserts this worker's row until stopped; removes it on a clean stop."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, version: Callable[[], int],
                 partitions: Callable[[], set[int]]) -> None:
        self.s = settings
        self.worker_id, self.host, self.pid = worker_identity(settings)
        self._pool = pool
        self._version = version
        self._partitions = partitions
        self._poke = asyncio.Event()
        self._stop = asyncio.Event()

    def poke(self) -> None:
        """Report soon (a config version was applied, or the partitions changed)."""
        self._poke.set()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()

    async def run(self) -> None:
        with contextlib.suppress(Exception):
            async with self._pool.acquire() as conn:
                await store.forget_dead(conn, self.s.topics.config, FORGET_AFTER_S)
        while not self._stop.is_set():
            await self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=self.s.heartbeat_s)
            self._poke.clear()
        with contextlib.suppress(Exception):
            async with self._pool.acquire(timeout=2) as conn:
                await store.remove(conn, self.worker_id)

    async def _report(self) -> None:
        version = self._version()
        metrics.CONFIG_VERSION.labels(self.worker_id).set(version)
        try:
            async with self._pool.acquire(timeout=2) as conn:
                await store.upsert(conn, self.worker_id, self.s.group_id, self.s.topics.config,
                                   self.host, self.pid, version, sorted(self._partitions()),
                                   self.s.heartbeat_s)
        except Exception as exc:  # noqa: BLE001 - the database may be away; beat again later
            log.warning("worker_status_failed", worker_id=self.worker_id, error=str(exc))
