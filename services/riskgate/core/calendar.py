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
    fall on whole minutes.
    """
    global _LAST
    last = _LAST  # one tuple, swapped whole, so a reader never sees half an update
    if last[0] <= now < last[1] and last[2] == boundary_s and last[3] == tz_name:
        return last[0]  # the common case: the same trading day as the previous call
    start = _day_start(int(now // 60), float(boundary_s), tz_name)
    # Days last 23 to 25 hours, so 25 hours after this start lies in the next trading day.
    end = _day_start(int((start + 25 * 3600) // 60), float(boundary_s), tz_name)
    _LAST = (start, end, boundary_s, tz_name)
    return start


_LAST: tuple = (0.0, 0.0, None, None)  # (day start, next day start, boundary, tz)
