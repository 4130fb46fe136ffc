"""PortfolioBook: positions plus exposure aggregates, built once and updated per target.

Every aggregate (gross, net, per sector / country / cluster gross, per factor net, per
strategy gross, open count) is a running sum, so a decision reads it in O(1) and applying a
target costs O(1 + factors) whatever the number of positions. Notional uses the unit value
(price x multiplier x FX) last seen for each ticker; ``reprice`` moves it when market data
changes. ``rebuild`` recomputes every sum exactly, to shed floating-point drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from riskgate.core.domain import MarketData, Portfolio


class Entry(NamedTuple):
    """What the book remembers about a priced ticker."""

    unit: float
    sector: str
    country: str
    cluster: str
    factors: tuple[tuple[str, float], ...]


def entry_of(market: MarketData) -> Entry:
    """The book entry for a market record."""
    return Entry(market.unit_value, market.sector, market.country, market.cluster,
                 market.factors)


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _invalid_reason(p: Portfolio) -> str | None:
    if not (_finite(p.equity) and p.equity > 0):
        return f"equity {p.equity!r} is not a positive finite number"
    if not _finite(p.pnl_today):
        return f"pnl_today {p.pnl_today!r} is not finite"
    for name in ("peak_equity", "nav"):
        value = getattr(p, name)
        if value is not None and not (_finite(value) and value > 0):
            return f"{name} {value!r} is not a positive finite number"
    if not _finite(p.as_of):
        return "as_of is not finite"
    bad = next((t for t, q in p.positions.items() if not _finite(q)), None)
    return None if bad is None else f"position {bad!r} is not finite"


class PortfolioBook:
    """A portfolio with incrementally maintained exposure aggregates (money, base currency)."""

    __slots__ = ("portfolio_id", "equity", "nav", "pnl_today", "peak_equity", "as_of",
                 "snapshot_version", "positions", "owners", "entries", "unpriced", "invalid",
                 "gross", "net", "sector", "country", "cluster", "factor", "strategy",
                 "open_count")  # fmt: skip

    def __init__(self, portfolio: Portfolio, markets: Mapping[str, MarketData] | None = None):
        self.portfolio_id = portfolio.portfolio_id
        self.invalid = _invalid_reason(portfolio)
        self.set_account(portfolio)
        self.positions: dict[str, float] = {}
        self.owners: dict[str, str] = dict(portfolio.position_strategies)
        self.entries: dict[str, Entry] = {}
        for ticker, market in (markets or {}).items():
            if ticker in portfolio.positions:
                self.entries[ticker] = entry_of(market)
        for ticker, qty in portfolio.positions.items():
            if qty:
                self.positions[ticker] = float(qty)
        self.rebuild()

    def set_account(self, p: Portfolio) -> None:
        """Take equity, NAV, P&L, peak, as_of and version from a snapshot."""
        self.equity = float(p.equity)
        self.nav = float(p.nav if p.nav is not None else p.equity)
        self.pnl_today = float(p.pnl_today)
        self.peak_equity = float(p.peak_equity if p.peak_equity is not None else p.equity)
        self.as_of = float(p.as_of)
        self.snapshot_version = p.snapshot_version

    def rebuild(self) -> None:
        """Recompute every aggregate from the positions (O(positions))."""
        self.gross = self.net = 0.0
        self.sector: dict[str, float] = {}
        self.country: dict[str, float] = {}
        self.cluster: dict[str, float] = {}
        self.factor: dict[str, float] = {}
        self.strategy: dict[str, float] = {}
        self.unpriced: set[str] = set()
        self.open_count = 0
        for ticker, qty in self.positions.items():
            self._add(ticker, qty, 1.0)

    def _add(self, ticker: str, qty: float, sign: float) -> None:
        if not qty:
            return
        self.open_count += 1 if sign > 0 else -1
        entry = self.entries.get(ticker)
        if entry is None:
            (self.unpriced.add if sign > 0 else self.unpriced.discard)(ticker)
            return
        notional = qty * entry.unit * sign
        size = abs(qty * entry.unit) * sign
        self.gross += size
        self.net += notional
        for agg, key in ((self.sector, entry.sector), (self.country, entry.country),
                         (self.cluster, entry.cluster)):
            agg[key] = agg.get(key, 0.0) + size
        for name, loading in entry.factors:
            self.factor[name] = self.factor.get(name, 0.0) + loading * notional
        owner = self.owners.get(ticker)
        if owner is not None:
            self.strategy[owner] = self.strategy.get(owner, 0.0) + size

    def apply_target(self, ticker: str, quantity: float, market: MarketData | None = None,
                     strategy_id: str | None = None) -> None:
        """Make ``quantity`` the projected position of ``ticker`` (O(1 + factors))."""
        old = self.positions.get(ticker, 0.0)
        self._add(ticker, old, -1.0)
        if market is not None:
            self.entries[ticker] = entry_of(market)
        if strategy_id is not None:
            self.owners[ticker] = strategy_id
        if quantity:
            self.positions[ticker] = float(quantity)
        else:
            self.positions.pop(ticker, None)
        self._add(ticker, quantity, 1.0)

    def reprice(self, market: MarketData) -> None:
        """Revalue one ticker at new market data (O(1 + factors))."""
        self.apply_target(market.ticker, self.positions.get(market.ticker, 0.0), market)

    def apply(self, outcome: object) -> None:
        """Apply an Outcome's approved target so the next decision sees it."""
        if outcome.delta_position:  # type: ignore[attr-defined]
            self.apply_target(outcome.ticker, outcome.target_position,  # type: ignore[attr-defined]
                              outcome.market, outcome.strategy_id)  # type: ignore[attr-defined]

    def copy(self) -> PortfolioBook:
        """An independent copy, for what-if checks (O(positions))."""
        clone = PortfolioBook.__new__(PortfolioBook)
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(clone, name, value.copy() if isinstance(value, dict | set) else value)
        return clone

    def snapshot(self) -> Portfolio:
        """The book as a Portfolio value."""
        return Portfolio(self.portfolio_id, self.equity, self.pnl_today, self.peak_equity,
                         self.nav, dict(self.positions), self.as_of, self.snapshot_version,
                         dict(self.owners))

    def notional(self, ticker: str) -> float | None:
        """Signed notional of a position at its last unit value, None when unpriced."""
        entry = self.entries.get(ticker)
        qty = self.positions.get(ticker, 0.0)
        return qty * entry.unit if entry is not None else (0.0 if not qty else None)
