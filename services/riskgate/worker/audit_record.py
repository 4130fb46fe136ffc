"""The ``details`` of a risk action (risk.actions 2.0): what decided it, built per decision.

Only the verdicts that decided the outcome are kept: those that capped, scaled or rejected,
and those that passed while adjusting the target (lot rounding), because those are the numbers
behind the approved position. An OK within all limits keeps none; its full trace, like every
other decision's, is ``riskgate audit why``'s, rebuilt by replay (``Outcome.details``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, lru_cache

from riskgate.build import build_identity
from riskgate.contracts.enums import ActionType
from riskgate.contracts.payloads import BuildPayload, DetailsPayload, MarketPayload, VerdictPayload
from riskgate.core import MarketData

_OK = ActionType.OK
_MAX_MARKETS_USED = 8192
_MARKETS_USED: dict[int, tuple[MarketData, MarketPayload]] = {}


def binding_verdicts(trace: list[tuple]) -> list[VerdictPayload]:
    """The verdicts of ``trace`` that cut, rejected or adjusted the target, in chain order.
    The reason code names the check; the constraint's class name is the full trace's."""
    return [{"verdict": kind.value, "reason": reason, "limit": limit, "value": value,
             "headroom": headroom, "bound": bound}
            for kind, reason, limit, value, headroom, bound in trace
            if kind is not _OK or bound is not None]


def market_used(market: MarketData | None) -> MarketPayload | None:
    """The ticker's market values the decision used; its version is the action's.

    One dict per market record, shared by the actions decided on it (read, serialised, never
    changed): a ticker's record serves many decisions before the next one replaces it."""
    if market is None:
        return None
    known = _MARKETS_USED.get(id(market))
    if known is not None and known[0] is market:
        return known[1]
    if len(_MARKETS_USED) >= _MAX_MARKETS_USED:
        _MARKETS_USED.clear()
    used = _market_payload(market)
    _MARKETS_USED[id(market)] = (market, used)  # the record is held, so its id is not reused
    return used


def _market_payload(m: MarketData) -> MarketPayload:
    return {"price": m.price, "adv": m.adv, "spread_bps": m.spread_bps, "atr": m.atr,
            "volatility": m.volatility, "tick_size": m.tick_size, "lot_size": m.lot_size,
            "multiplier": m.multiplier, "fx_to_base": m.fx_to_base, "currency": m.currency,
            "sector": m.sector, "country": m.country, "cluster": m.cluster,
            "factors": dict(m.factors), "regime": m.regime.value if m.regime else None,
            "as_of": rfc3339(m.as_of)}


def decided(outcome, limits_digest: str | None) -> DetailsPayload:
    """The details of a leg the chain decided."""
    return {"verdicts": binding_verdicts(outcome.trace),
            "market": market_used(outcome.market), "limits_digest": limits_digest,
            "current_position": outcome.current, "note": outcome.note, "build": build()}


def refused(current: float, limits_digest: str) -> DetailsPayload:
    """The details of a leg answered without the chain (no snapshot, duplicate, failure)."""
    return {"verdicts": [], "market": None, "limits_digest": limits_digest,
            "current_position": current, "note": None, "build": build()}


@cache
def build() -> BuildPayload:
    """This process's build identity (the witness carries the same)."""
    found = build_identity()
    return {"version": found["version"], "core": found["core"]}


@lru_cache(maxsize=8192)
def rfc3339(ts: float) -> str:
    """RFC 3339 in UTC; cached, because a market record's as_of repeats across decisions."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
