"""Exposure caps: sector, country, cluster, factor, gross, net, leverage, open count."""

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

pytestmark = pytest.mark.unit

# Equity 100k; AAA trades at 100 (TECH, US, C1). BBB at 50 in the same groups.
BBB = market("BBB", 50.0, factors=(("mom", 1.0),))


def held(**positions: float):
    """A book holding the given positions, priced with AAA at 100 and BBB at 50."""
    markets = {"AAA": market("AAA", factors=(("mom", 1.0),)), "BBB": BBB}
    return book(positions, {t: markets[t] for t in positions})


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
