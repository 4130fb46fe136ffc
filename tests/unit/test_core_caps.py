"""Size caps, exposure caps and liquidity: one test class per constraint."""

from __future__ import annotations

import math

import pytest
from core_builders import book, env, loose, market, proposal, run, verdict

from riskgate.core import ActionType
from riskgate.core.constraints.exposure import (
    ClusterCap,
    CountryCap,
    FactorCap,
    GrossExposureCap,
    MaxOpenPositions,
    NetExposureCap,
    SectorCap,
)
from riskgate.core.constraints.liquidity import AdvParticipation, lot_rounding
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


@pytest.mark.parametrize(("cap_cls", "field", "code"), [
    (SectorCap, "sector_cap", "SECTOR_CAP"),
    (CountryCap, "country_cap", "COUNTRY_CAP"),
    (ClusterCap, "cluster_cap", "CLUSTER_CAP"),
])  # fmt: skip
class TestGroupCaps:
    """Sector, country and cluster caps share one behaviour on their own group."""

    def test_within_cap_passes(self, cap_cls, field: str, code: str) -> None:
        """A group under its cap passes, with the group's gross weight as value."""
        # Arrange
        b = held(BBB=200.0)  # 10k in the group
        # Act
        v = verdict(cap_cls(0.3), proposal(100.0), b)  # + 10k
        # Assert
        assert (v.kind, v.reason, v.value) == (ActionType.OK, code, pytest.approx(0.2))

    def test_over_cap_is_capped_by_the_group(self, cap_cls, field: str, code: str) -> None:
        """Other names in the group count: 10k held + 30k asked on a 30% cap leaves 20k."""
        # Arrange
        b = held(BBB=200.0)
        # Act
        outcome = run(proposal(300.0), b, e=env(loose(**{field: 0.3})))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.CAPPED, pytest.approx(200.0), (code,))

    def test_exactly_at_cap_passes(self, cap_cls, field: str, code: str) -> None:
        """The boundary: group gross equal to the cap passes."""
        # Arrange / Act
        v = verdict(cap_cls(0.3), proposal(200.0), held(BBB=200.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_another_group_does_not_count(self, cap_cls, field: str, code: str) -> None:
        """Exposure in a different group leaves this one's headroom alone."""
        # Arrange
        other = market("BBB", 50.0, sector="UTIL", country="JP", cluster="C9")
        b = book({"BBB": 2_000.0}, {"BBB": other})
        # Act
        v = verdict(cap_cls(0.3), proposal(300.0), b)
        # Assert
        assert v.kind is ActionType.OK

    def test_derisking_is_never_capped(self, cap_cls, field: str, code: str) -> None:
        """A cut passes even when the group is far above its cap."""
        # Arrange / Act
        outcome = run(proposal(500.0), held(AAA=1_000.0), e=env(loose(**{field: 0.01})))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 500.0)

    def test_nan_position_never_passes(self, cap_cls, field: str, code: str) -> None:
        """A NaN position in the book is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), held(BBB=math.nan), e=env(loose(**{field: 0.3})))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestFactorCap:
    def test_within_cap_passes(self) -> None:
        """Net factor exposure under the cap passes."""
        # Arrange
        m = market(factors=(("mom", 0.5),))
        # Act
        v = verdict(FactorCap({"mom": 0.1}), proposal(100.0), m=m)
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.05))

    def test_over_cap_is_capped(self) -> None:
        """Loading 0.5 x 30k = 15k on a 10% cap of 100k caps the target at 200 units."""
        # Arrange
        m = market(factors=(("mom", 0.5),))
        # Act
        outcome = run(proposal(300.0), m=m, e=env(loose(factor_caps={"mom": 0.1})))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.CAPPED, pytest.approx(200.0), ("FACTOR_CAP",))

    def test_hedging_exposure_is_allowed(self) -> None:
        """A trade that brings net factor exposure back toward zero passes."""
        # Arrange: BBB long 400 x 50 x 1.0 = 20k of mom, above a 10% cap
        m = market(factors=(("mom", 1.0),))
        # Act
        outcome = run(proposal(-150.0), held(BBB=400.0), m,
                      env(loose(factor_caps={"mom": 0.1})))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, -150.0)

    def test_exactly_at_cap_passes(self) -> None:
        """The boundary: factor exposure equal to the cap passes."""
        # Arrange / Act
        v = verdict(FactorCap({"mom": 0.1}), proposal(200.0), m=market(factors=(("mom", 0.5),)))
        # Assert
        assert v.kind is ActionType.OK

    def test_nan_loading_never_passes(self) -> None:
        """A NaN factor loading is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(factors=(("mom", math.nan),)),
                      e=env(loose(factor_caps={"mom": 0.1})))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestGrossExposureCap:
    def test_within_cap_passes(self) -> None:
        """Gross under the cap passes with gross/equity as value."""
        # Arrange / Act
        v = verdict(GrossExposureCap(1.0), proposal(100.0), held(BBB=200.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.2))

    def test_over_cap_is_capped(self) -> None:
        """90k gross held + 20k asked on a 1.0 cap leaves 10k: 100 units."""
        # Arrange / Act
        outcome = run(proposal(200.0), held(BBB=-1_800.0), e=env(loose(gross_cap=1.0)))
        # Assert
        assert (outcome.target_position, outcome.reason_codes) == (
            pytest.approx(100.0), ("GROSS_EXPOSURE_CAP",))

    def test_exactly_at_cap_passes(self) -> None:
        """The boundary: gross equal to the cap passes."""
        # Arrange / Act
        v = verdict(GrossExposureCap(1.0), proposal(100.0), held(BBB=-1_800.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_flip_is_capped_by_its_magnitude(self) -> None:
        """A flip from +100 to -300 may go as far as the gross headroom allows."""
        # Arrange
        b = held(AAA=100.0, BBB=1_600.0)  # 10k + 80k = 90k
        # Act
        outcome = run(proposal(-300.0), b, e=env(loose(gross_cap=1.0)))
        # Assert
        assert outcome.target_position == pytest.approx(-200.0)

    def test_inf_equity_never_passes(self) -> None:
        """An infinite equity is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), book(equity=math.inf), e=env(loose(gross_cap=1.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestNetExposureCap:
    def test_within_cap_passes(self) -> None:
        """|net| under the cap passes."""
        # Arrange / Act
        v = verdict(NetExposureCap(0.5), proposal(100.0), held(BBB=-200.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.0))

    def test_over_cap_is_capped(self) -> None:
        """Net long 40k + 20k asked on a 50% cap leaves 10k: 100 units."""
        # Arrange / Act
        outcome = run(proposal(200.0), held(BBB=800.0), e=env(loose(net_cap=0.5)))
        # Assert
        assert (outcome.target_position, outcome.reason_codes) == (
            pytest.approx(100.0), ("NET_EXPOSURE_CAP",))

    def test_exactly_at_cap_passes(self) -> None:
        """The boundary: |net| equal to the cap passes."""
        # Arrange / Act
        v = verdict(NetExposureCap(0.5), proposal(100.0), held(BBB=800.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_trade_toward_flat_net_passes(self) -> None:
        """A short that reduces net long exposure passes even when net is above the cap."""
        # Arrange / Act
        outcome = run(proposal(-100.0), held(BBB=1_600.0), e=env(loose(net_cap=0.5)))
        # Assert
        assert outcome.action_type is ActionType.OK

    def test_nan_multiplier_never_passes(self) -> None:
        """A NaN contract multiplier is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(multiplier=math.nan), e=env(loose(net_cap=0.5)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestLeverageCap:
    def test_within_leverage_passes(self) -> None:
        """Gross / equity under max leverage passes."""
        # Arrange / Act
        v = verdict(GrossExposureCap(5.0, "LEVERAGE_CAP"), proposal(100.0))
        # Assert
        assert (v.kind, v.reason, v.value) == (ActionType.OK, "LEVERAGE_CAP", pytest.approx(0.1))

    def test_over_leverage_is_capped(self) -> None:
        """3x held + 1x asked on DEFENSIVE's 3x leaves nothing: REJECTED (no room)."""
        # Arrange / Act
        outcome = run(proposal(1_000.0), held(BBB=6_000.0), e=env(loose(max_leverage=3.0)))
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("LEVERAGE_CAP",))

    def test_exactly_at_max_leverage_passes(self) -> None:
        """The boundary: gross exactly at max leverage passes."""
        # Arrange / Act
        v = verdict(GrossExposureCap(3.0, "LEVERAGE_CAP"), proposal(1_000.0), held(BBB=4_000.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_partial_room_is_used(self) -> None:
        """2.5x held on a 3x limit leaves 50k: 500 units."""
        # Arrange / Act
        outcome = run(proposal(1_000.0), held(BBB=5_000.0), e=env(loose(max_leverage=3.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.CAPPED,
                                                                  pytest.approx(500.0))

    def test_nan_fx_never_passes(self) -> None:
        """A NaN FX rate is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(fx_to_base=math.nan),
                      e=env(loose(max_leverage=3.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestMaxOpenPositions:
    def test_below_max_passes(self) -> None:
        """Opening a name below the max count passes."""
        # Arrange / Act
        v = verdict(MaxOpenPositions(2), proposal(10.0), held(BBB=1.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, 2)

    def test_new_name_at_max_is_rejected(self) -> None:
        """Opening a new name with the book at the max is REJECTED."""
        # Arrange / Act
        outcome = run(proposal(10.0), held(BBB=1.0), e=env(loose(max_open_positions=1)))
        # Assert
        assert outcome.reason_codes == ("MAX_OPEN_POSITIONS",)

    def test_existing_name_can_grow_at_max(self) -> None:
        """The boundary: at the max count, adding to an open name passes."""
        # Arrange / Act
        outcome = run(proposal(10.0), held(AAA=5.0), e=env(loose(max_open_positions=1)))
        # Assert
        assert outcome.action_type is ActionType.OK

    def test_zero_max_blocks_every_new_name(self) -> None:
        """A zero max opens nothing."""
        # Arrange / Act
        outcome = run(proposal(10.0), e=env(loose(max_open_positions=0)))
        # Assert
        assert outcome.action_type is ActionType.REJECTED

    def test_nan_existing_position_never_passes(self) -> None:
        """A NaN held quantity is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), held(BBB=math.nan), e=env(loose(max_open_positions=5)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestAdvParticipation:
    def test_small_trade_passes(self) -> None:
        """A trade under the %ADV limit passes with its participation as value."""
        # Arrange / Act
        v = verdict(AdvParticipation(0.01), proposal(5_000.0), m=market(adv=1_000_000.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.005))

    def test_large_trade_is_capped(self) -> None:
        """A trade over 1% of ADV is CAPPED at 1% of ADV."""
        # Arrange / Act
        outcome = run(proposal(50_000.0), m=market(adv=1_000_000.0, atr=0.01),
                      e=env(loose(max_adv_participation=0.01)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.CAPPED, pytest.approx(10_000.0), ("ADV_PARTICIPATION",))

    def test_exactly_at_limit_passes(self) -> None:
        """The boundary: a trade of exactly the limit passes."""
        # Arrange / Act
        v = verdict(AdvParticipation(0.01), proposal(10_000.0), m=market(adv=1_000_000.0))
        # Assert
        assert v.kind is ActionType.OK

    @pytest.mark.parametrize("adv", [None, 0.0])
    def test_unknown_or_zero_adv_allows_no_increase(self, adv: float | None) -> None:
        """Without volume the increase cannot be checked, so it is refused."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(adv=adv), e=env(loose(max_adv_participation=0.01)))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.REJECTED, 0.0)

    def test_negative_adv_never_passes(self) -> None:
        """A negative ADV is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(adv=-1.0), e=env(loose(max_adv_participation=0.01)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestLotRounding:
    def test_whole_lots_pass_untouched(self) -> None:
        """A trade in whole lots is not changed."""
        # Arrange / Act
        v = verdict(lot_rounding, proposal(300.0), m=market(lot_size=100.0))
        # Assert
        assert (v.kind, v.bound) == (ActionType.OK, None)

    def test_trade_rounds_toward_zero_without_being_a_cut(self) -> None:
        """250 in lots of 100 becomes 200 and the outcome stays OK with no reason code."""
        # Arrange / Act
        outcome = run(proposal(250.0), m=market(lot_size=100.0))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes,
                outcome.max_passing_position) == (ActionType.OK, 200.0, (), None)

    def test_the_trade_not_the_position_is_rounded(self) -> None:
        """From an odd lot of 30, a target of 280 trades 200 to reach 230."""
        # Arrange / Act
        outcome = run(proposal(280.0), held(AAA=30.0), m=market(lot_size=100.0))
        # Assert
        assert outcome.target_position == 230.0

    def test_less_than_one_lot_is_rejected(self) -> None:
        """The boundary: a trade under one lot leaves nothing to trade: REJECTED."""
        # Arrange / Act
        outcome = run(proposal(99.0), m=market(lot_size=100.0))
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("LOT_ROUNDING",))

    def test_closing_out_an_odd_lot_is_allowed(self) -> None:
        """A target of zero closes the whole position even when it is not a whole lot."""
        # Arrange / Act
        outcome = run(proposal(0.0), held(AAA=30.0), m=market(lot_size=100.0))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 0.0)

    def test_zero_lot_size_never_passes(self) -> None:
        """A zero lot size is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(lot_size=0.0))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)
