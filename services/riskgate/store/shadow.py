"""PostgreSQL access for shadow records: written with the batch, summarised by the report.

Every function takes a connection inside the caller's transaction; none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class ShadowRow:
    source_topic: str
    source_partition: int
    source_offset: int
    action_id: str
    decision_id: str
    portfolio_id: str
    strategy_id: str
    ticker: str
    candidate: str
    live_action: str
    shadow_action: str
    differs: list[str]
    reason: str | None  # why they differ; None when they agree
    timestamp: Any  # datetime
    payload: bytes  # the exact record value published


_COLUMNS = tuple(ShadowRow.__dataclass_fields__)


async def write_shadows(conn: asyncpg.Connection, rows: Sequence[ShadowRow]) -> None:
    """Bulk-copy the batch's shadow rows (fresh offsets only, so none can already exist)."""
    if rows:
        await conn.copy_records_to_table(
            "shadow_records", records=[tuple(getattr(r, c) for c in _COLUMNS) for r in rows],
            columns=_COLUMNS)


@dataclass(frozen=True, slots=True)
class Transition:
    """How often the live action became ``shadow_action`` under the candidate, and why."""

    live_action: str
    shadow_action: str
    decisions: int
    differ: int
    reasons: dict[str, int]  # reason -> decisions, for those that differ


_TRANSITIONS = """
SELECT live_action, shadow_action, coalesce(reason, '') AS reason,
       count(*) AS decisions, count(*) FILTER (WHERE cardinality(differs) > 0) AS differ
  FROM shadow_records
 WHERE "timestamp" BETWEEN $1 AND $2
   AND (cardinality($3::text[]) = 0 OR portfolio_id = ANY($3::text[]))
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3
"""


async def transitions(conn: asyncpg.Connection, start: datetime, end: datetime,
                      portfolios: Sequence[str] = ()) -> list[Transition]:
    """Every live -> shadow transition stored in [start, end], most frequent first."""
    merged: dict[tuple[str, str], tuple[int, int, dict[str, int]]] = {}
    for r in await conn.fetch(_TRANSITIONS, start, end, list(portfolios)):
        key = (r["live_action"], r["shadow_action"])
        decisions, differ, reasons = merged.get(key, (0, 0, {}))
        if r["differ"]:
            reasons[r["reason"]] = r["differ"]
        merged[key] = (decisions + r["decisions"], differ + r["differ"], reasons)
    found = [Transition(live, shadow, n, d, reasons)
             for (live, shadow), (n, d, reasons) in merged.items()]
    return sorted(found, key=lambda t: (-t.decisions, t.live_action, t.shadow_action))
