"""Seed 000's API: RiskOrchestrator.assess_trade_risk(signal, portfolio) -> RiskAssessment.

A LONG/SHORT signal is sized fixed-fractionally (max risk per trade over the stop distance;
the 2% stop and 4% take-profit bases, as no volatility is known) and then run through the
core chain. ``recommended_position_size`` is in units of the asset.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from riskgate.core import (
    ActionType,
    Environment,
    LimitsError,
    MarketData,
    Portfolio,
    Proposal,
    RiskLevel,
    assess,
    resolve_limits,
)  # fmt: skip
from riskgate.core.sizing import (
    fixed_fractional_size,
    risk_level,
    risk_score,
    stop_loss_price,
    take_profit_price,
)  # fmt: skip

#: The seed's production configuration.
DEFAULT_CONFIG: Mapping[str, Any] = {
    "risk_limits": {"max_drawdown_limit": 0.20, "daily_loss_limit": 0.05}}
_SEED_KEYS = {"max_drawdown_limit", "daily_loss_limit"}
_APPROVED = (ActionType.OK, ActionType.CAPPED, ActionType.SCALED_DOWN)
__all__ = ["PortfolioState", "RiskAssessment", "RiskLevel", "RiskOrchestrator", "SignalType",
           "TradingSignal"]


class SignalType(StrEnum):
    """Direction of a trading signal (lower-case values are accepted too)."""

    LONG = "LONG"
    SHORT = "SHORT"
    CLOSE = "CLOSE"
    HOLD = "HOLD"

    @classmethod
    def _missing_(cls, value: object) -> SignalType | None:
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


@dataclass(frozen=True)
class TradingSignal:
    """A signal as in seed 000."""

    signal_id: str
    asset: str
    signal_type: SignalType
    price: float
    confidence: float


@dataclass(frozen=True)
class PortfolioState:
    """Portfolio state as in seed 000 (drawdown a fraction, P&L in account currency)."""

    total_equity: float
    current_drawdown: float
    daily_pnl: float


@dataclass(frozen=True)
class RiskAssessment:
    """The answer for one signal."""

    signal_id: str
    asset: str | None = None
    signal_type: SignalType | None = None
    signal_price: float | None = None
    signal_confidence: float | None = None
    is_approved: bool = False
    recommended_position_size: float = 0.0
    stop_loss_price: float | None = None
    take_profit_price: float | None = None
    risk_level: RiskLevel = RiskLevel.CRITICAL
    risk_score: float = 100.0
    rejection_reason: str | None = None


def _finite(name: str, value: Any, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return float(value)


def _limits(config: Mapping[str, Any] | None):
    config = DEFAULT_CONFIG if config is None else config
    unknown = set(config) - {"risk_limits", "profile"}
    if unknown:
        raise LimitsError(f"unknown config keys: {', '.join(sorted(unknown))}")
    seed = dict(config.get("risk_limits", {}))
    overlay = {k: v for k, v in seed.items() if k not in _SEED_KEYS}
    if "max_drawdown_limit" in seed:  # the seed's single drawdown limit halts at that level
        overlay["max_drawdown"] = overlay["emergency_drawdown"] = seed["max_drawdown_limit"]
    if "daily_loss_limit" in seed:
        overlay["daily_loss_limit"] = seed["daily_loss_limit"]
    return resolve_limits(config.get("profile", "NORMAL"), overlay)


class RiskOrchestrator:
    """Seed 000's orchestrator; ``config`` is the seed's dict form (default: production)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = DEFAULT_CONFIG if config is None else config
        self.limits = _limits(config)

    def assess_trade_risk(self, signal: TradingSignal, portfolio: PortfolioState
                          ) -> RiskAssessment:
        """Assess one signal; an error yields a not-approved CRITICAL assessment."""
        try:
            return self._assess(signal, portfolio)
        except Exception as exc:  # the seed's contract: never raise out of an assessment
            return RiskAssessment(
                signal_id=getattr(signal, "signal_id", ""), asset=getattr(signal, "asset", None),
                is_approved=False, risk_level=RiskLevel.CRITICAL,
                rejection_reason=f"Risk assessment error: {exc}")  # fmt: skip

    def batch_assessment(self, signals: Iterable[TradingSignal], portfolio: PortfolioState
                         ) -> list[RiskAssessment]:
        """One assessment per signal, in order."""
        return [self.assess_trade_risk(signal, portfolio) for signal in signals]

    def _assess(self, signal: TradingSignal, state: PortfolioState) -> RiskAssessment:
        kind = SignalType(signal.signal_type)
        price = _finite("price", signal.price, 0.0)
        confidence = _finite("confidence", signal.confidence, 0.0)
        equity = _finite("total_equity", state.total_equity, 0.0)
        drawdown = _finite("current_drawdown", state.current_drawdown, 0.0)
        pnl = _finite("daily_pnl", state.daily_pnl)
        if price <= 0 or equity <= 0 or drawdown >= 1 or confidence > 1:
            raise ValueError("price and equity must be positive, drawdown below 1, "
                             "confidence at most 1")
        side = {SignalType.LONG: 1, SignalType.SHORT: -1}.get(kind, 0)
        base = dict(signal_id=signal.signal_id, asset=signal.asset, signal_type=kind,
                    signal_price=price, signal_confidence=confidence)
        if side == 0:
            score = risk_score(drawdown=drawdown)
            return RiskAssessment(**base, is_approved=kind is SignalType.CLOSE,
                                  risk_level=risk_level(score), risk_score=score,
                                  rejection_reason=None if kind is SignalType.CLOSE
                                  else "HOLD signal: nothing to trade")
        stop = stop_loss_price(side, price, base_pct=self.limits.base_stop_pct)
        take = take_profit_price(side, price, base_pct=self.limits.base_take_profit_pct)
        size = fixed_fractional_size(equity, self.limits.max_risk_per_trade, abs(price - stop))
        outcome = self._run(signal, side * size, price, confidence, equity, drawdown, pnl, stop)
        approved = outcome.action_type in _APPROVED and outcome.approved_position != 0
        units = abs(outcome.approved_position) if approved else 0.0
        score = risk_score(drawdown=drawdown,
                           leverage=units * price / equity, max_leverage=self.limits.max_leverage)
        return RiskAssessment(
            **base, is_approved=approved, recommended_position_size=units,
            stop_loss_price=stop, take_profit_price=take, risk_level=risk_level(score),
            risk_score=score,
            rejection_reason=None if approved else outcome.risk_reasoning_summary)

    def _run(self, signal: TradingSignal, quantity: float, price: float, confidence: float,
             equity: float, drawdown: float, pnl: float, stop: float):
        # The seed API has no clock: every time is 0, so nothing is ever stale or expired.
        market = MarketData(signal.asset, price, lot_size=1e-8, tick_size=1e-8)
        portfolio = Portfolio("compat", equity, pnl_today=pnl,
                              peak_equity=equity / (1.0 - drawdown))
        proposal = Proposal(signal.signal_id, "compat", "compat", signal.asset,
                            target_quantity=quantity, confidence=confidence, stop_loss=stop)
        return assess(proposal, portfolio, market, Environment(now=0.0, limits=self.limits))
