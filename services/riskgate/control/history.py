"""``riskgate config history``: every config version with who, when, why and what changed.

The writer's own rows (``config_writes``) are there as soon as a write is published, whether or
not a worker runs; records that reached the topic some other way are listed from the workers'
history (``risk_configs``), with what their payload says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from riskgate.control.model import parse_scope
from riskgate.control.scopes import diff
from riskgate.store import config_writes as store


def record_key(scope: str) -> str:
    """``global``, ``strategy:ID``, ``portfolio:ID`` or ``rearm:EVENT`` as its record key."""
    if scope.lower().startswith("rearm:") and len(scope) > len("rearm:"):
        return "rearm:" + scope[len("rearm:"):]
    kind, ident = parse_scope(scope)
    return "global" if ident is None else f"{kind.value.lower()}:{ident}"


async def history(conn: asyncpg.Connection, topic: str, scope: str | None = None,
                  since: datetime | None = None) -> list[dict[str, Any]]:
    """Entries oldest first; ``applied`` is the workers' verdict (None: no worker read it yet)."""
    key = record_key(scope) if scope else None
    entries = [_written(r) for r in await store.writes(conn, topic, key, since)]
    entries += [_unwritten(r) for r in await store.unwritten(conn, topic, key, since)]
    return sorted(entries, key=lambda e: e["version"])


def _written(r: dict[str, Any]) -> dict[str, Any]:
    return {"version": r["version"], "at": r["written_at"], "scope": r["key"],
            "by": r["actor"], "role": r["role"], "authenticated": r["authenticated"],
            "via": r["via"], "reason": r["reason"], "approved_by": r["approved_by"],
            "change_id": r["change_id"], "diff": diff(r["previous"], r["new"]),
            "applied": r["accepted"], "error": r["error"]}


def _unwritten(r: dict[str, Any]) -> dict[str, Any]:
    body = orjson.loads(r["payload"])
    return {"version": r["version"], "at": r["received_at"], "scope": r["key"],
            "by": body.get("updated_by"), "role": None,
            "authenticated": bool(body.get("authenticated")), "via": "topic",
            "reason": body.get("reason"), "approved_by": body.get("approved_by"),
            "change_id": None, "diff": _parts(body), "applied": r["accepted"],
            "error": r["error"]}


def _parts(body: dict[str, Any]) -> list[str]:
    """What a record not written by the control plane sets (merged unless full_state)."""
    how = "replaced with" if body.get("full_state") else "set to"
    out = [f"{name} {how} {body[name]}" for name in ("profile", "trading_state") if body.get(name)]
    out += [f"limits.{k} {how} {v!r}" for k, v in sorted((body.get("limits") or {}).items())]
    if body.get("rearm_event_id"):
        out.append(f"re-arm for {body['rearm_event_id']}")
    return out


def lines(entries: list[dict[str, Any]]) -> list[str]:
    """The text form: one header line per version, its changes indented below it."""
    out = []
    for e in entries:
        who = e["by"] or "(unknown)"
        trust = "authenticated" if e["authenticated"] else "unauthenticated"
        approved = f", approved by {e['approved_by']}" if e["approved_by"] else ""
        state = {True: "applied", False: f"refused by workers: {e['error']}",
                 None: "not yet read by a worker"}[e["applied"]]
        at = e["at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(f"v{e['version']}  {at}  {e['scope']}  {who} ({trust}, {e['via']}{approved})"
                   f"  reason: {e['reason'] or '(none)'}  [{state}]")
        out += [f"    {line}" for line in e["diff"]] or ["    (no change)"]
    return out
