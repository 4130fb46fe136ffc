"""The outcome of one decision: the target, the risk action and the lazily built audit."""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import Any

from riskgate.core.context import is_derisk
from riskgate.core.domain import ActionType, MarketData, Proposal
from riskgate.core.limits import Limits
from riskgate.core.verdict import Verdict

#: uuid5 namespace of action ids (docs/contracts.md).
RISKGATE_NAMESPACE = uuid.UUID("6f3c2a1e-5b1d-4c7e-9a51-7269736b6761")
_MARKET_FIELDS = ("price", "adv", "spread_bps", "atr", "volatility", "tick_size", "lot_size",
                  "multiplier", "fx_to_base", "currency", "sector", "country", "cluster",
                  "as_of", "version")  # fmt: skip


_NAMESPACE_BYTES = RISKGATE_NAMESPACE.bytes
_OK = ActionType.OK


def action_id(decision_id: str, suffix: str = "") -> str:
    """The deterministic action id: ``str(uuid5(RISKGATE_NAMESPACE, decision_id + suffix))``.

    Spelled out (SHA-1, then the version and variant bits) because ``uuid.uuid5`` builds two
    UUID objects on the way: 3.1 µs against 1.2 µs, for every decision."""
    name = (decision_id + suffix).encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _num(x: Any) -> Any:
    """JSON-safe number: non-finite floats become None."""
    return x if not isinstance(x, float) or math.isfinite(x) else None


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.6g}"


class Outcome:
    """Everything decided about one proposal (quantities in instrument units, money in base).

    ``names`` are the enabled constraints in chain order; ``trace`` holds one verdict per
    evaluated constraint. The fold stops at a rejection that leaves nothing to pass, so the
    names after it have no verdict ("SKIPPED" in the details).
    """

    __slots__ = ("action_type", "proposal", "market", "limits", "names", "trace",
                 "reason_codes", "current", "proposed_position", "approved_position",
                 "max_passing_position", "unit", "equity", "now", "profile", "note",
                 "priority", "_summary")  # fmt: skip

    def __init__(self, action_type: ActionType, proposal: Proposal, market: MarketData | None,
                 limits: Limits, names: tuple[str, ...], trace: list[Verdict],
                 reason_codes: tuple[str, ...], current: float, proposed: float,
                 approved: float, max_passing: float | None, unit: float, equity: float,
                 now: float, profile: str, note: str | None = None) -> None:
        self.action_type = action_type
        self.proposal = proposal
        self.market = market
        self.limits = limits
        self.names = names
        self.trace = trace
        self.reason_codes = reason_codes
        self.current = current
        self.proposed_position = proposed
        self.approved_position = approved
        self.max_passing_position = max_passing
        self.unit = unit
        self.equity = equity
        self.now = now
        self.profile = profile
        self.note = note
        if action_type is ActionType.FORCED_DERISK:
            self.priority = 0
        else:
            self.priority = 1 if approved != current and is_derisk(approved, current) else 2
        self._summary: str | None = None

    decision_id = property(lambda self: self.proposal.decision_id)
    strategy_id = property(lambda self: self.proposal.strategy_id)
    portfolio_id = property(lambda self: self.proposal.portfolio_id)
    ticker = property(lambda self: self.proposal.ticker)
    target_position = property(lambda self: self.approved_position)

    @property
    def delta_position(self) -> float:
        """Approved target minus the projected position before this decision."""
        return self.approved_position - self.current

    @property
    def target_notional(self) -> float:
        """Signed notional of the target at the market's unit value (0 without market)."""
        return self.approved_position * self.unit if self.unit == self.unit else 0.0

    @property
    def target_weight(self) -> float:
        """Target notional over equity."""
        return self.target_notional / self.equity if self.equity > 0 else 0.0

    @property
    def approved(self) -> bool:
        """True for OK, CAPPED, SCALED_DOWN and FORCED_DERISK."""
        return self.action_type not in (ActionType.REJECTED, ActionType.EXPIRED,
                                        ActionType.DUPLICATE)

    @property
    def binding(self) -> list[tuple[str, Verdict]]:
        """(constraint, verdict) for every verdict that cut or rejected."""
        return [(n, Verdict._make(v)) for n, v in zip(self.names, self.trace, strict=False)
                if v[0] is not ActionType.OK]

    @property
    def risk_reasoning_summary(self) -> str:
        """One readable line: what was proposed, what was approved and why."""
        if self._summary is None:
            self._summary = self._summarise()
        return self._summary

    def _summarise(self) -> str:
        head = (f"{self.action_type.value} {self.proposal.ticker}: proposed "
                f"{_fmt(self.proposed_position)}, approved {_fmt(self.approved_position)} "
                f"(from {_fmt(self.current)})")
        # Straight from the verdict tuples: most decisions bind nothing, and then no named
        # view or (name, verdict) pair is built at all.
        why = "; ".join(f"{n} {v[1]} limit {_fmt(v[2])} value {_fmt(v[3])}"
                        for n, v in zip(self.names, self.trace, strict=False) if v[0] is not _OK)
        if not why:
            return head + "; within all limits"
        tail = ""
        if self.max_passing_position is not None:
            tail = f"; largest passing {_fmt(self.max_passing_position)}"
        return f"{head}; {why}{tail}"

    def verdicts(self) -> list[dict[str, Any]]:
        """Every constraint's verdict as a dict, skipped ones included."""
        out = [{"constraint": n, "verdict": kind.value, "reason": reason, "limit": _num(limit),
                "value": _num(value), "headroom": _num(headroom), "bound": _num(bound)}
               for n, (kind, reason, limit, value, headroom, bound)
               in zip(self.names, self.trace, strict=False)]
        for name in self.names[len(self.trace):]:
            out.append({"constraint": name, "verdict": "SKIPPED", "reason": None,
                        "limit": None, "value": None, "headroom": None, "bound": None})
        return out

    def details(self) -> dict[str, Any]:
        """The JSON-serialisable audit record: verdicts, market values used, limits."""
        market = self.market
        used = {f: _num(getattr(market, f)) for f in _MARKET_FIELDS} if market else None
        if market is not None:
            used["regime"] = market.regime.value if market.regime is not None else None
            used["factors"] = dict(market.factors)
        return {
            "decision_id": self.decision_id, "action_type": self.action_type.value,
            "profile": self.profile, "now": self.now, "reason_codes": list(self.reason_codes),
            "current_position": _num(self.current),
            "proposed_position": _num(self.proposed_position),
            "approved_position": _num(self.approved_position),
            "max_passing_position": _num(self.max_passing_position),
            "target_notional": _num(self.target_notional), "priority": self.priority,
            "verdicts": self.verdicts(), "market": used, "limits": self.limits.as_dict(),
            "note": self.note,
        }

    def __repr__(self) -> str:
        return f"Outcome({self.risk_reasoning_summary!r})"
