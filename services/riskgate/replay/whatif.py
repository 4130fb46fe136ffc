"""What-if over history: the same decisions, decided again under a candidate config.

Two modes, both read-only and in memory beside the live replay (docs/replay.md):

- **counterfactual**: each decision is decided against the state the live gate had (a copy of
  the live row, just before the live decision), with the candidate limits. It answers which
  decisions would have been decided differently.
- **path**: the candidate decides against its own book, which starts as the live book at the
  window's first decision and then holds the candidate's targets as if filled. Later snapshots
  still bring equity, P&L and every ticker the candidate never traded. It answers where the
  book would have gone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from riskgate.core import LimitsError, Portfolio, PortfolioBook
from riskgate.replay.evidence import StoredDecision
from riskgate.store.state import PortfolioRow
from riskgate.worker.candidate import Candidate
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler

MODES = ("counterfactual", "path")
APPROVED = frozenset({"OK", "CAPPED", "SCALED_DOWN", "FORCED_DERISK"})


@dataclass(frozen=True, slots=True)
class LegOutcome:
    action_type: str
    reason_codes: tuple[str, ...]
    target_position: float | None
    delta_position: float
    notional: float  # |delta| x unit value at the decision's market data, base currency

    @property
    def approved(self) -> bool:
        return self.action_type in APPROVED and self.delta_position != 0.0


@dataclass(slots=True)
class Change:
    decision_id: str
    action_id: str
    portfolio_id: str
    strategy_id: str
    ticker: str
    at: float
    live: LegOutcome | None
    candidate: LegOutcome | None

    def as_dict(self) -> dict[str, Any]:
        def side(o: LegOutcome | None):
            return None if o is None else {
                "action_type": o.action_type, "reason_codes": list(o.reason_codes),
                "target_position": o.target_position, "delta_position": o.delta_position}
        return {"decision_id": self.decision_id, "action_id": self.action_id,
                "portfolio_id": self.portfolio_id, "strategy_id": self.strategy_id,
                "ticker": self.ticker, "at": self.at, "transition": transition(self),
                "live": side(self.live), "candidate": side(self.candidate)}


def transition(c: Change) -> str:
    return f"{c.live.action_type if c.live else '-'}→{c.candidate.action_type if c.candidate else '-'}"


@dataclass(slots=True)
class WhatIfReport:
    mode: str
    candidate: str
    legs: int = 0
    changes: list[Change] = field(default_factory=list)
    approvals_lost: int = 0
    approvals_gained: int = 0
    notional_live: float = 0.0
    notional_candidate: float = 0.0
    refused: dict[int, str] = field(default_factory=dict)  # live config version -> why
    # portfolio -> [(time, live gross, live net, candidate gross, candidate net)], path mode
    exposure: dict[str, list[tuple[float, float, float, float, float]]] = field(
        default_factory=lambda: defaultdict(list))

    def transitions(self) -> dict[str, tuple[int, Counter]]:
        """Changed legs by transition, each with its count and the reasons behind it."""
        out: dict[str, tuple[int, Counter]] = {}
        for c in self.changes:
            count, reasons = out.get(transition(c), (0, Counter()))
            gone = c.live.reason_codes if c.live else ()
            why = (c.candidate.reason_codes if c.candidate and c.candidate.reason_codes else gone)
            reasons.update(why)
            out[transition(c)] = (count + 1, reasons)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][0]))

    def lines(self) -> list[str]:
        out = [f"what-if ({self.mode}, candidate {self.candidate}): legs={self.legs} "
               f"changed={len(self.changes)} approvals_lost={self.approvals_lost} "
               f"approvals_gained={self.approvals_gained}",
               f"notional traded: live={self.notional_live:,.2f} "
               f"candidate={self.notional_candidate:,.2f}"]
        for name, (count, reasons) in self.transitions().items():
            top = ", ".join(f"{r} {n}" for r, n in reasons.most_common(4))
            out.append(f"  {name} {count}" + (f" ({top})" if top else ""))
        for version, why in sorted(self.refused.items()):
            out.append(f"  candidate not applicable on live config version {version}: {why}")
        return out


class WhatIf:
    """Decides each replayed decision again under the candidate, beside the live replay."""

    def __init__(self, candidate: Candidate, mode: str, handler: DecisionHandler,
                 world: GlobalState) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.report = WhatIfReport(mode, candidate.name)
        self._candidate, self._handler, self._world = candidate, handler, world
        self._path: PortfolioRow | None = None
        self._traded: dict[str, float] = {}  # path mode: ticker -> the candidate's position
        self._known: dict[str, Any] = {}  # the latest market record seen per ticker

    def start_portfolio(self) -> None:
        self._path, self._traded = None, {}

    def on_snapshot(self, apply_snapshot, snapshot) -> None:
        if self._path is not None:
            apply_snapshot(self._path, snapshot)
            self._path.positions.update(self._traded)

    def decide(self, live_before: PortfolioRow, live_after: PortfolioRow, d: StoredDecision,
               witness: dict[str, Any]):
        """Decide ``d`` under the candidate and record how it compares with the stored legs;
        the candidate's handler result, or None where the candidate does not apply."""
        self._known.update(self._world.market)
        live_config = self._world.config
        try:
            self._world.config = self._candidate.on(live_config)
        except LimitsError as exc:
            self.report.refused.setdefault(live_config.version, str(exc))
            return None
        live_market = self._world.market
        try:
            if self.report.mode == "path":
                if self._path is None:
                    self._path = copy_row(live_before)
                row = self._path
                self._world.market = {**self._known, **live_market}
            else:
                row = copy_row(live_before)
            row.seq = witness["seq"] - 1
            result = self._handler.handle([self._handler.decode(d.record)],
                                          {row.portfolio_id: row}, d.seen(), witness["now"])
        finally:
            self._world.config, self._world.market = live_config, live_market
        self._compare(d, result, witness["now"])
        if self.report.mode == "path":
            self._fill(row, result)
            self._exposure(live_after, row, witness["now"])
        return result

    def _compare(self, d: StoredDecision, result, now: float) -> None:
        targets = {t.action_id: t.payload for t in result.targets}
        live = {leg.action_id: (leg.payload, leg.target) for leg in d.legs}
        mine = {a.action_id: (a.payload, targets.get(a.action_id)) for a in result.actions}
        first = orjson.loads(d.legs[0].payload)
        r = self.report
        for aid in list(live) + [a for a in mine if a not in live]:
            sides = [live.get(aid), mine.get(aid)]
            a, b = (_outcome(*s, self._world) if s else None for s in sides)
            r.legs += 1
            r.notional_live += a.notional if a else 0.0
            r.notional_candidate += b.notional if b else 0.0
            lost, gained = bool(a and a.approved), bool(b and b.approved)
            r.approvals_lost += lost and not gained
            r.approvals_gained += gained and not lost
            if a is None or b is None or (a.action_type, a.reason_codes, a.target_position) != (
                    b.action_type, b.reason_codes, b.target_position):
                ticker = orjson.loads((sides[0] or sides[1])[0])["ticker"]
                r.changes.append(Change(d.decision_id, aid, first["portfolio_id"],
                                        first["strategy_id"], ticker, now, a, b))

    def _fill(self, row: PortfolioRow, result) -> None:
        """Path mode: the candidate's targets are held as if filled."""
        for t in result.targets:
            ticker, qty = t.ticker, t.target_position
            self._traded[ticker] = qty
            row.positions[ticker] = qty
            row.pending.pop(ticker, None)

    def _exposure(self, live: PortfolioRow, path: PortfolioRow, now: float) -> None:
        ttl = self._world.snapshot_ttl_s
        lg, ln = _gross_net(live, live.projected(now, ttl), self._known)
        cg, cn = _gross_net(path, path.projected(now, ttl), self._known)
        self.report.exposure[live.portfolio_id].append((now, lg, ln, cg, cn))


def copy_row(row: PortfolioRow) -> PortfolioRow:
    return PortfolioRow(row.portfolio_id, row.snapshot_version, row.snapshot_as_of, row.equity,
                        row.nav, row.pnl_today, row.peak_equity, dict(row.positions),
                        {t: list(p) for t, p in row.pending.items()}, row.seq)


def _outcome(action: bytes, target: bytes | None, world: GlobalState) -> LegOutcome:
    a = orjson.loads(action)
    t = orjson.loads(target) if target else {}
    delta = t.get("delta_position", 0.0)
    market = world.market.get(a["ticker"])
    unit = market.unit_value if market is not None else 0.0
    return LegOutcome(a["action_type"], tuple(a["reason_codes"]), t.get("target_position"),
                      delta, abs(delta) * unit)


def _gross_net(row: PortfolioRow, positions: dict[str, float], market) -> tuple[float, float]:
    if row.equity is None:
        return 0.0, 0.0
    held = {t: market[t] for t in positions if t in market}
    book = PortfolioBook(Portfolio(portfolio_id=row.portfolio_id, equity=row.equity,
                                   positions=positions), held)
    return book.gross, book.net
