"""Builders for the core's unit tests: deterministic ids, a fixed injected time."""

from __future__ import annotations

from typing import Any

from riskgate.core import (
    Environment,
    Limits,
    MarketData,
    Portfolio,
    PortfolioBook,
    Proposal,
    assess,
)
from riskgate.core.context import Context, build_context

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, injected everywhere; no test reads a clock

#: Limits loose enough that a test can enable exactly the constraint it is about.
LOOSE = dict(
    max_leverage=1000.0, max_risk_per_trade=1.0, daily_loss_limit=1.0, emergency_drawdown=1.0,
    max_open_positions=10**9, position_size_cap=None, min_confidence=0.0,
    fat_finger_notional=None, max_order_quantity=None,
)  # fmt: skip


def loose(**overrides: Any) -> Limits:
    """Limits where only the given overrides can bind."""
    return Limits(**{**LOOSE, **overrides})


def market(ticker: str = "AAA", price: float = 100.0, **kw: Any) -> MarketData:
    """A fresh, liquid market record."""
    values: dict[str, Any] = dict(adv=1_000_000.0, spread_bps=5.0, atr=2.0, as_of=NOW,
                                  sector="TECH", country="US", cluster="C1", version=1)
    values.update(kw)
    return MarketData(ticker, price, **values)


def portfolio(positions: dict[str, float] | None = None, equity: float = 100_000.0,
              **kw: Any) -> Portfolio:
    """A fresh portfolio snapshot at its peak with no P&L today."""
    values: dict[str, Any] = dict(peak_equity=equity, as_of=NOW, snapshot_version=1)
    values.update(kw)
    return Portfolio("pf-1", equity, positions=positions or {}, **values)


def book(positions: dict[str, float] | None = None,
         markets: dict[str, MarketData] | None = None, **kw: Any) -> PortfolioBook:
    """A book priced with ``markets`` (default: market() for every position)."""
    positions = positions or {}
    markets = markets if markets is not None else {t: market(t) for t in positions}
    return PortfolioBook(portfolio(positions, **kw), markets)


def env(limits: Limits | None = None, **kw: Any) -> Environment:
    """An environment at NOW with the given limits (default: loose())."""
    return Environment(now=NOW, limits=limits if limits is not None else loose(), **kw)


def proposal(qty: float | None = None, weight: float | None = None, ticker: str = "AAA",
             decision_id: str = "dec-1", **kw: Any) -> Proposal:
    """A fresh, confident proposal for a target quantity (or weight)."""
    values: dict[str, Any] = dict(confidence=0.9, created_at=NOW - 1.0)
    values.update(kw)
    return Proposal(decision_id, "strat-1", "pf-1", ticker, target_quantity=qty,
                    target_weight=weight, **values)


def context(p: Proposal, b: PortfolioBook | None = None, m: MarketData | None = None,
            e: Environment | None = None) -> Context:
    """The context the chain would give a constraint for this proposal."""
    return build_context(p, b if b is not None else book(), m if m is not None else market(),
                         e if e is not None else env())


def run(p: Proposal, b: PortfolioBook | None = None, m: MarketData | None = None,
        e: Environment | None = None):
    """assess() with defaults for what is not given."""
    return assess(p, b if b is not None else book(), m if m is not None else market(),
                  e if e is not None else env())


def property_settings(max_examples: int = 150):
    """Hypothesis settings for the core's properties: derandomised, no deadline.
    RISKGATE_PROPERTY_EXAMPLES overrides the example count for a longer soak."""
    import os

    from hypothesis import HealthCheck, settings

    max_examples = int(os.environ.get("RISKGATE_PROPERTY_EXAMPLES", max_examples))
    return settings(derandomize=True, database=None, deadline=None, max_examples=max_examples,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def verdict(constraint, p: Proposal, b: PortfolioBook | None = None,
            m: MarketData | None = None, e: Environment | None = None):
    """One constraint's verdict, as the named Verdict view."""
    from riskgate.core import Verdict

    return Verdict._make(constraint(p, context(p, b, m, e)))
