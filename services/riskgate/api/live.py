"""The live inputs the API follows: market data, config and emergency state, as a worker does.

The API runs the worker's ``CompactedReader`` over the same compacted topics into the same
``GlobalState``, so a what-if or a risk read sees the profile, limits, trading states,
emergency level and market data that the gate enforces. It is caught up (and ``/ready``) once
every partition has been read to the end offset it had at start. It writes nothing: the
workers keep the histories.

While the broker is away the reader is started again with backoff; until it has caught up
the routes that need live inputs answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog
from aiokafka.errors import KafkaError

from riskgate.api.errors import ApiError
from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import BlackSwanState, MarketMetrics, RiskConfigEvent
from riskgate.core import LimitsError
from riskgate.settings import Settings
from riskgate.worker import codec
from riskgate.worker.globals import GlobalState
from riskgate.worker.inputs import CompactedReader
from riskgate.worker.lifecycle import Backoff

log = structlog.get_logger("riskgate.api")


class LiveView(Protocol):
    """What the routes read: the world as the workers see it, and whether it is complete."""

    world: GlobalState

    def caught_up(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def world_for(settings: Settings) -> GlobalState:
    """An empty world with the worker's staleness and time-to-live settings."""
    s = settings
    return GlobalState(
        snapshot_ttl_s=s.snapshot_ttl_s, max_decision_age_s=s.max_decision_age_s,
        max_snapshot_age_s=s.max_snapshot_age_s, max_price_age_s=s.max_price_age_s,
        max_emergency_age_s=s.max_emergency_age_s)


class LiveInputs:
    """The compacted inputs followed from the broker into ``world``."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.world = world_for(settings)
        self._reader: CompactedReader | None = None
        self._task: asyncio.Task | None = None

    def caught_up(self) -> bool:
        reader = self._reader
        return reader is not None and reader.caught_up.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="api-live-inputs")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _follow(self) -> None:
        """Start the reader and run it; after any failure, start a new one (re-reading from the
        start is harmless: every apply is monotonic by version)."""
        delay = Backoff(maximum=5.0)
        t = self.s.topics
        while True:
            reader = CompactedReader(self.s, {
                t.market: self._on_market, t.config: self._on_config,
                t.black_swan: self._on_emergency})
            try:
                await reader.start()
                self._reader = reader
                delay.reset()
                await reader.run()
                return
            except (KafkaError, OSError, RuntimeError) as exc:
                self._reader = None
                wait = delay.next()
                log.warning("api_live_inputs_retry", error=str(exc), delay_s=wait)
                await asyncio.sleep(wait)

    async def _on_market(self, key: bytes | None, value: bytes | None) -> None:
        message = decode(MarketMetrics, value, max_bytes=self.s.max_message_bytes)
        self.world.apply_market(codec.market(message))

    async def _on_config(self, key: bytes | None, value: bytes | None) -> None:
        message = decode(RiskConfigEvent, value, max_bytes=self.s.max_message_bytes)
        try:
            self.world.config.apply(*codec.config_change(message))
        except (LimitsError, ValueError) as exc:  # the worker refuses it too and keeps the last
            log.warning("api_config_refused", version=message.version, error=str(exc))

    async def _on_emergency(self, key: bytes | None, value: bytes | None) -> None:
        m = decode(BlackSwanState, value, max_bytes=self.s.max_message_bytes)
        if m.scope == "global":
            self.world.emergency = codec.after_emergency(self.world.emergency, m)


def live_world(view: LiveView) -> GlobalState:
    """The live world, or 503 while the inputs are still being read to their end."""
    if not view.caught_up():
        raise ApiError(503, "NOT_CAUGHT_UP",
                       "the API is still reading the live inputs (market, config, emergency) "
                       "to their end; retry when /ready says ready")
    return view.world


def global_profile(world: GlobalState) -> str:
    """The profile of the global scope (NORMAL where none was set)."""
    return world.config.profile.get(("GLOBAL", ""), DEFAULT_PROFILE)


DEFAULT_PROFILE = "NORMAL"
