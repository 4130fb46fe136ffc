"""Exit rules for event-driven backtests (seed 004)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from core_builders import NOW

from riskgate.core import Regime
from riskgate.core.exits import (
    DynamicTrailingStop,
    ExitType,
    Fill,
    MarketBar,
    MaxDailyLossRule,
    Order,
    RegimeDependentRule,
    RiskContext,
    RiskDecision,
    RiskManager,
    TimeBasedExit,
    VolatilityScaledStopLoss,
)

pytestmark = pytest.mark.unit


def ctx(**kw) -> RiskContext:
    """A long 10 @ 100 held for 3 bars, price 101, on 100k equity."""
    values = dict(timestamp=NOW, asset_id="AAA", price=101.0, quantity=10.0, entry_price=100.0,
                  entry_time=NOW - 300.0, bars_held=3, high_water=105.0, equity=100_000.0)
    values.update(kw)
    return RiskContext(**values)


class TestRiskContext:
    def test_context_is_immutable(self) -> None:
        """Rules cannot change the context they are given."""
        # Arrange
        c = ctx()
        # Act / Assert
        with pytest.raises(FrozenInstanceError):
            c.price = 1.0  # type: ignore[misc]

    def test_daily_loss_fraction_uses_start_of_day_equity(self) -> None:
        """A 5k loss on 95k equity is 5% of the 100k start."""
        # Arrange / Act / Assert
        assert ctx(equity=95_000.0, daily_pnl=-5_000.0).daily_loss_fraction == pytest.approx(0.05)


class TestRiskDecisionMerge:
    def test_first_exit_wins(self) -> None:
        """The first exit in rule order is the merged decision."""
        # Arrange
        first = RiskDecision.exit(ExitType.TIME_EXIT, "time")
        second = RiskDecision.exit(ExitType.STOP_LOSS, "stop")
        # Act
        merged = RiskDecision.merge([RiskDecision(update_stop_loss=99.0), first, second], 1)
        # Assert
        assert merged is first

    def test_tightest_stop_and_nearest_target_for_a_long(self) -> None:
        """For a long the highest stop and the lowest take-profit win."""
        # Arrange
        decisions = [RiskDecision(update_stop_loss=95.0, update_take_profit=120.0),
                     RiskDecision(update_stop_loss=97.0, update_take_profit=110.0)]
        # Act
        merged = RiskDecision.merge(decisions, 1)
        # Assert
        assert (merged.update_stop_loss, merged.update_take_profit) == (97.0, 110.0)

    def test_nothing_to_do_merges_to_no_action(self) -> None:
        """No updates and no exits give the no-action decision."""
        # Arrange / Act
        merged = RiskDecision.merge([RiskDecision.no_action()], -1)
        # Assert
        assert not merged.acts


class TestTimeBasedExit:
    def test_before_limit_holds(self) -> None:
        """Fewer bars than the limit: no action."""
        # Arrange / Act / Assert
        assert not TimeBasedExit(5).evaluate(ctx(bars_held=4)).should_exit

    def test_at_limit_exits(self) -> None:
        """The boundary: holding exactly max_bars exits."""
        # Arrange / Act
        decision = TimeBasedExit(5).evaluate(ctx(bars_held=5))
        # Assert
        assert (decision.should_exit, decision.exit_type) == (True, ExitType.TIME_EXIT)


class TestVolatilityScaledStopLoss:
    def test_sets_stop_at_entry_minus_k_atr(self) -> None:
        """A long's stop is entry - 2 x ATR."""
        # Arrange / Act
        decision = VolatilityScaledStopLoss(2.0).evaluate(ctx(atr=1.5))
        # Assert
        assert (decision.should_exit, decision.update_stop_loss) == (False, 97.0)

    def test_exits_when_the_bar_trades_through(self) -> None:
        """A low at or below the stop exits with STOP_LOSS."""
        # Arrange / Act
        decision = VolatilityScaledStopLoss(2.0).evaluate(ctx(atr=1.5, low=97.0))
        # Assert
        assert decision.exit_type is ExitType.STOP_LOSS

    def test_short_stop_is_above_entry(self) -> None:
        """A short's stop is entry + k x ATR."""
        # Arrange / Act
        decision = VolatilityScaledStopLoss(2.0).evaluate(ctx(quantity=-10.0, atr=1.0, high=101.0))
        # Assert
        assert decision.update_stop_loss == 102.0

    def test_without_volatility_does_nothing(self) -> None:
        """No ATR and no volatility: no stop can be set."""
        # Arrange / Act / Assert
        assert not VolatilityScaledStopLoss().evaluate(ctx()).acts


