"""Input gates: decision age, input validity, market data, staleness, restricted, long-only."""

from __future__ import annotations

import math

import pytest
from core_builders import NOW, book, env, loose, market, proposal, run, verdict

from riskgate.core import ActionType, EmergencyLevel
from riskgate.core.constraints.gates import (
    decision_age,
    input_validity,
    long_only,
    market_data_present,
    restricted_list,
    stale_input,
)

pytestmark = pytest.mark.unit


class TestDecisionAge:
    def test_fresh_decision_passes(self) -> None:
        """A decision younger than the max age passes with its age as the value."""
        # Arrange
        p = proposal(10.0, created_at=NOW - 5.0)
        # Act
        v = verdict(decision_age, p, e=env(max_decision_age_s=60.0))
        # Assert
        assert (v.kind, v.limit, v.value, v.headroom) == (ActionType.OK, 60.0, 5.0, 55.0)

    def test_decision_exactly_at_max_age_passes(self) -> None:
        """The boundary: an age equal to the max age is not expired."""
        # Arrange
        p = proposal(10.0, created_at=NOW - 60.0)
        # Act
        v = verdict(decision_age, p, e=env(max_decision_age_s=60.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_old_decision_is_expired(self) -> None:
        """A decision older than the max age gives an EXPIRED outcome with no change."""
        # Arrange
        p = proposal(10.0, created_at=NOW - 60.001)
        # Act
        outcome = run(p, book({"AAA": 3.0}), e=env(max_decision_age_s=60.0))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.delta_position,
                outcome.reason_codes) == (ActionType.EXPIRED, 3.0, 0.0, ("DECISION_EXPIRED",))

    def test_non_finite_created_at_never_passes(self) -> None:
        """A NaN event time is refused as invalid input."""
        # Arrange
        p = proposal(10.0, created_at=math.nan)
        # Act
        outcome = run(p)
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("INVALID_INPUT",))


class TestInputValidity:
    def test_valid_inputs_pass(self) -> None:
        """Finite, positive inputs pass the validity gate."""
        # Arrange
        p = proposal(10.0, reference_price=100.0, stop_loss=95.0, take_profit=110.0)
        # Act
        v = verdict(input_validity, p)
        # Assert
        assert v.kind is ActionType.OK

    @pytest.mark.parametrize("fields", [
        dict(qty=math.nan), dict(qty=math.inf), dict(qty=None, weight=math.nan),
        dict(qty=None, weight=10.5), dict(qty=1.0, weight=0.1), dict(qty=None),
        dict(confidence=1.5), dict(confidence=-0.1), dict(confidence=math.nan),
        dict(reference_price=-1.0), dict(stop_loss=0.0), dict(take_profit=math.inf),
    ], ids=repr)  # fmt: skip
    def test_bad_proposal_never_passes(self, fields: dict) -> None:
        """NaN, inf, negative or out-of-range proposal numbers are REJECTED as INVALID_INPUT."""
        # Arrange
        values = {"qty": 10.0} | fields
        p = proposal(values.pop("qty"), values.pop("weight", None), **values)
        # Act
        outcome = run(p)
        # Assert
        assert (outcome.action_type, outcome.reason_codes, outcome.delta_position) == (
            ActionType.REJECTED, ("INVALID_INPUT",), 0.0)

    @pytest.mark.parametrize("fields", [
        dict(price=math.nan), dict(price=0.0), dict(price=-5.0), dict(adv=-1.0),
        dict(adv=math.inf), dict(spread_bps=math.nan), dict(atr=0.0), dict(volatility=-0.1),
        dict(lot_size=0.0), dict(tick_size=math.inf), dict(multiplier=-1.0),
        dict(fx_to_base=math.nan), dict(factors=(("mom", math.nan),)), dict(as_of=math.nan),
    ], ids=repr)  # fmt: skip
    def test_bad_market_data_never_passes(self, fields: dict) -> None:
        """NaN, inf or negative market numbers are REJECTED as INVALID_INPUT."""
        # Arrange
        values = {"price": 100.0} | fields
        m = market("AAA", values.pop("price"), **values)
        # Act
        outcome = run(proposal(10.0), m=m)
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("INVALID_INPUT",))

    def test_bad_portfolio_never_passes_even_when_derisking(self) -> None:
        """An invalid snapshot rejects every proposal, a de-risking one included."""
        # Arrange
        b = book({"AAA": 10.0}, pnl_today=math.nan)
        # Act
        outcome = run(proposal(0.0), b)
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("INVALID_INPUT",))

    def test_mistyped_number_never_passes(self) -> None:
        """A string where a number belongs is refused, not raised."""
        # Arrange
        p = proposal(10.0, confidence="0.9")
        # Act
        outcome = run(p)
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",) and "mistyped" in outcome.details()[
            "note"]


