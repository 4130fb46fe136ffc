"""The exit rules of seed 004. Each is immutable and returns a RiskDecision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from riskgate.core.domain import Regime
from riskgate.core.exits.model import ExitType, Order, RiskContext, RiskDecision, RiskRule


def _crossed(context: RiskContext, stop: float) -> bool:
    """True when the bar traded through a stop (long: low <= stop; short: high >= stop)."""
    if context.side > 0:
        low = context.low if context.low is not None else context.price
        return low <= stop
    high = context.high if context.high is not None else context.price
    return high >= stop


@dataclass(frozen=True, slots=True)
class TimeBasedExit:
    """Exit after the position has been held ``max_bars`` bars."""

    max_bars: int

    def evaluate(self, context: RiskContext) -> RiskDecision:
        if context.bars_held >= self.max_bars:
            return RiskDecision.exit(ExitType.TIME_EXIT,
                                     f"held {context.bars_held} bars >= {self.max_bars}")
        return RiskDecision.no_action()


@dataclass(frozen=True, slots=True)
class VolatilityScaledStopLoss:
    """Stop at entry -/+ k x ATR (k x volatility x entry when there is no ATR)."""

    multiple: float = 2.0

    def evaluate(self, context: RiskContext) -> RiskDecision:
        entry = context.entry_price
        if entry is None or context.side == 0:
            return RiskDecision.no_action()
        if context.atr is not None:
            distance = self.multiple * context.atr
        elif context.volatility is not None:
            distance = self.multiple * context.volatility * entry
        else:
            return RiskDecision.no_action()
        stop = entry - context.side * distance
        if _crossed(context, stop):
            return RiskDecision.exit(ExitType.STOP_LOSS,
                                     f"price crossed volatility stop {stop:.6g}")
        return RiskDecision(update_stop_loss=stop, reason=f"volatility stop {stop:.6g}")


@dataclass(frozen=True, slots=True)
class DynamicTrailingStop:
    """A trailing stop off the best price since entry that tightens each bar held:
    trail = max(min_trail_pct, initial_trail_pct - tighten_per_bar x bars_held)."""

    initial_trail_pct: float = 0.05
    tighten_per_bar: float = 0.0025
    min_trail_pct: float = 0.01

    def trail(self, bars_held: int) -> float:
        """The trail fraction after ``bars_held`` bars."""
        return max(self.min_trail_pct, self.initial_trail_pct - self.tighten_per_bar * bars_held)

    def evaluate(self, context: RiskContext) -> RiskDecision:
        best = context.high_water
        if best is None or context.side == 0:
            return RiskDecision.no_action()
        stop = best * (1.0 - context.side * self.trail(context.bars_held))
        if _crossed(context, stop):
            return RiskDecision.exit(ExitType.TRAILING_STOP,
                                     f"price crossed trailing stop {stop:.6g}")
        return RiskDecision(update_stop_loss=stop, reason=f"trailing stop {stop:.6g}")


@dataclass(frozen=True, slots=True)
class RegimeDependentRule:
    """Delegate to the rule for the context's regime (``default`` when none matches)."""

    rules: Mapping[Regime, RiskRule]
    default: RiskRule | None = None

    def evaluate(self, context: RiskContext) -> RiskDecision:
        rule = self.rules.get(context.regime, self.default) if context.regime else self.default
        return rule.evaluate(context) if rule is not None else RiskDecision.no_action()


@dataclass(frozen=True, slots=True)
class MaxDailyLossRule:
    """Once today's loss reaches ``max_loss_pct`` of start-of-day equity: exit positions and
    refuse orders that add risk."""

    max_loss_pct: float

    def breached(self, context: RiskContext) -> bool:
        """True when today's loss is at or beyond the limit."""
        loss = context.daily_loss_fraction
        return loss > 0 and loss >= self.max_loss_pct

    def evaluate(self, context: RiskContext) -> RiskDecision:
        if self.breached(context):
            return RiskDecision.exit(
                ExitType.DAILY_LOSS,
                f"daily loss {context.daily_loss_fraction:.4f} >= {self.max_loss_pct}")
        return RiskDecision.no_action()

    def validate_order(self, order: Order, context: RiskContext) -> Order | None:
        """None for a risk-increasing order while the limit is breached."""
        after = context.quantity + order.quantity
        reduces = abs(after) <= abs(context.quantity) and after * context.quantity >= 0
        return order if reduces or not self.breached(context) else None
