"""The meta-orchestrator's questions, answered from the indexed audit tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

# details: the stored record's, whatever its format: 2.0's compact ``details``, or 1.0's full
# ``details_json`` (in the payload, or in the column for rows older than migration 003).
_WHY = """
SELECT a.action_id, a.action_type, a.reason_codes, a."timestamp",
       p.body ->> 'schema_version' AS schema_version,
       coalesce(p.body -> 'details', a.details_json, p.body -> 'details_json') AS details,
       a.profile,
       a.config_version, a.snapshot_version, a.market_version, a.emergency_version,
       t.target_position, t.delta_position
  FROM risk_actions a LEFT JOIN target_positions t USING (action_id)
 CROSS JOIN LATERAL (SELECT convert_from(a.payload, 'UTF8')::jsonb AS body) p
 WHERE a.decision_id = $1
 ORDER BY a."timestamp", a.seq
"""

# risk_actions_strategy_time_type_idx serves the filter; reason codes are unnested per row.
_OVERRIDES = """
SELECT a.action_type, code AS reason, count(*) AS n
  FROM risk_actions a
  LEFT JOIN LATERAL unnest(a.reason_codes) AS code ON true
 WHERE a.strategy_id = $1 AND a."timestamp" >= $2 AND a."timestamp" < $3
   AND a.action_type <> 'OK'
 GROUP BY a.action_type, code
 ORDER BY n DESC, a.action_type, code
"""

_TOTAL = """
SELECT count(*) FROM risk_actions
 WHERE strategy_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 AND action_type <> 'DUPLICATE'
"""


async def why(conn: asyncpg.Connection, decision_id: str) -> list[dict[str, Any]]:
    """Every action taken on a decision, with its stored details (the binding verdicts in
    format 2.0) and the inputs' versions."""
    return [dict(r) for r in await conn.fetch(_WHY, decision_id)]


async def overrides(conn: asyncpg.Connection, strategy_id: str, since: datetime,
                    until: datetime) -> dict[str, Any]:
    """How often risk overrode a strategy in a window, by action type and reason code."""
    rows = await conn.fetch(_OVERRIDES, strategy_id, since, until)
    total = await conn.fetchval(_TOTAL, strategy_id, since, until)
    by_reason = [{"action_type": r["action_type"], "reason": r["reason"], "count": r["n"]} for r in rows]
    overridden = await conn.fetchval(
        _TOTAL.replace("<> 'DUPLICATE'", "NOT IN ('OK', 'DUPLICATE')"), strategy_id, since, until)
    return {"strategy_id": strategy_id, "since": since.isoformat(), "until": until.isoformat(),
            "decisions": total, "overridden": overridden, "by_reason": by_reason}
