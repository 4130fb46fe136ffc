"""Trade quality and price sanity constraints."""

from __future__ import annotations

import math

import pytest
from core_builders import book, env, loose, market, proposal, run, verdict

from riskgate.core import ActionType
from riskgate.core.constraints.quality import (
    FatFinger,
    MaxRiskPerTrade,
    MaxSpread,
    MinConfidence,
    PriceCollar,
    protective_levels,
)

pytestmark = pytest.mark.unit


class TestMinConfidence:
    def test_confident_proposal_passes(self) -> None:
        """Confidence above the minimum passes with the margin as headroom."""
        # Arrange / Act
        v = verdict(MinConfidence(0.65), proposal(10.0, confidence=0.9))
        # Assert
        assert (v.kind, v.headroom) == (ActionType.OK, pytest.approx(0.25))

    def test_confidence_exactly_at_minimum_passes(self) -> None:
        """The boundary: confidence equal to the minimum passes."""
        # Arrange / Act
        v = verdict(MinConfidence(0.65), proposal(10.0, confidence=0.65))
        # Assert
        assert v.kind is ActionType.OK

    def test_low_confidence_is_rejected(self) -> None:
        """A risk increase below the minimum confidence is REJECTED / MIN_CONFIDENCE."""
        # Arrange / Act
        outcome = run(proposal(10.0, confidence=0.64), e=env(loose(min_confidence=0.65)))
        # Assert
        assert (outcome.reason_codes, outcome.max_passing_position) == (("MIN_CONFIDENCE",), 0.0)

    def test_low_confidence_derisking_passes(self) -> None:
        """Confidence does not gate a cut."""
        # Arrange / Act
        outcome = run(proposal(2.0, confidence=0.1), book({"AAA": 5.0}),
                      e=env(loose(min_confidence=0.65)))
        # Assert
        assert outcome.action_type is ActionType.OK

    def test_nan_confidence_never_passes(self) -> None:
        """A NaN confidence is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0, confidence=math.nan), e=env(loose(min_confidence=0.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestFatFinger:
    def test_small_trade_passes(self) -> None:
        """A trade under the fat-finger notional passes."""
        # Arrange / Act
        v = verdict(FatFinger(5_000.0), proposal(10.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, 1_000.0)

    def test_trade_exactly_at_limit_passes(self) -> None:
        """The boundary: a trade notional equal to the limit passes."""
        # Arrange / Act
        v = verdict(FatFinger(1_000.0), proposal(10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_fat_finger_is_rejected_with_largest_passing_size(self) -> None:
        """An oversized trade is REJECTED and reports the largest trade that would pass."""
        # Arrange / Act
        outcome = run(proposal(1_000.0), book({"AAA": 10.0}),
                      e=env(loose(fat_finger_notional=5_000.0)))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.max_passing_position,
                outcome.reason_codes) == (ActionType.REJECTED, 10.0, 60.0, ("FAT_FINGER",))

    def test_it_judges_the_proposal_as_sent(self) -> None:
        """A later cap does not rescue a fat-fingered proposal."""
        # Arrange
        e = env(loose(fat_finger_notional=5_000.0, position_size_cap=1_000.0))
        # Act
        outcome = run(proposal(1_000.0), e=e)
        # Assert
        assert outcome.action_type is ActionType.REJECTED

    def test_infinite_target_never_passes(self) -> None:
        """An infinite target is invalid input, never a fat finger with a bound."""
        # Arrange / Act
        outcome = run(proposal(math.inf), e=env(loose(fat_finger_notional=5_000.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestPriceCollar:
    def test_reference_within_collar_passes(self) -> None:
        """A reference price within the collar passes with its deviation."""
        # Arrange / Act
        v = verdict(PriceCollar(0.05), proposal(10.0, reference_price=103.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.03))

    def test_reference_exactly_at_collar_passes(self) -> None:
        """The boundary: a deviation equal to the collar passes."""
        # Arrange / Act
        v = verdict(PriceCollar(0.05), proposal(10.0, reference_price=95.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_reference_outside_collar_is_rejected(self) -> None:
        """A reference price too far from the market is REJECTED / PRICE_COLLAR."""
        # Arrange / Act
        outcome = run(proposal(10.0, reference_price=110.0), e=env(loose(price_collar=0.05)))
        # Assert
        assert outcome.reason_codes == ("PRICE_COLLAR",)

    def test_missing_reference_passes(self) -> None:
        """Without a reference price there is nothing to collar."""
        # Arrange / Act
        v = verdict(PriceCollar(0.05), proposal(10.0))
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, None)

    def test_negative_reference_never_passes(self) -> None:
        """A negative reference price is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0, reference_price=-100.0), e=env(loose(price_collar=0.05)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestMaxSpread:
    def test_tight_spread_passes(self) -> None:
        """A spread under the max passes."""
        # Arrange / Act
        v = verdict(MaxSpread(10.0), proposal(10.0), m=market(spread_bps=4.0))
        # Assert
        assert (v.kind, v.headroom) == (ActionType.OK, 6.0)

    def test_spread_exactly_at_max_passes(self) -> None:
        """The boundary: a spread equal to the max passes."""
        # Arrange / Act
        v = verdict(MaxSpread(10.0), proposal(10.0), m=market(spread_bps=10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_wide_spread_is_rejected(self) -> None:
        """A risk increase through a wide spread is REJECTED / MAX_SPREAD."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(spread_bps=25.0),
                      e=env(loose(max_spread_bps=10.0)))
        # Assert
        assert outcome.reason_codes == ("MAX_SPREAD",)

    def test_nan_spread_never_passes(self) -> None:
        """A NaN spread is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(spread_bps=math.nan),
                      e=env(loose(max_spread_bps=10.0)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestProtectiveLevels:
    def test_stop_below_and_target_above_a_long_pass(self) -> None:
        """A long with its stop below and take-profit above the price passes."""
        # Arrange / Act
        v = verdict(protective_levels, proposal(10.0, stop_loss=95.0, take_profit=110.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_stop_on_the_wrong_side_is_rejected(self) -> None:
        """A long with its stop above the price is REJECTED / INVALID_STOP."""
        # Arrange / Act
        outcome = run(proposal(10.0, stop_loss=105.0))
        # Assert
        assert outcome.reason_codes == ("INVALID_STOP",)

    def test_take_profit_inside_the_stop_is_rejected(self) -> None:
        """A short whose take-profit is above the price is REJECTED."""
        # Arrange / Act
        outcome = run(proposal(-10.0, stop_loss=105.0, take_profit=101.0))
        # Assert
        assert outcome.reason_codes == ("INVALID_STOP",)

    def test_stop_exactly_at_the_price_is_rejected(self) -> None:
        """The boundary: a stop at the price means no distance, so it is refused."""
        # Arrange / Act
        outcome = run(proposal(10.0, stop_loss=100.0))
        # Assert
        assert outcome.action_type is ActionType.REJECTED

    def test_nan_stop_never_passes(self) -> None:
        """A NaN stop is invalid input."""
        # Arrange / Act
        outcome = run(proposal(10.0, stop_loss=math.nan))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestMaxRiskPerTrade:
    def test_small_risk_passes(self) -> None:
        """Loss at the stop below the limit passes, with the risk fraction as value."""
        # Arrange: 10 units x (2 x ATR 2.0 = 4.0) = 40 on 100k equity
        p = proposal(10.0)
        # Act
        v = verdict(MaxRiskPerTrade(0.01), p)
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.0004))

    def test_risk_is_scaled_down_to_the_limit(self) -> None:
        """Too much risk is SCALED_DOWN so the loss at the stop equals the limit."""
        # Arrange: 1% of 100k = 1000; stop distance 4.0 -> 250 units
        e = env(loose(max_risk_per_trade=0.01))
        # Act
        outcome = run(proposal(1_000.0), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.reason_codes) == (
            ActionType.SCALED_DOWN, pytest.approx(250.0), ("MAX_RISK_PER_TRADE",))

    @pytest.mark.parametrize(("stop", "atr", "expected"), [
        (95.0, 2.0, 200.0),   # the proposal's stop: distance 5
        (None, 2.0, 250.0),   # 2 x ATR: distance 4
        (None, None, 500.0),  # the 2% base of 100: distance 2
    ])  # fmt: skip
    def test_stop_source_order(self, stop: float | None, atr: float | None,
                               expected: float) -> None:
        """The stop comes from the proposal, else ATR, else the 2% base."""
        # Arrange
        e = env(loose(max_risk_per_trade=0.01))
        # Act
        outcome = run(proposal(10_000.0, stop_loss=stop), m=market(atr=atr), e=e)
        # Assert
        assert outcome.target_position == pytest.approx(expected)

    def test_only_added_exposure_counts(self) -> None:
        """The boundary: adding exactly the allowed risk to an existing position passes."""
        # Arrange: 100 held, 250 more allowed at 1%
        e = env(loose(max_risk_per_trade=0.01))
        # Act
        outcome = run(proposal(350.0), book({"AAA": 100.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 350.0)

    def test_stop_distance_rounds_up_to_the_tick(self) -> None:
        """A stop distance between ticks is rounded up, so the loss is never understated."""
        # Arrange: ATR 1.234 -> 2.468 -> 2.5 at a 0.5 tick; 1000 / 2.5 = 400
        e = env(loose(max_risk_per_trade=0.01))
        # Act
        outcome = run(proposal(10_000.0), m=market(atr=1.234, tick_size=0.5), e=e)
        # Assert
        assert outcome.target_position == pytest.approx(400.0)

    def test_nan_atr_never_passes(self) -> None:
        """A NaN ATR is invalid input, not a zero stop distance."""
        # Arrange / Act
        outcome = run(proposal(10.0), m=market(atr=math.nan))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)
