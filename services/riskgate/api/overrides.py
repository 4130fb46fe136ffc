"""GET /v1/overrides: how often risk overrode a strategy, as risk.override_stats says it.

The answer comes from the topic the stats process writes (``riskgate stats``), never from
PostgreSQL, so comparing it with ``riskgate audit overrides`` compares two independent paths
(docs/override-stats.md). The route is mounted when a source of the statistics is among the
API's services (``riskgate.api.wiring`` adds ``TopicOverrideStats``).
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from riskgate.api.access import Access
from riskgate.api.auth import ApiKey
from riskgate.api.errors import ApiError, documented
from riskgate.api.routing import JsonBodyRoute
from riskgate.contracts.base import Id
from riskgate.contracts.outputs import WINDOW_MAX_S, OverrideCount, OverrideStats
from riskgate.errors import RetryableError


@runtime_checkable
class OverrideStatsSource(Protocol):
    """Where the route reads the statistics: a service of the API (started with it)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def windows(self, strategy_id: str, since: datetime, until: datetime,
                      window_size_s: int) -> list[OverrideStats]:
        """The highest revision of each window of that size within [since, until)."""
        ...


class OverridesAnswer(BaseModel):
    """The windows of one strategy and size, each at its highest revision, and their sums."""

    strategy_id: str
    window_size_s: int
    since: datetime
    until: datetime
    as_of: datetime = Field(description="When the topic was read.")
    complete: bool = Field(description="Every window is past its corrections_until: no revision "
                                       "can still change these numbers.")
    decisions: int = Field(description="Sum over the windows: actions but DUPLICATE.")
    overridden: int = Field(description="Sum over the windows: actions neither OK nor DUPLICATE.")
    counts: list[OverrideCount] = Field(description="Summed per action type and reason code.")
    windows: list[OverrideStats] = Field(description="As on risk.override_stats; windows with "
                                                     "no action have no record.")


STRATEGY = Query(description="The strategy_id of the risk actions.")
SINCE = Query(description="Windows starting at or after this instant (RFC 3339 with offset).")
UNTIL = Query(description="Windows ending at or before this instant; default now.")
WINDOW = Query(ge=1, le=WINDOW_MAX_S, description="Window size in seconds, one of the stats "
                                                  "process's RISKGATE_STATS_WINDOWS_S.")


def overrides_router(services: Iterable[object], access: Access,
                     clock: Callable[[], float] = time.time) -> APIRouter:
    """The route on the first ``OverrideStatsSource`` among ``services``; none: no route."""
    router = APIRouter(prefix="/v1", tags=["override statistics"], route_class=JsonBodyRoute)
    source = next((s for s in services if isinstance(s, OverrideStatsSource)), None)
    if source is None:
        return router
    reader = access.read()

    @router.get("/overrides", response_model=OverridesAnswer, responses=documented())
    async def overrides(strategy: Annotated[Id, STRATEGY], since: Annotated[AwareDatetime, SINCE],
                        _key: Annotated[ApiKey | None, Depends(reader)],
                        until: Annotated[AwareDatetime | None, UNTIL] = None,
                        window_s: Annotated[int, WINDOW] = 60) -> OverridesAnswer:
        """Override counts per tumbling UTC window from risk.override_stats (viewer)."""
        now = datetime.fromtimestamp(clock(), UTC)
        end = until or now
        if end <= since:
            raise ApiError(422, "INVALID_REQUEST", "until: must be after since")
        try:
            windows = await source.windows(strategy, since, end, window_s)
        except RetryableError as exc:
            raise ApiError(503, "STATS_UNAVAILABLE", str(exc)) from None
        return answer(strategy, window_s, since, end, now, windows)

    return router


def answer(strategy: str, window_s: int, since: datetime, until: datetime, now: datetime,
           windows: list[OverrideStats]) -> OverridesAnswer:
    """The windows and their sums."""
    summed: dict[tuple[str, str | None], int] = {}
    for window in windows:
        for c in window.counts:
            summed[(c.action_type, c.reason_code)] = summed.get(
                (c.action_type, c.reason_code), 0) + c.count
    counts = [OverrideCount(action_type=action, reason_code=code, count=n)
              for (action, code), n in sorted(summed.items(), key=lambda i: (i[0][0], i[0][1] or ""))]
    return OverridesAnswer(
        strategy_id=strategy, window_size_s=window_s, since=since, until=until, as_of=now,
        complete=all(w.corrections_until <= now for w in windows),
        decisions=sum(w.decisions for w in windows),
        overridden=sum(w.overridden for w in windows), counts=counts, windows=windows)
