"""``riskgate config show``: gather the config in force, the workers and the proposals, and
render them as text or JSON. Reads only."""

from __future__ import annotations

from typing import Any

import asyncpg

from riskgate.control.effective import effective
from riskgate.control.rebuild import rebuild_config, rebuild_emergency
from riskgate.settings import Settings
from riskgate.store import config_writes as store
from riskgate.store import worker_status
from riskgate.worker.globals import in_force


async def gather(conn: asyncpg.Connection, settings: Settings, portfolio_id: str = "",
                 strategy_id: str = "") -> dict[str, Any]:
    """Everything ``show`` prints, as JSON-ready values."""
    rebuilt = await rebuild_config(conn, settings)
    view = effective(rebuilt.book, await rebuild_emergency(conn, settings), portfolio_id,
                     strategy_id).as_dict()
    workers = await worker_status.live(conn, settings.topics.config)
    view["workers"] = [{"worker_id": w.worker_id, "host": w.host, "pid": w.pid,
                        "config_version": w.config_version, "partitions": list(w.partitions),
                        "heartbeat_age_s": round(w.age_s, 1)} for w in workers]
    view["pending_proposals"] = [
        {"change_id": p["change_id"], "by": p["actor"], "change": p["change"],
         "expires_at": p["expires_at"].isoformat()}
        for p in await store.pending_proposals(conn, settings.topics.config)]
    view["config_topic"] = settings.topics.config
    return view


async def emergency_line(conn: asyncpg.Connection, settings: Settings) -> str:
    """The emergency state in force now, as the workers derive it, in one line."""
    rebuilt = await rebuild_config(conn, settings)
    raw = await rebuild_emergency(conn, settings)
    em = in_force(raw, rebuilt.book.rearms)
    if em is raw and raw.released is not None:
        return (f"emergency in force: EMERGENCY, held for event {raw.event_id} (the engine says "
                f"{raw.released.level.value}; no re-arm names {raw.event_id})")
    return f"emergency in force: {em.level.value} (version {em.version}, event {em.event_id or '-'})"


def lines(view: dict[str, Any]) -> list[str]:
    who = ", ".join(f"{k} {v}" for k, v in (("portfolio", view["portfolio_id"]),
                                            ("strategy", view["strategy_id"])) if v)
    em = view["emergency"]
    held = (f" (held: the engine says {em['engine_level']}; needs `riskgate config rearm "
            f"--event {em['event_id']}`)" if em["held_for_rearm"] else "")
    states = ", ".join(f"{k} {v}" for k, v in view["trading_states"].items())
    out = [f"config version {view['config_version']} on {view['config_topic']}"
           f"{' for ' + who if who else ' (global scope)'}",
           f"profile: {view['profile']} (from {view['profile_from']})",
           f"trading state: {view['trading_state']} ({states})",
           f"emergency: {em['level']} (version {em['version']}, event {em['event_id'] or '-'})"
           f"{held}", "", f"{'limit':<26} {'value':<22} from"]
    for name, line in view["limits"].items():
        source = line["from"]
        if "before_emergency" in line:
            source += f" (was {_value(line['before_emergency'])})"
        out.append(f"{name:<26} {_value(line['value']):<22} {source}")
    regime = view["regime_multipliers"]
    multipliers = ", ".join(f"{r} x{m:g}" for r, m in regime["by_regime"].items())
    out += ["", f"regime multipliers ({regime['note']}; on {', '.join(regime['applies_to'])}): "
                f"{multipliers}", "", "live workers:"]
    out += [f"  {w['worker_id']}  config version {w['config_version']}  partitions "
            f"{','.join(map(str, w['partitions'])) or '-'}  heartbeat {w['heartbeat_age_s']} s ago"
            for w in view["workers"]] or ["  none"]
    if view["pending_proposals"]:
        out += ["", "pending proposals (four-eyes):"]
        out += [f"  {p['change_id']}  by {p['by']}  expires {p['expires_at']}  "
                f"{_change(p['change'])}" for p in view["pending_proposals"]]
    return out


def _value(value: Any) -> str:
    if value is None:
        return "none (no cap)"
    if isinstance(value, dict | list):
        return str(value) if value else "-"
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def _change(change: dict[str, Any]) -> str:
    parts = [f"{k}={change[k]}" for k in ("scope", "profile", "limits", "unset", "trading_state",
                                          "rearm_event_id") if change.get(k)]
    return " ".join(parts) + f" reason={change.get('reason')!r}"
