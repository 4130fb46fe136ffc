"""``riskgate audit why D``: the full per-constraint trace of one decision, by replaying it.

The trace comes from the replay, not from the stored record, so it is complete whatever the
stored action carries (the compact audit record keeps only the binding verdicts). The stored
rows are shown beside it, with the replay's verdict on them.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from riskgate.records import OutRecord
from riskgate.replay.run import ReplayInputError, replay_window
from riskgate.settings import Settings
from riskgate.store.audit import why as stored_why


async def why(conn: asyncpg.Connection, settings: Settings, decision_id: str) -> dict[str, Any]:
    """The stored actions of ``decision_id``, and each replayed leg with its every verdict."""
    stored = await stored_why(conn, decision_id)
    if not stored:
        return {"decision_id": decision_id, "stored": [], "replay": "not found"}
    where = await conn.fetchrow(
        'SELECT portfolio_id, "timestamp" FROM risk_actions WHERE decision_id = $1 '
        'ORDER BY "timestamp", seq LIMIT 1', decision_id)
    kept: list[OutRecord] = []

    async def keep(records: list[OutRecord]) -> None:
        kept.extend(records)

    at = where["timestamp"]
    try:
        report = await replay_window(conn, settings, at, at, [where["portfolio_id"]], (),
                                     sink=keep)
    except ReplayInputError as exc:
        return {"decision_id": decision_id, "stored": stored, "replay": "unreplayable",
                "reason": str(exc)}
    finding = next((v for v in report.verdicts if v.decision_id == decision_id), None)
    replayed = [_leg(r, settings) for r in kept if _decision(r) == decision_id]
    return {
        "decision_id": decision_id, "portfolio_id": where["portfolio_id"],
        "replay": finding.status if finding else "identical",
        "reason": finding.reason if finding else None,
        "differences": [{"field": d.field, "stored": d.stored, "replayed": d.replayed}
                        for d in (finding.differences if finding else ())],
        "replayed": [leg for leg in replayed if leg is not None], "stored": stored,
    }


def _decision(record: OutRecord) -> str | None:
    return orjson.loads(record.value).get("decision_id")


def _leg(record: OutRecord, settings: Settings) -> dict[str, Any] | None:
    """A replayed action with its full trace (targets are folded into ``stored``): the
    replayed leg's ``Outcome.details``, which the published compact record leaves out."""
    if record.topic != settings.topics.actions:
        return None
    a = orjson.loads(record.value)
    trace = getattr(record, "trace", None)  # worker.outputs.TracedAction
    details = trace() if trace is not None else {}
    return {"action_id": a["action_id"], "action_type": a["action_type"],
            "reason_codes": a["reason_codes"], "summary": a["risk_reasoning_summary"],
            "ticker": a["ticker"], "verdicts": details.get("verdicts", []),
            "market": details.get("market"), "limits": details.get("limits"),
            "current_position": details.get("current_position"),
            "approved_position": a.get("approved_position"),
            "max_passing_position": a.get("max_passing_position")}
