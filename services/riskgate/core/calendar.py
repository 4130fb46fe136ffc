"""Trading-day boundaries: when the daily P&L resets, in a configured timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=256)
def _day_start(minute: int, boundary_s: float, tz_name: str) -> float:
    tz = ZoneInfo(tz_name)
    local = datetime.fromtimestamp(minute * 60, UTC).astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    start = (midnight.replace(tzinfo=None) + timedelta(seconds=boundary_s)).replace(tzinfo=tz)
    if start > local:
        start = ((midnight - timedelta(days=1)).replace(tzinfo=None)
                 + timedelta(seconds=boundary_s)).replace(tzinfo=tz)
    return start.timestamp()


def trading_day_start(now: float, boundary_s: float = 0.0, tz_name: str = "UTC") -> float:
    """Epoch seconds at which the trading day containing ``now`` began.

    The boundary is ``boundary_s`` seconds after local midnight in ``tz_name`` (wall clock,
    so 17:00 New York stays 17:00 across daylight-saving changes). Boundaries are taken to
    fall on whole minutes, which lets the answer be cached per minute.
    """
    key = (now // 60, boundary_s, tz_name)
    if key == _LAST[0]:
        return _LAST[1]
    start = _day_start(int(key[0]), float(boundary_s), tz_name)
    _LAST[:] = [key, start]
    return start


_LAST: list = [None, 0.0]  # the last answer: most calls fall in the same minute
