"""The per-decision context that every constraint reads.

The context is the fold's accumulator: constraints read it and never change it; only the
chain advances ``target`` (and ``derisk``) after a constraint returns a bound.
"""

from __future__ import annotations

import math

from riskgate.core.book import Entry, PortfolioBook
from riskgate.core.domain import EmergencyLevel, Environment, MarketData, Proposal
from riskgate.core.limits import Limits
from riskgate.core.profiles import effective_limits

_NAN = math.nan


def is_derisk(target: float, current: float) -> bool:
    """|target| <= |current| with no sign flip (a target through zero is not de-risking)."""
    if current > 0:
        return 0.0 <= target <= current
    if current < 0:
        return current <= target <= 0.0
    return target == 0.0


def _stale(book: PortfolioBook, market: MarketData | None, env: Environment,
           ticker: str) -> tuple[str, float, float] | None:
    """(which input, its age in s, the bound) for the first stale input, else None."""
    now = env.now
    bound = env.max_snapshot_age_s
    if bound is not None and now - book.as_of > bound:
        return ("snapshot", now - book.as_of, bound)
    bound = env.max_price_age_s
    if market is not None and bound is not None and now - market.as_of > bound:
        return ("price", now - market.as_of, bound)
    bound, as_of = env.max_emergency_age_s, env.emergency_as_of
    if as_of is not None and bound is not None and now - as_of > bound:
        return ("emergency_state", now - as_of, bound)
    unpriced = book.unpriced
    if unpriced and (len(unpriced) > 1 or ticker not in unpriced):
        return ("unpriced_positions", math.inf, 0.0)
    return None


class Context:
    """Numbers shared by the constraints of one decision (money in base currency)."""

    __slots__ = ("proposal", "book", "market", "env", "limits", "current", "unit", "equity",
                 "proposed", "target", "derisk", "old_entry", "old_abs", "stale", "emergency")

    def __init__(self, proposal: Proposal, book: PortfolioBook, market: MarketData | None,
                 env: Environment, limits: Limits) -> None:
        ticker = proposal.ticker
        self.proposal = proposal
        self.book = book
        self.market = market
        self.env = env
        self.limits = limits
        self.current = current = book.positions.get(ticker, 0.0)
        self.equity = equity = book.equity
        if market is not None and market.ticker == ticker:
            unit = market.price * market.multiplier * market.fx_to_base
        else:
            unit = _NAN
        self.unit = unit
        qty = proposal.target_quantity
        if qty is None:
            weight = proposal.target_weight
            qty = weight * equity / unit if weight is not None and unit > 0 else _NAN
        self.proposed = self.target = qty
        self.derisk = (0.0 <= qty <= current if current > 0 else
                       current <= qty <= 0.0 if current < 0 else qty == 0.0)
        self.old_entry = entry = book.entries.get(ticker)
        self.old_abs = abs(current) * entry.unit if entry is not None else 0.0
        self.stale = _stale(book, market, env, ticker)
        self.emergency = env.emergency_level is EmergencyLevel.EMERGENCY

    def advance(self, target: float) -> None:
        """Move the working target (called by the chain only)."""
        self.target = target
        self.derisk = is_derisk(target, self.current)

    def excluding(self, aggregate: dict[str, float], key: str, old_key: str | None) -> float:
        """A group's gross exposure without this ticker's current contribution."""
        value = aggregate.get(key, 0.0)
        return value - self.old_abs if key == old_key else value


def build_context(proposal: Proposal, book: PortfolioBook, market: MarketData | None,
                  env: Environment) -> Context:
    """The context for one decision, with limits tightened for emergency level and regime."""
    regime = market.regime if market is not None else None
    overlays = env.strategy_limits
    base = overlays.get(proposal.strategy_id, env.limits) if overlays else env.limits
    limits = effective_limits(base, env.emergency_level, regime)
    return Context(proposal, book, market, env, limits)


def old_group(entry: Entry | None, attribute: str) -> str | None:
    """The group key under which the book currently holds this ticker, if priced."""
    return getattr(entry, attribute) if entry is not None else None
