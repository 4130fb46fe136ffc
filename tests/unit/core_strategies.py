"""Hypothesis strategies for the core's properties: books, markets, limits, proposals."""

from __future__ import annotations

from dataclasses import replace

from core_builders import NOW
from hypothesis import strategies as st

from riskgate.core import (
    EmergencyLevel,
    Environment,
    Limits,
    MarketData,
    Portfolio,
    PortfolioBook,
    Proposal,
    Regime,
    TradingState,
)

TICKERS = ("A", "B", "C", "D", "E")


@st.composite
def market_data(draw, ticker: str) -> MarketData:
    price = draw(st.floats(1.0, 1_000.0))
    return MarketData(
        ticker, price, adv=draw(st.one_of(st.none(), st.floats(0.0, 1e7))),
        spread_bps=draw(st.floats(0.0, 50.0)),
        atr=draw(st.one_of(st.none(), st.floats(0.01, 50.0))),
        lot_size=draw(st.sampled_from([1.0, 10.0, 100.0, 0.001])),
        multiplier=draw(st.sampled_from([1.0, 10.0])), fx_to_base=draw(st.sampled_from([1.0, 0.8])),
        sector=draw(st.sampled_from(["TECH", "UTIL", "FIN"])),
        country=draw(st.sampled_from(["US", "DE"])),
        cluster=draw(st.sampled_from(["C1", "C2", "C3"])),
        factors=(("mom", draw(st.floats(-2.0, 2.0))),),
        regime=draw(st.sampled_from([None, *Regime])), as_of=NOW, version=1,
    )  # fmt: skip


@st.composite
def worlds(draw) -> tuple[PortfolioBook, dict[str, MarketData]]:
    markets = {t: draw(market_data(t)) for t in TICKERS}
    held = draw(st.lists(st.sampled_from(TICKERS), unique=True, max_size=4))
    positions = {t: draw(st.floats(-5_000.0, 5_000.0).filter(bool)) for t in held}
    equity = draw(st.floats(1e4, 1e7))
    portfolio = Portfolio(
        "pf", equity, pnl_today=equity * draw(st.floats(-0.2, 0.1)),
        peak_equity=equity * (1.0 + draw(st.floats(0.0, 0.3))), positions=positions, as_of=NOW,
    )  # fmt: skip
    return PortfolioBook(portfolio, markets), markets


def _optional(draw, low: float, high: float) -> float | None:
    return draw(st.one_of(st.none(), st.floats(low, high)))


@st.composite
def limit_sets(draw) -> Limits:
    gross = _optional(draw, 0.1, 10.0)
    net = _optional(draw, 0.0, gross if gross is not None else 10.0)
    emergency = draw(st.floats(0.01, 1.0))
    return Limits(
        max_leverage=draw(st.floats(0.5, 10.0)), max_risk_per_trade=draw(st.floats(1e-3, 0.2)),
        daily_loss_limit=draw(st.floats(0.01, 1.0)), emergency_drawdown=emergency,
        max_drawdown=draw(st.one_of(st.none(), st.floats(0.0, emergency))),
        max_open_positions=draw(st.integers(0, 6)), position_size_cap=_optional(draw, 10.0, 1e6),
        min_confidence=draw(st.floats(0.0, 1.0)), per_name_weight_cap=_optional(draw, 1e-3, 2.0),
        per_name_notional_cap=_optional(draw, 10.0, 1e6), strategy_budget=_optional(draw, 0.01, 5.0),
        sector_cap=_optional(draw, 0.01, 3.0), country_cap=_optional(draw, 0.01, 3.0),
        cluster_cap=_optional(draw, 0.01, 3.0),
        factor_caps=draw(st.sampled_from([{}, {"mom": 0.5}, {"mom": 0.05}])),
        gross_cap=gross, net_cap=net, max_adv_participation=_optional(draw, 1e-4, 1.0),
        max_spread_bps=_optional(draw, 1.0, 60.0), price_collar=_optional(draw, 0.01, 0.3),
        fat_finger_notional=_optional(draw, 100.0, 1e7), long_only=draw(st.booleans()),
        restricted=frozenset(draw(st.lists(st.sampled_from(TICKERS), max_size=1))),
    )  # fmt: skip


@st.composite
def proposals(draw, markets: dict[str, MarketData], book: PortfolioBook) -> Proposal:
    ticker = draw(st.sampled_from(TICKERS))
    price = markets[ticker].price
    by_weight = draw(st.booleans())
    current = book.positions.get(ticker, 0.0)
    qty = draw(st.one_of(st.floats(-20_000.0, 20_000.0), st.just(current * 0.5),
                         st.just(current * 1.5), st.just(-current)))  # fmt: skip
    return Proposal(
        "dec", draw(st.sampled_from(["s1", "s2"])), "pf", ticker,
        target_quantity=None if by_weight else qty,
        target_weight=draw(st.floats(-3.0, 3.0)) if by_weight else None,
        confidence=draw(st.floats(0.0, 1.0)), created_at=NOW - draw(st.floats(0.0, 30.0)),
        reference_price=draw(st.one_of(st.none(), st.floats(0.8, 1.2).map(lambda f: f * price))),
        stop_loss=draw(st.one_of(st.none(), st.floats(0.5, 1.5).map(lambda f: f * price))),
    )  # fmt: skip


def environments(limits: Limits, level: EmergencyLevel = EmergencyLevel.NORMAL,
                 state: TradingState = TradingState.ACTIVE) -> Environment:
    return Environment(now=NOW, limits=limits, emergency_level=level, global_state=state,
                       emergency_as_of=NOW)


@st.composite
def scenarios(draw):
    """Anything goes: every trading state, emergency level and limit set."""
    book, markets = draw(worlds())
    limits = draw(limit_sets())
    level = draw(st.sampled_from(list(EmergencyLevel)))
    state = draw(st.sampled_from(list(TradingState)))
    return book, markets, draw(proposals(markets, book)), environments(limits, level, state)


@st.composite
def approvable_scenarios(draw):
    """Caps drawn at random, but no gate or halt in the way: most outcomes are approved,
    many of them cut, so the properties about approved sizes are really exercised."""
    book, markets = draw(worlds())
    limits = replace(
        draw(limit_sets()), min_confidence=draw(st.floats(0.0, 0.5)), restricted=frozenset(),
        daily_loss_limit=1.0, emergency_drawdown=1.0, max_drawdown=None, price_collar=None,
        max_spread_bps=None, fat_finger_notional=None, long_only=False,
        max_open_positions=draw(st.integers(len(book.positions), 6)),
    )  # fmt: skip
    level = draw(st.sampled_from([EmergencyLevel.NORMAL, EmergencyLevel.ELEVATED]))
    proposal = replace(draw(proposals(markets, book)), confidence=draw(st.floats(0.9, 1.0)),
                       stop_loss=None, reference_price=None)
    return book, markets, proposal, environments(limits, level)
