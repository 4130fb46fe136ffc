"""Size caps: per-name, position size and strategy budget."""

from __future__ import annotations

import math

import pytest
from core_builders import book, env, loose, market, proposal, run, verdict

from riskgate.core import ActionType
from riskgate.core.constraints.size import PerNameCap, PositionSizeCap, StrategyBudget

pytestmark = pytest.mark.unit

# Equity 100k; AAA trades at 100 (TECH, US, C1). BBB at 50 in the same groups.
BBB = market("BBB", 50.0, factors=(("mom", 1.0),))


def held(**positions: float):
    """A book holding the given positions, priced with AAA at 100 and BBB at 50."""
    markets = {"AAA": market("AAA", factors=(("mom", 1.0),)), "BBB": BBB}
    return book(positions, {t: markets[t] for t in positions})


class TestPerNameCap:
    def test_within_weight_cap_passes(self) -> None:
        """A name under its weight cap passes with its weight as value."""
        # Arrange / Act
        v = verdict(PerNameCap(0.05, None), proposal(40.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.04))

    def test_weight_cap_caps(self) -> None:
        """A name over its weight cap is CAPPED to the cap (5% of 100k = 50 units)."""
        # Arrange / Act
        outcome = run(proposal(80.0), e=env(loose(per_name_weight_cap=0.05)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.CAPPED, pytest.approx(50.0), ("PER_NAME_WEIGHT_CAP",))

    def test_tighter_money_cap_reports_itself(self) -> None:
        """With both caps set, the tighter one (money here) binds and reports."""
        # Arrange
        e = env(loose(per_name_weight_cap=0.05, per_name_notional_cap=3_000.0))
        # Act
        outcome = run(proposal(80.0), e=e)
        # Assert
        assert (outcome.target_position, outcome.reason_codes) == (
            pytest.approx(30.0), ("PER_NAME_NOTIONAL_CAP",))

    def test_exactly_at_cap_passes(self) -> None:
        """The boundary: a weight equal to the cap passes."""
        # Arrange / Act
        v = verdict(PerNameCap(0.05, None), proposal(50.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_short_is_capped_symmetrically(self) -> None:
        """A short over the cap is capped at minus the cap."""
        # Arrange / Act
        outcome = run(proposal(-80.0), e=env(loose(per_name_weight_cap=0.05)))
        # Assert
        assert outcome.target_position == pytest.approx(-50.0)

    def test_weight_target_non_finite_never_passes(self) -> None:
        """A NaN weight is invalid input."""
        # Arrange / Act
        outcome = run(proposal(None, math.nan), e=env(loose(per_name_weight_cap=0.05)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestPositionSizeCap:
    def test_within_cap_passes(self) -> None:
        """A position under the money cap passes."""
        # Arrange / Act
        v = verdict(PositionSizeCap(1_000.0), proposal(5.0))
        # Assert
        assert (v.kind, v.value, v.headroom) == (ActionType.OK, 500.0, 500.0)

    def test_over_cap_is_capped(self) -> None:
        """The NORMAL-style $1000 cap caps 50 units at 100 to 10 units."""
        # Arrange / Act
        outcome = run(proposal(50.0), e=env(loose(position_size_cap=1_000.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.max_passing_position) == (
            ActionType.CAPPED, 10.0, 10.0)

    def test_exactly_at_cap_passes(self) -> None:
        """The boundary: a notional equal to the cap passes."""
        # Arrange / Act
        v = verdict(PositionSizeCap(1_000.0), proposal(10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_position_already_over_cap_cannot_grow(self) -> None:
        """A position above the cap may stay but the increase is REJECTED (no room)."""
        # Arrange / Act
        outcome = run(proposal(30.0), held(AAA=20.0), e=env(loose(position_size_cap=1_000.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.REJECTED, 20.0)

    def test_nan_price_never_passes(self) -> None:
        """A NaN price is invalid input, not an infinitely small notional."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(price=math.nan),
                      e=env(loose(position_size_cap=1_000.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestStrategyBudget:
    def test_within_budget_passes(self) -> None:
        """A strategy under its gross budget passes."""
        # Arrange / Act
        v = verdict(StrategyBudget(0.5), proposal(100.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.1))

    def test_over_budget_is_scaled_down(self) -> None:
        """The strategy's other positions count: 20k held + 40k asked on a 30% budget."""
        # Arrange
        b = book({"BBB": 400.0}, {"BBB": BBB}, position_strategies={"BBB": "strat-1"})
        # Act
        outcome = run(proposal(400.0), b, e=env(loose(strategy_budget=0.3)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.SCALED_DOWN, pytest.approx(100.0), ("STRATEGY_BUDGET",))

    def test_other_strategies_do_not_count(self) -> None:
        """Exposure attributed to another strategy is not in this strategy's budget."""
        # Arrange
        b = book({"BBB": 400.0}, {"BBB": BBB}, position_strategies={"BBB": "other"})
        # Act
        outcome = run(proposal(300.0), b, e=env(loose(strategy_budget=0.3)))
        # Assert
        assert outcome.action_type is ActionType.OK

    def test_exactly_at_budget_passes(self) -> None:
        """The boundary: gross equal to the budget passes."""
        # Arrange / Act
        v = verdict(StrategyBudget(0.3), proposal(300.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_nan_equity_never_passes(self) -> None:
        """A NaN equity is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), book(equity=math.nan), e=env(loose(strategy_budget=0.3)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)
