"""RiskManager: tracks positions from fills and runs the exit rules per bar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from riskgate.core.exits.model import (
    ExitType,
    Fill,
    MarketBar,
    Order,
    PositionState,
    RiskContext,
    RiskDecision,
    RiskRule,
)  # fmt: skip


def _level_hit(state: PositionState, bar: MarketBar) -> RiskDecision | None:
    """An exit when the bar reached the tracked stop-loss or take-profit."""
    side = 1 if state.quantity > 0 else -1
    low = bar.low if bar.low is not None else bar.close
    high = bar.high if bar.high is not None else bar.close
    worst, best = (low, high) if side > 0 else (high, low)
    stop, take = state.stop_loss, state.take_profit
    if stop is not None and (worst - stop) * side <= 0:
        return RiskDecision.exit(ExitType.STOP_LOSS, f"stop-loss {stop:.6g} reached")
    if take is not None and (best - take) * side >= 0:
        return RiskDecision.exit(ExitType.TAKE_PROFIT, f"take-profit {take:.6g} reached")
    return None


class RiskManager:
    """Rules registered in order; position state advanced by ``record_fill`` and each
    ``check_position_exits``. It never reads a clock: every time comes from a bar or fill."""

    def __init__(self, rules: Iterable[RiskRule] = ()) -> None:
        self._rules: list[RiskRule] = list(rules)
        self._positions: dict[str, PositionState] = {}

    def register_rule(self, rule: RiskRule) -> None:
        """Add a rule; rules are evaluated in registration order."""
        self._rules.append(rule)

    def position(self, asset_id: str) -> PositionState | None:
        """The tracked state of an open position."""
        return self._positions.get(asset_id)

    def record_fill(self, fill: Fill) -> None:
        """Update the position: open, add (average entry), reduce, close or flip."""
        state = self._positions.get(fill.asset_id)
        old = state.quantity if state is not None else 0.0
        new = old + fill.quantity
        if abs(new) < 1e-12:
            self._positions.pop(fill.asset_id, None)
        elif state is None or old * new < 0:  # opened or flipped: a fresh entry
            self._positions[fill.asset_id] = PositionState(
                new, fill.price, fill.timestamp, high_water=fill.price)
        elif abs(new) > abs(old):  # added: average the entry
            entry = (state.entry_price * old + fill.price * fill.quantity) / new
            self._positions[fill.asset_id] = replace(state, quantity=new, entry_price=entry)
        else:
            self._positions[fill.asset_id] = replace(state, quantity=new)

    def context(self, bar: MarketBar, equity: float = 0.0, daily_pnl: float = 0.0
                ) -> RiskContext:
        """The immutable context of a bar, with the tracked position if any."""
        s = self._positions.get(bar.asset_id)
        return RiskContext(
            bar.timestamp, bar.asset_id, bar.close,
            s.quantity if s else 0.0, s.entry_price if s else None,
            s.entry_time if s else None, s.bars_held if s else 0,
            s.high_water if s else None, s.stop_loss if s else None,
            s.take_profit if s else None, bar.high, bar.low, bar.atr, bar.volatility,
            bar.regime, equity, daily_pnl, bar.features,
        )  # fmt: skip

    def _advance(self, state: PositionState, bar: MarketBar) -> PositionState:
        long = state.quantity > 0
        extreme = (bar.high if long else bar.low) or bar.close
        best = max(state.high_water, extreme) if long else min(state.high_water, extreme)
        return replace(state, bars_held=state.bars_held + 1, high_water=best)

    def _tighten(self, state: PositionState, decision: RiskDecision) -> PositionState:
        stop, take = decision.update_stop_loss, decision.update_take_profit
        side = 1 if state.quantity > 0 else -1
        if stop is not None and state.stop_loss is not None:
            stop = max(stop * side, state.stop_loss * side) * side  # a stop never loosens
        return replace(state, stop_loss=stop if stop is not None else state.stop_loss,
                       take_profit=take if take is not None else state.take_profit)

    def check_position_exits(self, bars: Iterable[MarketBar], equity: float = 0.0,
                             daily_pnl: float = 0.0) -> list[tuple[str, RiskDecision]]:
        """Advance each open position by its bar and evaluate levels and rules.

        Returns (asset_id, decision) for every decision that exits or moves a level."""
        out: list[tuple[str, RiskDecision]] = []
        for bar in bars:
            state = self._positions.get(bar.asset_id)
            if state is None:
                continue
            state = self._positions[bar.asset_id] = self._advance(state, bar)
            decision = _level_hit(state, bar)
            if decision is None:
                context = self.context(bar, equity, daily_pnl)
                side = 1 if state.quantity > 0 else -1
                decision = RiskDecision.merge((r.evaluate(context) for r in self._rules), side)
                if not decision.should_exit:
                    self._positions[bar.asset_id] = self._tighten(state, decision)
            if decision.acts:
                out.append((bar.asset_id, decision))
        return out

    def validate_order(self, order: Order, context: RiskContext) -> Order | None:
        """The order as every rule with ``validate_order`` allows it, or None if refused."""
        for rule in self._rules:
            check = getattr(rule, "validate_order", None)
            if check is not None:
                order = check(order, context)
                if order is None:
                    return None
        return order