class TestMarketData:
    def test_present_market_data_passes(self) -> None:
        """Market data for the proposal's ticker passes."""
        # Arrange / Act
        v = verdict(market_data_present, proposal(10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_missing_market_data_is_rejected(self) -> None:
        """No market record for the ticker gives REJECTED / NO_MARKET_DATA."""
        # Arrange
        b = book({"AAA": 5.0})
        # Act
        outcome = run(proposal(10.0, ticker="AAA"), b, m={})  # type: ignore[arg-type]
        # Assert
        assert (outcome.action_type, outcome.reason_codes, outcome.target_position) == (
            ActionType.REJECTED, ("NO_MARKET_DATA",), 5.0)

    def test_market_data_for_another_ticker_is_rejected(self) -> None:
        """A record for a different ticker does not count as market data."""
        # Arrange / Act
        outcome = run(proposal(10.0, ticker="AAA"), m=market("BBB"))
        # Assert
        assert outcome.reason_codes == ("NO_MARKET_DATA",)

    def test_weight_without_market_data_is_rejected(self) -> None:
        """A weight cannot be sized without a price, so it is rejected, not guessed."""
        # Arrange / Act
        outcome = run(proposal(None, 0.1), m={})  # type: ignore[arg-type]
        # Assert
        assert outcome.reason_codes == ("NO_MARKET_DATA",)


class TestStaleInput:
    @pytest.mark.parametrize(("what", "kwargs"), [
        ("snapshot", dict(b=book(as_of=NOW - 301.0))),
        ("price", dict(m=market(as_of=NOW - 121.0))),
        ("emergency_state", dict(e=env(emergency_as_of=NOW - 3601.0))),
    ])  # fmt: skip
    def test_stale_input_rejects_risk_increase(self, what: str, kwargs: dict) -> None:
        """A stale snapshot, price or emergency state puts the portfolio in REDUCING."""
        # Arrange
        p = proposal(10.0)
        # Act
        outcome = run(p, **kwargs)
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("STALE_INPUT",))
        assert what in outcome.details()["note"]

    def test_stale_input_allows_derisking(self) -> None:
        """Under STALE_INPUT a de-risking proposal still passes."""
        # Arrange
        b = book({"AAA": 10.0}, as_of=NOW - 1000.0)
        # Act
        outcome = run(proposal(4.0), b)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 4.0)

    def test_input_exactly_at_the_bound_is_fresh(self) -> None:
        """The boundary: an input exactly as old as the bound is not stale."""
        # Arrange
        b = book(as_of=NOW - 300.0)
        # Act
        v = verdict(stale_input, proposal(10.0), b, market(as_of=NOW - 120.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_unpriced_positions_count_as_stale(self) -> None:
        """A book with a position that has no price cannot be checked, so it only reduces."""
        # Arrange
        b = book({"ZZZ": 5.0}, markets={})
        # Act
        outcome = run(proposal(10.0), b)
        # Assert
        assert outcome.reason_codes == ("STALE_INPUT",)

    def test_non_finite_as_of_never_passes(self) -> None:
        """A NaN as_of on the snapshot is invalid input, never fresh."""
        # Arrange
        b = book(as_of=math.nan)
        # Act
        outcome = run(proposal(10.0), b)
        # Assert
        assert outcome.action_type is ActionType.REJECTED

    def test_untracked_emergency_state_is_never_stale(self) -> None:
        """emergency_as_of=None means the state is not tracked, so it is never stale."""
        # Arrange
        e = env(emergency_level=EmergencyLevel.NORMAL, emergency_as_of=None)
        # Act
        outcome = run(proposal(10.0), e=e)
        # Assert
        assert outcome.action_type is ActionType.OK


class TestRestrictedList:
    def test_unrestricted_ticker_passes(self) -> None:
        """A ticker not on the list passes."""
        # Arrange
        e = env(loose(restricted=frozenset({"ZZZ"})))
        # Act
        v = verdict(restricted_list, proposal(10.0), e=e)
        # Assert
        assert v.kind is ActionType.OK

    def test_restricted_ticker_cannot_gain_exposure(self) -> None:
        """A risk increase on a restricted ticker is REJECTED / RESTRICTED."""
        # Arrange
        e = env(loose(restricted=frozenset({"AAA"})))
        # Act
        outcome = run(proposal(10.0), e=e)
        # Assert
        assert (outcome.action_type, outcome.reason_codes) == (ActionType.REJECTED,
                                                               ("RESTRICTED",))

    def test_restricted_ticker_can_be_reduced(self) -> None:
        """Reducing a restricted position is allowed."""
        # Arrange
        e = env(loose(restricted=frozenset({"AAA"})))
        # Act
        outcome = run(proposal(0.0), book({"AAA": 10.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 0.0)


class TestLongOnly:
    def test_long_target_passes(self) -> None:
        """A long target is untouched under long-only."""
        # Arrange / Act
        v = verdict(long_only, proposal(10.0), e=env(loose(long_only=True)))
        # Assert
        assert (v.kind, v.bound) == (ActionType.OK, None)

    def test_short_target_is_capped_at_flat(self) -> None:
        """A short from a long is capped at zero (flatten) under long-only."""
        # Arrange
        e = env(loose(long_only=True))
        # Act
        outcome = run(proposal(-10.0), book({"AAA": 5.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.CAPPED, 0.0, ("LONG_ONLY",))

    def test_existing_short_may_shrink_but_not_grow(self) -> None:
        """The boundary: an existing short can only move toward flat."""
        # Arrange
        e = env(loose(long_only=True))
        # Act
        grow = run(proposal(-20.0), book({"AAA": -10.0}), e=e)
        shrink = run(proposal(-4.0), book({"AAA": -10.0}), e=e)
        # Assert
        assert (grow.target_position, grow.action_type, shrink.target_position) == (
            -10.0, ActionType.REJECTED, -4.0)

    def test_long_only_off_allows_shorts(self) -> None:
        """Without long-only a short target passes."""
        # Arrange / Act
        outcome = run(proposal(-10.0))
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, -10.0)

