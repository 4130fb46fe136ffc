"""The risk of a live book, in the spirit of seed 002's risk analysis: exposures, halts, the
headroom under every enabled cap, and a 0-100 risk score with its level.

Everything comes from the core's own pieces: the ``PortfolioBook`` aggregates (the numbers
the caps read), ``effective_limits`` (the emergency overlay, and per ticker the regime
multiplier), the halts' daily-loss and drawdown measures, and ``sizing.risk_score``. Caps are
weights of equity as in the chain; ``headroom`` is limit minus value (negative: over).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

from pydantic import BaseModel, Field

from riskgate.core import Environment, MarketData, PortfolioBook, effective_limits
from riskgate.core.constraints.halts import daily_loss_fraction, drawdown
from riskgate.core.limits import Limits
from riskgate.core.sizing import risk_level, risk_score

Unit = Literal["weight", "money", "count", "leverage", "fraction"]


class Headroom(BaseModel):
    """One enabled cap: its limit, where the book stands, and the room left."""

    cap: str = Field(description="The limit's name, e.g. sector_cap.")
    key: str | None = Field(None, description="The group or ticker it applies to.")
    unit: Unit
    limit: float
    value: float
    headroom: float = Field(description="limit - value; negative when over the cap.")


class Position(BaseModel):
    """One projected position (snapshot overridden by riskgate targets still in flight)."""

    ticker: str
    quantity: float
    priced: bool
    notional: float | None
    weight: float | None
    sector: str | None
    country: str | None
    cluster: str | None
    regime: str | None


class PortfolioRisk(BaseModel):
    """GET /v1/portfolios/{id}/risk."""

    portfolio_id: str
    strategy_id: str = Field(description="Whose overlay the limits include ('' for none).")
    snapshot_version: int
    snapshot_age_s: float
    profile: str
    config_version: int
    emergency_level: str
    trading_state: str
    equity: float
    positions: list[Position]
    unpriced: list[str] = Field(description="Held tickers without market data.")
    gross: float
    net: float
    leverage: float
    open_positions: int
    drawdown: float
    daily_loss: float
    halts: list[Headroom] = Field(description="Daily loss, drawdown and emergency drawdown.")
    caps: list[Headroom] = Field(description="Every enabled cap, with its headroom.")
    risk_score: float
    risk_level: str


def _room(cap: str, unit: Unit, limit: float, value: float, key: str | None = None) -> Headroom:
    return Headroom(cap=cap, key=key, unit=unit, limit=limit, value=value,
                    headroom=limit - value)


def _group_caps(book: PortfolioBook, limits: Limits) -> list[Headroom]:
    equity = book.equity
    out: list[Headroom] = []
    for name, cap, groups in (("sector_cap", limits.sector_cap, book.sector),
                              ("country_cap", limits.country_cap, book.country),
                              ("cluster_cap", limits.cluster_cap, book.cluster)):
        if cap is not None:
            out += [_room(name, "weight", cap, v / equity, k) for k, v in sorted(groups.items())]
    for factor, cap in sorted(limits.factor_caps.items()):
        out.append(_room("factor_caps", "weight", cap, abs(book.factor.get(factor, 0.0)) / equity,
                         factor))
    return out


def _book_caps(book: PortfolioBook, limits: Limits) -> list[Headroom]:
    equity = book.equity
    out = [_room("max_leverage", "leverage", limits.max_leverage, book.gross / equity),
           _room("max_open_positions", "count", limits.max_open_positions, book.open_count)]
    if limits.gross_cap is not None:
        out.append(_room("gross_cap", "weight", limits.gross_cap, book.gross / equity))
    if limits.net_cap is not None:
        out.append(_room("net_cap", "weight", limits.net_cap, abs(book.net) / equity))
    return out


def _name_caps(book: PortfolioBook, env: Environment,
               markets: dict[str, MarketData]) -> list[Headroom]:
    """Per held name, under its own regime's multiplier as a decision on it would see."""
    out: list[Headroom] = []
    for ticker in sorted(book.positions):
        size = abs(book.notional(ticker) or 0.0)
        market = markets.get(ticker)
        tight = effective_limits(env.limits, env.emergency_level,
                                 market.regime if market is not None else None)
        if tight.position_size_cap is not None:
            out.append(_room("position_size_cap", "money", tight.position_size_cap, size, ticker))
        if tight.per_name_notional_cap is not None:
            out.append(_room("per_name_notional_cap", "money", tight.per_name_notional_cap,
                             size, ticker))
        if tight.per_name_weight_cap is not None:
            out.append(_room("per_name_weight_cap", "weight", tight.per_name_weight_cap,
                             size / book.equity, ticker))
    return out


