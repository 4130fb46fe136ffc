"""Liquidity: %ADV participation and lot rounding."""

from __future__ import annotations

import pytest
from core_builders import book, env, loose, market, proposal, run, verdict

from riskgate.core import ActionType
from riskgate.core.constraints.liquidity import AdvParticipation, lot_rounding

pytestmark = pytest.mark.unit

# Equity 100k; AAA trades at 100 (TECH, US, C1). BBB at 50 in the same groups.
BBB = market("BBB", 50.0, factors=(("mom", 1.0),))


def held(**positions: float):
    """A book holding the given positions, priced with AAA at 100 and BBB at 50."""
    markets = {"AAA": market("AAA", factors=(("mom", 1.0),)), "BBB": BBB}
    return book(positions, {t: markets[t] for t in positions})


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

    def test_a_flip_smaller_than_a_lot_lands_on_flat(self) -> None:
        """From 30 held in lots of 100, a target of -5 rounds to flat, not to no change."""
        # Arrange / Act
        outcome = run(proposal(-5.0), held(AAA=30.0), m=market(lot_size=100.0))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 0.0)
