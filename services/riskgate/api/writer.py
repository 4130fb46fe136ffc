"""The control plane's ``ConfigWriter`` inside the API process, started in the background.

The real writer needs the database, the broker and a valid ``risk.config`` (one partition)
before it can write. The API must start, and read, without them, so ``StartedWriter`` starts
the writer with backoff and, until it has, answers every write 503 saying why. Once started
it hands each call to the writer; an unreachable database or broker during a write is a 503
too (the writer publishes nothing then).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka.errors import KafkaError

from riskgate.api.errors import ApiError
from riskgate.control.model import Actor, ConfigChange, ConfigTopicInvalid, WriteResult
from riskgate.control.writer import ConfigWriter
from riskgate.store.connect import DB_FAULTS
from riskgate.worker.lifecycle import Backoff

log = structlog.get_logger("riskgate.api")

#: What an unreachable database or broker raises out of the writer.
UNREACHABLE = (*DB_FAULTS, KafkaError)


class StartedWriter:
    """A ``ConfigWriter`` port over the real writer, once it has started."""

    def __init__(self, writer: ConfigWriter) -> None:
        self._writer = writer
        self._started = False
        self._why = "starting (database, broker and risk.config not checked yet)"
        self._task: asyncio.Task | None = None

    @property
    def status(self) -> str:
        return "available" if self._started else f"unavailable: {self._why}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_starting(), name="api-config-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(*UNREACHABLE):
            await self._writer.close()

    async def _keep_starting(self) -> None:
        delay = Backoff(maximum=10.0)
        while not self._started:
            try:
                await self._writer.start()
                self._started = True
                log.info("api_config_writer_started")
            except (ConfigTopicInvalid, *UNREACHABLE) as exc:
                self._why = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(*UNREACHABLE):
                    await self._writer.close()
                wait = delay.next()
                log.warning("api_config_writer_retry", error=self._why, delay_s=wait)
                await asyncio.sleep(wait)

    def _ready(self) -> ConfigWriter:
        if not self._started:
            raise ApiError(503, "WRITER_UNAVAILABLE",
                           f"config writer unavailable ({self._why}); nothing was published")
        return self._writer

    async def submit(self, change: ConfigChange, actor: Actor, *, wait_s: float | None = None
                     ) -> WriteResult:
        writer = self._ready()
        try:
            return await writer.submit(change, actor, wait_s=wait_s)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from None

    async def approve(self, change_id: str, actor: Actor, *, wait_s: float | None = None
                      ) -> WriteResult:
        writer = self._ready()
        try:
            return await writer.approve(change_id, actor, wait_s=wait_s)
        except UNREACHABLE as exc:
            raise _unreachable(exc) from None


def _unreachable(exc: Exception) -> ApiError:
    log.warning("api_config_write_failed", error=f"{type(exc).__name__}: {exc}")
    return ApiError(503, "WRITER_UNAVAILABLE",
                    f"the config store or broker did not answer ({type(exc).__name__}); the "
                    "writer publishes nothing then, but a wait may have been cut short: check "
                    "GET /api/v2/policy/risk-profile before retrying")