class TestDynamicTrailingStop:
    def test_trail_tightens_with_bars_held(self) -> None:
        """5% initially, 0.25% tighter per bar, never below 1%."""
        # Arrange
        rule = DynamicTrailingStop(0.05, 0.0025, 0.01)
        # Act / Assert
        assert (rule.trail(0), rule.trail(4), rule.trail(100)) == pytest.approx((0.05, 0.04, 0.01))

    def test_stop_trails_the_high_water_mark(self) -> None:
        """With high water 105 and a 4.25% trail after 3 bars the stop is 100.5375."""
        # Arrange / Act
        decision = DynamicTrailingStop().evaluate(ctx())
        # Assert
        assert decision.update_stop_loss == pytest.approx(105.0 * (1 - 0.0425))

    def test_crossing_the_trail_exits(self) -> None:
        """A low under the trailing stop exits with TRAILING_STOP."""
        # Arrange / Act
        decision = DynamicTrailingStop().evaluate(ctx(low=100.0))
        # Assert
        assert decision.exit_type is ExitType.TRAILING_STOP


class TestRegimeDependentRule:
    def test_delegates_by_regime(self) -> None:
        """In VOLATILE the volatile rule runs; in RANGING the default runs."""
        # Arrange
        rule = RegimeDependentRule({Regime.VOLATILE: TimeBasedExit(1)}, default=TimeBasedExit(50))
        # Act
        volatile = rule.evaluate(ctx(regime=Regime.VOLATILE))
        ranging = rule.evaluate(ctx(regime=Regime.RANGING))
        # Assert
        assert (volatile.should_exit, ranging.should_exit) == (True, False)

    def test_no_rule_and_no_default_does_nothing(self) -> None:
        """Without a matching rule or default there is no action."""
        # Arrange / Act / Assert
        assert not RegimeDependentRule({}).evaluate(ctx(regime=Regime.VOLATILE)).acts


class TestMaxDailyLossRule:
    def test_small_loss_holds(self) -> None:
        """A loss under the limit does nothing."""
        # Arrange / Act / Assert
        assert not MaxDailyLossRule(0.03).evaluate(ctx(equity=99_000.0, daily_pnl=-1_000.0)).acts

    def test_loss_at_limit_exits(self) -> None:
        """The boundary: a loss exactly at the limit exits with DAILY_LOSS."""
        # Arrange / Act
        decision = MaxDailyLossRule(0.03).evaluate(ctx(equity=97_000.0, daily_pnl=-3_000.0))
        # Assert
        assert decision.exit_type is ExitType.DAILY_LOSS

    def test_breach_refuses_risk_increasing_orders_only(self) -> None:
        """Once breached, adding is refused and reducing is allowed."""
        # Arrange
        rule, c = MaxDailyLossRule(0.03), ctx(equity=90_000.0, daily_pnl=-10_000.0)
        # Act
        add = rule.validate_order(Order("AAA", 5.0), c)
        cut = rule.validate_order(Order("AAA", -5.0), c)
        # Assert
        assert (add, cut) == (None, Order("AAA", -5.0))


