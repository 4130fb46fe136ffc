"""Values of the exit-rule layer: bars, fills, orders, the RiskContext and RiskDecision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from riskgate.core.domain import Regime

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ExitType(StrEnum):
    """Why a position is closed."""

    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    TRAILING_STOP = "TRAILING_STOP"
    TIME_EXIT = "TIME_EXIT"
    DAILY_LOSS = "DAILY_LOSS"
    REGIME = "REGIME"


@dataclass(frozen=True, slots=True)
class MarketBar:
    """One bar of market data for one asset (times in epoch seconds)."""

    asset_id: str
    timestamp: float
    close: float
    high: float | None = None
    low: float | None = None
    atr: float | None = None
    volatility: float | None = None
    regime: Regime | None = None
    features: Mapping[str, float] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: ``quantity`` is the signed change of the position."""

    asset_id: str
    quantity: float
    price: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class Order:
    """A strategy order: ``quantity`` is the signed change it asks for."""

    asset_id: str
    quantity: float
    price: float | None = None


@dataclass(frozen=True, slots=True)
class PositionState:
    """What the manager tracks per open position."""

    quantity: float
    entry_price: float
    entry_time: float
    bars_held: int = 0
    high_water: float = 0.0  # best price since entry: highest for a long, lowest for a short
    stop_loss: float | None = None
    take_profit: float | None = None


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Read-only state a rule sees: market, position and portfolio."""

    timestamp: float
    asset_id: str
    price: float
    quantity: float = 0.0
    entry_price: float | None = None
    entry_time: float | None = None
    bars_held: int = 0
    high_water: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    high: float | None = None
    low: float | None = None
    atr: float | None = None
    volatility: float | None = None
    regime: Regime | None = None
    equity: float = 0.0
    daily_pnl: float = 0.0
    features: Mapping[str, float] = field(default_factory=lambda: _EMPTY)

    @property
    def side(self) -> int:
        """+1 long, -1 short, 0 flat."""
        return (self.quantity > 0) - (self.quantity < 0)

    @property
    def daily_loss_fraction(self) -> float:
        """Today's loss over start-of-day equity (0 when not losing)."""
        start = self.equity - self.daily_pnl
        return -self.daily_pnl / start if self.daily_pnl < 0 and start > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """A rule's answer: exit now, and/or move the stop-loss or take-profit."""

    should_exit: bool = False
    exit_type: ExitType | None = None
    update_stop_loss: float | None = None
    update_take_profit: float | None = None
    reason: str = ""

    @classmethod
    def no_action(cls) -> RiskDecision:
        """Nothing to do."""
        return _NO_ACTION

    @classmethod
    def exit(cls, exit_type: ExitType, reason: str) -> RiskDecision:
        """Close the position."""
        return cls(True, exit_type, reason=reason)

    @property
    def acts(self) -> bool:
        """True when the decision exits or moves a level."""
        return (self.should_exit or self.update_stop_loss is not None
                or self.update_take_profit is not None)

    @staticmethod
    def merge(decisions: Iterable[RiskDecision], side: int) -> RiskDecision:
        """One decision: the first exit wins; else the tightest stop and nearest target."""
        stops, targets, reasons = [], [], []
        for d in decisions:
            if d.should_exit:
                return d
            if d.update_stop_loss is not None:
                stops.append(d.update_stop_loss)
                reasons.append(d.reason)
            if d.update_take_profit is not None:
                targets.append(d.update_take_profit)
                reasons.append(d.reason)
        if not stops and not targets:
            return _NO_ACTION
        pick_stop, pick_target = (max, min) if side >= 0 else (min, max)
        return RiskDecision(False, None, pick_stop(stops) if stops else None,
                            pick_target(targets) if targets else None, "; ".join(reasons))


_NO_ACTION = RiskDecision()


class RiskRule(Protocol):
    """A rule: ``evaluate`` per bar for an open position; ``validate_order`` optional."""

    def evaluate(self, context: RiskContext) -> RiskDecision: ...
