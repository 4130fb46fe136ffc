"""Order-size checks (MiFID II RTS 6 Art. 15(1)): max order volume and max order value."""

from __future__ import annotations

import math

import pytest
from core_builders import book, env, loose, market, property_settings, proposal, run, verdict
from hypothesis import given
from hypothesis import strategies as st

from riskgate.core import PROFILES, ActionType, EmergencyLevel, Limits, at_least_as_tight
from riskgate.core.constraints.quality import MaxOrderQuantity
from riskgate.core.profiles import tighten

pytestmark = pytest.mark.unit

#: The lowest unit value (price x multiplier x FX) at which the defaults must not bind first:
#: $0.0001, the sub-penny tick of US stocks under $1 (docs/core.md, "Order-size defaults").
LOWEST_REALISTIC_UNIT = 1e-4
ORDER_SIZE_CHECKS = ("FatFinger", "MaxOrderQuantity")


def order_size_verdicts(outcome) -> dict[str, str]:
    return {v["constraint"]: v["verdict"] for v in outcome.verdicts()
            if v["constraint"] in ORDER_SIZE_CHECKS}


class TestMaxOrderQuantity:
    def test_an_order_below_the_limit_passes_with_its_headroom(self) -> None:
        """An order of 400 units against a 1,000 unit limit passes with 600 of headroom."""
        # Arrange / Act
        v = verdict(MaxOrderQuantity(1_000.0), proposal(500.0), book({"AAA": 100.0}))
        # Assert
        assert (v.kind, v.value, v.headroom) == (ActionType.OK, 400.0, 600.0)

    def test_an_order_exactly_at_the_limit_passes(self) -> None:
        """The boundary: an order equal to the limit passes."""
        # Arrange / Act
        v = verdict(MaxOrderQuantity(1_000.0), proposal(-1_000.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_an_order_above_the_limit_is_rejected_with_the_largest_passing(self) -> None:
        """The order |target - current| counts, not the target: 10 -> 1,011 is 1,001 units and
        REJECTED, reporting 10 + 1,000 as the largest that passes."""
        # Arrange / Act
        outcome = run(proposal(1_011.0), book({"AAA": 10.0}),
                      e=env(loose(max_order_quantity=1_000.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.max_passing_position,
                outcome.reason_codes) == (ActionType.REJECTED, 10.0, 1_010.0,
                                          ("MAX_ORDER_QUANTITY",))

    def test_a_flip_counts_both_legs(self) -> None:
        """From +600 to -600 is an order of 1,200 units, above a 1,000 limit."""
        # Arrange / Act
        v = verdict(MaxOrderQuantity(1_000.0), proposal(-600.0), book({"AAA": 600.0}))
        # Assert
        assert (v.kind, v.value, v.bound) == (ActionType.REJECTED, 1_200.0, -400.0)

    def test_a_later_cap_does_not_rescue_a_huge_order(self) -> None:
        """A position cap that would cut the target does not turn the rejection into a cap."""
        # Arrange
        e = env(loose(max_order_quantity=1_000.0, position_size_cap=1_000.0))
        # Act
        outcome = run(proposal(5_000.0), e=e)
        # Assert
        assert (outcome.action_type, outcome.delta_position) == (ActionType.REJECTED, 0.0)

    def test_derisking_is_never_stopped_by_it(self) -> None:
        """Closing 5,000 units is a cut toward flat, exempt like every risk-increase check."""
        # Arrange / Act
        outcome = run(proposal(0.0), book({"AAA": 5_000.0}),
                      e=env(loose(max_order_quantity=1_000.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 0.0)

    def test_a_vanishing_price_cannot_smuggle_a_huge_quantity(self) -> None:
        """1e300 units at a price of 5e-324 is worth nothing to the money caps, yet NORMAL
        rejects it by volume."""
        # Arrange
        tiny = market(price=5e-324, tick_size=5e-324, atr=None)
        # Act
        outcome = run(proposal(1e300), m=tiny, e=env(PROFILES["NORMAL"]))
        # Assert
        assert outcome.approved_position == 0.0
        assert outcome.action_type is ActionType.REJECTED
        assert "MAX_ORDER_QUANTITY" in outcome.reason_codes

    def test_a_negative_limit_is_refused(self) -> None:
        """A negative max order quantity is inconsistent limits."""
        # Arrange / Act / Assert
        with pytest.raises(ValueError, match="max_order_quantity"):
            Limits(max_order_quantity=-1.0)


class TestOrderSizeDefaults:
    @pytest.mark.parametrize(("name", "value", "volume"), [
        ("AGGRESSIVE_SMALL_ACCOUNT", 300_000.0, 6_000_000.0),
        ("NORMAL", 1_000_000.0, 20_000_000.0),
        ("DEFENSIVE", 500_000.0, 10_000_000.0),
    ])  # fmt: skip
    def test_every_profile_has_a_max_order_value_and_volume(self, name, value, volume) -> None:
        """Each profile carries the documented max order value (USD) and volume (units)."""
        # Arrange
        limits = PROFILES[name]
        # Act
        got = (limits.fat_finger_notional, limits.max_order_quantity)
        # Assert
        assert got == (value, volume)

    @pytest.mark.parametrize("name", sorted(PROFILES))
    def test_the_defaults_leave_room_for_a_full_flip_at_the_lowest_realistic_price(self, name
                                                                                    ) -> None:
        """A flip from -cap to +cap, the largest order the position cap allows, fits under the
        max order value, and under the max order volume at a unit value of $0.0001."""
        # Arrange
        limits = PROFILES[name]
        largest_order = 2 * limits.position_size_cap
        # Act
        value_room = limits.fat_finger_notional - largest_order
        volume_room = limits.max_order_quantity - largest_order / LOWEST_REALISTIC_UNIT
        # Assert
        assert value_room > 0 and volume_room >= 0

    def test_defensive_stays_at_least_as_tight_as_normal(self) -> None:
        """The new limits keep DEFENSIVE at least as tight as NORMAL."""
        # Arrange
        tight, base = PROFILES["DEFENSIVE"], PROFILES["NORMAL"]
        # Act
        ordered = at_least_as_tight(tight, base)
        # Assert
        assert ordered and tight.max_order_quantity < base.max_order_quantity

    def test_an_emergency_tightens_both_with_the_position_cap(self) -> None:
        """ELEVATED halves the order-size limits and the position cap alike, so their ratio and
        the never-binds-first argument hold under it."""
        # Arrange
        base = PROFILES["NORMAL"]
        # Act
        elevated = tighten(base, EmergencyLevel.ELEVATED)
        # Assert
        assert elevated.max_order_quantity == base.max_order_quantity / 2
        assert elevated.fat_finger_notional == base.fat_finger_notional / 2
        assert elevated.position_size_cap == base.position_size_cap / 2

    @property_settings(300)
    @given(name=st.sampled_from(sorted(PROFILES)),
           log_unit=st.floats(math.log10(LOWEST_REALISTIC_UNIT), 6.0),
           multiplier=st.sampled_from([1.0, 10.0, 100.0]),
           held=st.floats(-1.0, 1.0), wanted=st.floats(-1.0, 1.0))
    def test_they_never_bind_on_an_order_the_position_cap_allows(self, name, log_unit,
                                                                 multiplier, held,
                                                                 wanted) -> None:
        """At any unit value from $0.0001 up, moving between two positions within the profile's
        position cap never trips the max order value or volume."""
        # Arrange
        limits = PROFILES[name]
        price = 10.0 ** log_unit / multiplier
        m = market(price=price, tick_size=price / 100, multiplier=multiplier)
        units_at_cap = limits.position_size_cap / (price * multiplier)
        b = book({"AAA": held * units_at_cap} if held else {}, {"AAA": m})
        # Act
        outcome = run(proposal(wanted * units_at_cap), b, m, env(limits))
        # Assert
        assert order_size_verdicts(outcome) == {"FatFinger": "OK", "MaxOrderQuantity": "OK"}
