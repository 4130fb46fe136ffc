"""Deterministic wire payloads for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

T0 = 1_790_000_000.0  # a fixed instant used where the test injects the clock


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def proposal(decision_id: str, portfolio_id: str, ticker: str, *, qty: float | None = 10.0,
             weight: float | None = None, created_at: float, strategy_id: str = "S1",
             confidence: float = 0.9, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": "1.0", "decision_id": decision_id, "strategy_id": strategy_id,
        "portfolio_id": portfolio_id, "ticker": ticker, "confidence": confidence,
        "created_at": iso(created_at),
    }
    if qty is not None:
        body["target_quantity"] = qty
    if weight is not None:
        body["target_weight"] = weight
    body.update(extra)
    return body


def snapshot(portfolio_id: str, *, as_of: float, equity: float = 1_000_000.0, version: int = 1,
             positions: dict[str, float] | None = None, pnl_today: float = 0.0) -> dict[str, Any]:
    return {
        "schema_version": "1.0", "portfolio_id": portfolio_id, "version": version,
        "as_of": iso(as_of), "equity": equity, "pnl_today": pnl_today, "peak_equity": equity,
        "positions": [{"ticker": t, "quantity": q} for t, q in (positions or {}).items()],
    }


def market(ticker: str, *, as_of: float, price: float = 100.0, version: int = 1,
           sector: str = "TECH", adv: float = 5_000_000.0, **extra: Any) -> dict[str, Any]:
    body = {
        "schema_version": "1.0", "ticker": ticker, "version": version, "as_of": iso(as_of),
        "price": price, "adv": adv, "spread_bps": 2.0, "atr": price * 0.02, "volatility": 0.015,
        "sector": sector, "country": "US", "cluster": f"C-{sector}",
    }
    body.update(extra)
    return body


def emergency(event_id: str, level: str, *, version: int, as_of: float, rearm: bool = False,
              cut: float = 0.5) -> dict[str, Any]:
    return {
        "schema_version": "1.0", "event_id": event_id, "scope": "global", "level": level,
        "version": version, "as_of": iso(as_of), "rearm": rearm, "sop": {"gross_cut_pct": cut},
    }


def config(version: int, scope: str = "GLOBAL", scope_id: str | None = None, *, as_of: float,
           profile: str | None = None, limits: dict | None = None, state: str | None = None) -> dict:
    body: dict[str, Any] = {"schema_version": "1.0", "version": version, "scope": scope,
                            "updated_at": iso(as_of)}
    if scope_id is not None:
        body["scope_id"] = scope_id
    if profile is not None:
        body["profile"] = profile
    if limits is not None:
        body["limits"] = limits
    if state is not None:
        body["trading_state"] = state
    return body


def dumps(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)