class TestRiskManager:
    def test_fills_track_entry_and_average_price(self) -> None:
        """Opening then adding averages the entry price."""
        # Arrange
        manager = RiskManager()
        # Act
        manager.record_fill(Fill("AAA", 10.0, 100.0, NOW))
        manager.record_fill(Fill("AAA", 10.0, 110.0, NOW + 60))
        # Assert
        state = manager.position("AAA")
        assert (state.quantity, state.entry_price, state.entry_time) == (20.0, 105.0, NOW)

    def test_closing_and_flipping(self) -> None:
        """Closing forgets the position; flipping starts a new entry at the fill price."""
        # Arrange
        manager = RiskManager()
        manager.record_fill(Fill("AAA", 10.0, 100.0, NOW))
        manager.record_fill(Fill("BBB", 5.0, 50.0, NOW))
        # Act
        manager.record_fill(Fill("AAA", -10.0, 101.0, NOW + 1))
        manager.record_fill(Fill("BBB", -8.0, 52.0, NOW + 1))
        # Assert
        assert manager.position("AAA") is None
        assert (manager.position("BBB").quantity, manager.position("BBB").entry_price) == (-3.0,
                                                                                         52.0)

    def test_rules_run_per_bar_and_count_bars(self) -> None:
        """The time exit fires on the bar that reaches max_bars."""
        # Arrange
        manager = RiskManager()
        manager.register_rule(TimeBasedExit(2))
        manager.record_fill(Fill("AAA", 10.0, 100.0, NOW))
        bar = lambda i: MarketBar("AAA", NOW + 60 * i, 100.0)  # noqa: E731
        # Act
        first = manager.check_position_exits([bar(1)])
        second = manager.check_position_exits([bar(2)])
        # Assert
        assert first == [] and second[0][1].exit_type is ExitType.TIME_EXIT

    def test_tracked_stop_never_loosens_and_is_hit(self) -> None:
        """A trailing stop ratchets up with the high and a later bar through it exits."""
        # Arrange
        manager = RiskManager([DynamicTrailingStop(0.05, 0.0, 0.05)])
        manager.record_fill(Fill("AAA", 10.0, 100.0, NOW))
        # Act
        manager.check_position_exits([MarketBar("AAA", NOW + 60, 110.0, high=110.0, low=109.0)])
        manager.check_position_exits([MarketBar("AAA", NOW + 120, 106.0, high=106.0, low=105.0)])
        stop = manager.position("AAA").stop_loss
        hit = manager.check_position_exits([MarketBar("AAA", NOW + 180, 104.0, low=104.0)])
        # Assert
        assert stop == pytest.approx(104.5)
        assert hit[0][1].exit_type is ExitType.STOP_LOSS

    def test_a_wider_volatility_stop_does_not_loosen_the_tracked_stop(self) -> None:
        """When ATR widens, the tracked stop keeps its earlier, tighter level."""
        # Arrange
        manager = RiskManager([VolatilityScaledStopLoss(2.0)])
        manager.record_fill(Fill("AAA", 10.0, 100.0, NOW))
        # Act
        manager.check_position_exits([MarketBar("AAA", NOW + 60, 101.0, atr=1.0)])
        manager.check_position_exits([MarketBar("AAA", NOW + 120, 101.0, atr=5.0)])
        # Assert
        assert manager.position("AAA").stop_loss == 98.0

    def test_validate_order_asks_every_rule(self) -> None:
        """An order refused by any rule is refused."""
        # Arrange
        manager = RiskManager([TimeBasedExit(5), MaxDailyLossRule(0.02)])
        losing = ctx(equity=95_000.0, daily_pnl=-5_000.0)
        # Act / Assert
        assert manager.validate_order(Order("AAA", 1.0), losing) is None
        assert manager.validate_order(Order("AAA", 1.0), ctx()) == Order("AAA", 1.0)

    def test_bars_for_flat_assets_are_ignored(self) -> None:
        """A bar for an asset without a position produces nothing."""
        # Arrange
        manager = RiskManager([TimeBasedExit(0)])
        # Act / Assert
        assert manager.check_position_exits([MarketBar("ZZZ", NOW, 1.0)]) == []
