"""Sizing (seed 002): stops, targets, risk-reward, fixed-fractional and capped-Kelly size,
leverage, risk score and risk level. Pure functions of their arguments."""

from __future__ import annotations

import math

from riskgate.core.domain import MarketData, Proposal, RiskLevel
from riskgate.core.limits import Limits

BASE_STOP_PCT = 0.02
BASE_TAKE_PROFIT_PCT = 0.04


def stop_distance(price: float, atr: float | None = None, volatility: float | None = None,
                  multiple: float = 2.0, base_pct: float = BASE_STOP_PCT) -> float:
    """Distance from entry to stop in price units: k x ATR, else k x volatility x price,
    else the 2% base."""
    if atr is not None:
        return multiple * atr
    if volatility is not None:
        return multiple * volatility * price
    return base_pct * price


def stop_loss_price(side: int, price: float, atr: float | None = None,
                    volatility: float | None = None, multiple: float = 2.0,
                    base_pct: float = BASE_STOP_PCT) -> float:
    """Stop-loss price for a long (side > 0) or short (side < 0) entry at ``price``."""
    return price - math.copysign(stop_distance(price, atr, volatility, multiple, base_pct), side)


def take_profit_price(side: int, price: float, atr: float | None = None,
                      volatility: float | None = None, multiple: float = 4.0,
                      base_pct: float = BASE_TAKE_PROFIT_PCT) -> float:
    """Take-profit price for a long or short entry: k x ATR/volatility, else the 4% base."""
    return price + math.copysign(stop_distance(price, atr, volatility, multiple, base_pct), side)


def risk_reward_ratio(entry: float, stop: float, take_profit: float) -> float:
    """Reward over risk: |take_profit - entry| / |entry - stop| (inf for a zero stop)."""
    risk = abs(entry - stop)
    return abs(take_profit - entry) / risk if risk > 0 else math.inf


def round_to_tick(price: float, tick: float, direction: int = 0) -> float:
    """Round a price to the tick grid: down (-1), up (+1) or nearest (0)."""
    steps = price / tick
    steps = math.floor(steps + 1e-9) if direction < 0 else (
        math.ceil(steps - 1e-9) if direction > 0 else round(steps))
    return steps * tick


def trade_stop_distance(proposal: Proposal, market: MarketData, limits: Limits) -> float:
    """Stop distance for risk per trade: the proposal's stop, else ATR, else the 2% base;
    rounded up to the tick so the loss at the stop is never understated."""
    price = market.price
    if proposal.stop_loss is not None:
        distance = abs(price - proposal.stop_loss)
    elif market.atr is not None:
        distance = limits.stop_atr_multiple * market.atr
    else:
        distance = limits.base_stop_pct * price
    return round_to_tick(distance, market.tick_size, 1)


def fixed_fractional_size(equity: float, max_risk: float, loss_per_unit: float) -> float:
    """Units such that the loss at the stop is ``max_risk`` of equity."""
    return equity * max_risk / loss_per_unit if loss_per_unit > 0 else 0.0


def kelly_fraction(win_rate: float, win_loss_ratio: float, cap: float = 0.25) -> float:
    """Kelly fraction p - (1 - p) / b, floored at 0 and capped at ``cap``."""
    if win_loss_ratio <= 0:
        return 0.0
    return min(cap, max(0.0, win_rate - (1.0 - win_rate) / win_loss_ratio))


def kelly_size(equity: float, unit_value: float, win_rate: float, win_loss_ratio: float,
               cap: float = 0.25) -> float:
    """Units for a capped-Kelly notional of equity x fraction."""
    fraction = kelly_fraction(win_rate, win_loss_ratio, cap)
    return equity * fraction / unit_value if unit_value > 0 else 0.0


def recommended_leverage(volatility: float | None, max_leverage: float,
                         target_volatility: float = 0.02, risk_score: float = 0.0) -> float:
    """Leverage that targets ``target_volatility`` daily, discounted by the risk score,
    between 1 and the profile's max leverage (1 when volatility is unknown)."""
    if volatility is None or volatility <= 0:
        return 1.0
    raw = target_volatility / volatility * (1.0 - min(max(risk_score, 0.0), 100.0) / 100.0)
    return min(max_leverage, max(1.0, raw))


def risk_score(volatility: float | None = None, spread_bps: float = 0.0,
               adv_participation: float = 0.0, drawdown: float = 0.0,
               leverage: float = 1.0, max_leverage: float = 5.0) -> float:
    """A 0-100 score: weighted volatility, spread, participation, drawdown and leverage use."""
    vol = 0.5 if volatility is None else min(volatility / 0.08, 1.0)
    parts = (
        (0.35, vol),
        (0.15, min(spread_bps / 50.0, 1.0)),
        (0.15, min(adv_participation / 0.10, 1.0)),
        (0.20, min(drawdown / 0.20, 1.0)),
        (0.15, min(leverage / max_leverage, 1.0) if max_leverage > 0 else 1.0),
    )
    return round(100.0 * sum(w * max(0.0, x) for w, x in parts), 2)


def risk_level(score: float) -> RiskLevel:
    """The level band of a 0-100 score: <20 MINIMAL, <40 LOW, <60 MEDIUM, <80 HIGH."""
    for ceiling, level in ((20, RiskLevel.MINIMAL), (40, RiskLevel.LOW),
                           (60, RiskLevel.MEDIUM), (80, RiskLevel.HIGH)):
        if score < ceiling:
            return level
    return RiskLevel.CRITICAL
