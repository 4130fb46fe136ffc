"""The one retry loop of the worker: try, back off exponentially, try again, until a stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from riskgate.worker.lifecycle import Backoff

log = structlog.get_logger("riskgate.worker")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Stopped(Exception):
    """A stop was requested before the attempt succeeded."""


async def pause(sleep: Sleep, seconds: float, stopping: asyncio.Event | None) -> None:
    """Sleep ``seconds`` with ``sleep``, or less when ``stopping`` is set meanwhile."""
    if stopping is None:
        await sleep(seconds)
        return
    nap = asyncio.ensure_future(sleep(seconds))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({nap, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (nap, stop):
            task.cancel()
        await asyncio.gather(nap, stop, return_exceptions=True)


async def retry(attempt: Callable[[], Awaitable[T]], *, what: str, sleep: Sleep,
                backoff: Backoff | None = None,
                retry_on: tuple[type[BaseException], ...] = (Exception,),
                fatal: tuple[type[BaseException], ...] = (),
                stopping: asyncio.Event | None = None,
                on_retry: Callable[[BaseException], None] | None = None,
                event: str = "retry") -> T:
    """``attempt()`` until it succeeds. An error in ``retry_on`` (and not in ``fatal``) is
    logged (as ``event``) and retried after the next ``backoff`` delay; any other propagates. Raises Stopped
    once ``stopping`` is set (checked before each attempt and during each delay)."""
    delay = backoff if backoff is not None else Backoff()
    while stopping is None or not stopping.is_set():
        try:
            return await attempt()
        except fatal:
            raise
        except retry_on as exc:
            if on_retry is not None:
                on_retry(exc)
            wait = delay.next()
            log.warning(event, step=what, error=str(exc), delay_s=wait)
            await pause(sleep, wait, stopping)
    raise Stopped(what)
