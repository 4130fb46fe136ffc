"""Forced de-risking on EMERGENCY: cut gross exposure, least liquid names first."""

from __future__ import annotations

import math
from collections.abc import Mapping

from riskgate.core import reasons as r
from riskgate.core.book import PortfolioBook
from riskgate.core.constraints.gates import invalid_market
from riskgate.core.domain import ActionType, Environment, MarketData, Portfolio, Proposal
from riskgate.core.outcome import Outcome
from riskgate.core.profiles import effective_limits
from riskgate.core.verdict import Verdict

_NAMES = ("ForcedDerisk",)


def illiquidity(quantity: float, market: MarketData) -> float:
    """|notional| / (ADV x price): days of volume the position is worth (inf: no ADV)."""
    adv = market.adv
    if adv is None or adv <= 0:
        return math.inf
    return abs(quantity * market.unit_value) / (adv * market.price)


def _legs(book: PortfolioBook, markets: Mapping[str, MarketData]
          ) -> list[tuple[float, str, float, MarketData]]:
    legs = []
    for ticker, qty in book.positions.items():
        market = markets.get(ticker)
        if qty and market is not None and invalid_market(market) is None:
            legs.append((illiquidity(qty, market), ticker, qty, market))
    legs.sort(key=lambda leg: (-leg[0], leg[1]))  # least liquid first, ties by ticker
    return legs


def _cut(qty: float, market: MarketData, required: float) -> float:
    """The new quantity after cutting up to ``required`` notional, in whole lots (cut more)."""
    unit, lot = market.unit_value, market.lot_size
    remaining = max(0.0, abs(qty) - required / unit)
    remaining = math.floor(remaining / lot + 1e-9) * lot
    return math.copysign(remaining, qty) if remaining > 0 else 0.0


def plan_forced_derisk(portfolio: Portfolio | PortfolioBook,
                       markets: Mapping[str, MarketData], env: Environment,
                       gross_cut_pct: float, *, event_id: str = "manual",
                       created_at: float | None = None) -> list[Outcome]:
    """One FORCED_DERISK outcome per ticker cut, least liquid first, until gross exposure is
    down by ``gross_cut_pct`` (0, 1]. Positions without valid market data are left alone.
    The decision id is ``derisk:<event_id>:<portfolio_id>``; the book is not changed."""
    if not 0.0 < gross_cut_pct <= 1.0:
        raise ValueError(f"gross_cut_pct must be in (0, 1], got {gross_cut_pct!r}")
    book = portfolio if isinstance(portfolio, PortfolioBook) else PortfolioBook(
        portfolio, markets)
    legs = _legs(book, markets)
    required = gross_cut_pct * math.fsum(abs(q * m.unit_value) for _, _, q, m in legs)
    decision_id = f"derisk:{event_id}:{book.portfolio_id}"
    limits = effective_limits(env.limits, env.emergency_level, None)
    outcomes = []
    for score, ticker, qty, market in legs:
        if required <= 1e-9:
            break
        target = _cut(qty, market, required)
        required -= (abs(qty) - abs(target)) * market.unit_value
        proposal = Proposal(decision_id, "riskgate", book.portfolio_id, ticker,
                            target_quantity=target,
                            created_at=env.now if created_at is None else created_at)
        verdict = Verdict(ActionType.FORCED_DERISK, r.FORCED_DERISK, gross_cut_pct, score,
                          None, target)
        outcomes.append(Outcome(ActionType.FORCED_DERISK, proposal, market, limits, _NAMES,
                                [verdict], (r.FORCED_DERISK,), qty, target, target, None,
                                market.unit_value, book.equity, env.now, env.profile))
    return outcomes