def _score(book: PortfolioBook, markets: dict[str, MarketData], dd: float,
           limits: Limits) -> float:
    """Seed 002's score over the book: gross-weighted volatility and spread, the largest ADV
    participation, the drawdown and the leverage used."""
    weights, vol, spread, participation = 0.0, 0.0, 0.0, 0.0
    vol_known = False
    for ticker, qty in book.positions.items():
        market, size = markets.get(ticker), abs(book.notional(ticker) or 0.0)
        if market is None:
            continue
        weights += size
        spread += size * market.spread_bps
        if market.volatility is not None:
            vol, vol_known = vol + size * market.volatility, True
        if market.adv:
            participation = max(participation, abs(qty) / market.adv)
    scale = 1.0 / weights if weights > 0 else 0.0
    return risk_score(volatility=vol * scale if vol_known else None,
                      spread_bps=spread * scale, adv_participation=participation, drawdown=dd,
                      leverage=book.gross / book.equity, max_leverage=limits.max_leverage)


def _position(book: PortfolioBook, ticker: str, qty: float,
              market: MarketData | None) -> Position:
    entry = book.entries.get(ticker)
    notional = book.notional(ticker) if entry is not None else None
    return Position(
        ticker=ticker, quantity=qty, priced=entry is not None, notional=notional,
        weight=notional / book.equity if notional is not None else None,
        sector=entry.sector if entry else None, country=entry.country if entry else None,
        cluster=entry.cluster if entry else None,
        regime=market.regime.value if market is not None and market.regime else None)


def portfolio_risk(book: PortfolioBook, env: Environment, markets: dict[str, MarketData],
                   strategy_id: str) -> PortfolioRisk:
    """The risk view of ``book`` under ``env`` (the live limits, emergency, trading states)."""
    limits = effective_limits(env.limits, env.emergency_level, None)
    measures = SimpleNamespace(book=book, env=env)  # what the halts' measures read
    dd, loss = drawdown(measures), daily_loss_fraction(measures)
    halts = [_room("daily_loss_limit", "fraction", limits.daily_loss_limit, loss),
             _room("emergency_drawdown", "fraction", limits.emergency_drawdown, dd)]
    if limits.max_drawdown is not None:
        halts.append(_room("max_drawdown", "fraction", limits.max_drawdown, dd))
    score = _score(book, markets, dd, limits)
    return PortfolioRisk(
        portfolio_id=book.portfolio_id, strategy_id=strategy_id,
        snapshot_version=book.snapshot_version, snapshot_age_s=env.now - book.as_of,
        profile=env.profile, config_version=env.config_version,
        emergency_level=env.emergency_level.value,
        trading_state=env.trading_state(strategy_id, book.portfolio_id).value,
        equity=book.equity,
        positions=[_position(book, t, q, markets.get(t)) for t, q in sorted(book.positions.items())],
        unpriced=sorted(book.unpriced), gross=book.gross, net=book.net,
        leverage=book.gross / book.equity, open_positions=book.open_count, drawdown=dd,
        daily_loss=loss, halts=halts,
        caps=_book_caps(book, limits) + _group_caps(book, limits)
        + _name_caps(book, env, markets),
        risk_score=score, risk_level=risk_level(score).value)
