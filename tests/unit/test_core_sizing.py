"""Sizing (seed 002), regime classification and the trading-day calendar."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from riskgate.core import Regime, RiskLevel, trading_day_start
from riskgate.core.regime import classify_regime, max_drawdown
from riskgate.core.sizing import (
    fixed_fractional_size,
    kelly_fraction,
    kelly_size,
    recommended_leverage,
    risk_level,
    risk_reward_ratio,
    risk_score,
    round_to_tick,
    stop_loss_price,
    take_profit_price,
)

pytestmark = pytest.mark.unit


class TestStopsAndTargets:
    def test_bases_apply_without_volatility(self) -> None:
        """With no ATR or volatility a long's stop is 2% below and its target 4% above."""
        # Arrange / Act
        stop, take = stop_loss_price(1, 100.0), take_profit_price(1, 100.0)
        # Assert
        assert (stop, take) == (pytest.approx(98.0), pytest.approx(104.0))

    def test_atr_multiples_for_a_short(self) -> None:
        """A short's stop is k x ATR above and its target k' x ATR below."""
        # Arrange / Act
        stop = stop_loss_price(-1, 100.0, atr=1.5, multiple=2.0)
        take = take_profit_price(-1, 100.0, atr=1.5, multiple=4.0)
        # Assert
        assert (stop, take) == (103.0, 94.0)

    def test_volatility_is_used_when_there_is_no_atr(self) -> None:
        """Volatility (a fraction) scales by the price."""
        # Arrange / Act
        stop = stop_loss_price(1, 200.0, volatility=0.01, multiple=2.0)
        # Assert
        assert stop == pytest.approx(196.0)

    def test_round_to_tick_directions(self) -> None:
        """Prices round down, up or to the nearest tick."""
        # Arrange / Act
        got = (round_to_tick(10.07, 0.05, -1), round_to_tick(10.07, 0.05, 1),
               round_to_tick(10.07, 0.05))
        # Assert
        assert got == (pytest.approx(10.05), pytest.approx(10.10), pytest.approx(10.05))


class TestRiskReward:
    def test_ratio_of_reward_to_risk(self) -> None:
        """The 2%/4% bases give a risk-reward ratio of 2."""
        # Arrange / Act
        ratio = risk_reward_ratio(100.0, 98.0, 104.0)
        # Assert
        assert ratio == pytest.approx(2.0)

    def test_zero_risk_is_infinite(self) -> None:
        """The boundary: a stop at the entry has no risk, so the ratio is infinite."""
        # Arrange / Act / Assert
        assert risk_reward_ratio(100.0, 100.0, 104.0) == math.inf


class TestFixedFractional:
    def test_size_puts_max_risk_at_the_stop(self) -> None:
        """1.5% of 100k at a 2-per-unit stop is 750 units."""
        # Arrange / Act
        units = fixed_fractional_size(100_000.0, 0.015, 2.0)
        # Assert
        assert units == pytest.approx(750.0)

    def test_zero_stop_distance_sizes_nothing(self) -> None:
        """The boundary: no stop distance means no size, not infinity."""
        # Arrange / Act / Assert
        assert fixed_fractional_size(100_000.0, 0.015, 0.0) == 0.0


class TestKelly:
    def test_kelly_fraction_is_capped(self) -> None:
        """A strong edge is capped at the Kelly cap."""
        # Arrange / Act
        fraction = kelly_fraction(0.7, 2.0, cap=0.25)
        # Assert
        assert fraction == 0.25

    def test_no_edge_sizes_nothing(self) -> None:
        """A negative Kelly fraction is floored at zero."""
        # Arrange / Act / Assert
        assert kelly_fraction(0.3, 1.0) == 0.0

    def test_kelly_size_in_units(self) -> None:
        """p=0.55, b=2 gives f=0.325, capped to 0.25: 25k of 100k at 50 is 500 units."""
        # Arrange / Act
        units = kelly_size(100_000.0, 50.0, 0.55, 2.0)
        # Assert
        assert units == pytest.approx(500.0)


class TestRecommendedLeverage:
    def test_bounded_by_profile_max(self) -> None:
        """Low volatility asks for more leverage than the profile allows: capped."""
        # Arrange / Act
        lev = recommended_leverage(0.001, max_leverage=5.0)
        # Assert
        assert lev == 5.0

    def test_unknown_volatility_means_no_leverage(self) -> None:
        """Without volatility the recommendation is 1x."""
        # Arrange / Act / Assert
        assert recommended_leverage(None, 5.0) == 1.0

    def test_risk_score_discounts_leverage(self) -> None:
        """A higher risk score lowers the recommendation, never below 1."""
        # Arrange / Act
        calm, risky = (recommended_leverage(0.005, 7.0, risk_score=s) for s in (0.0, 80.0))
        # Assert
        assert (calm, risky) == (4.0, 1.0)


class TestRiskScore:
    def test_calm_market_scores_minimal(self) -> None:
        """Low volatility, tight spread, no drawdown and low leverage is MINIMAL."""
        # Arrange / Act
        score = risk_score(volatility=0.005, spread_bps=1.0, leverage=1.0, max_leverage=5.0)
        # Assert
        assert (risk_level(score), 0.0 <= score <= 100.0) == (RiskLevel.MINIMAL, True)

    def test_stressed_market_scores_critical(self) -> None:
        """Everything at its worst scores 100, CRITICAL."""
        # Arrange / Act
        score = risk_score(0.2, 100.0, 0.5, 0.5, 10.0, 5.0)
        # Assert
        assert (score, risk_level(score)) == (100.0, RiskLevel.CRITICAL)

    @pytest.mark.parametrize(("score", "level"), [
        (0, RiskLevel.MINIMAL), (19.99, RiskLevel.MINIMAL), (20, RiskLevel.LOW),
        (40, RiskLevel.MEDIUM), (60, RiskLevel.HIGH), (80, RiskLevel.CRITICAL),
    ])  # fmt: skip
    def test_level_band_boundaries(self, score: float, level: RiskLevel) -> None:
        """Each band starts at its lower bound."""
        # Arrange / Act / Assert
        assert risk_level(score) is level


class TestRegimeClassifier:
    def test_steady_rise_is_trending_up(self) -> None:
        """A steady rise with small noise is TRENDING_UP."""
        # Arrange
        prices = [100.0 * (1.01 + 0.001 * (i % 2)) ** i for i in range(30)]
        # Act / Assert
        assert classify_regime(prices) is Regime.TRENDING_UP

    def test_steady_fall_is_trending_down(self) -> None:
        """A steady fall is TRENDING_DOWN."""
        # Arrange
        prices = [100.0 * (0.99 - 0.001 * (i % 2)) ** i for i in range(30)]
        # Act / Assert
        assert classify_regime(prices) is Regime.TRENDING_DOWN

    def test_oscillation_is_ranging(self) -> None:
        """A series going up and down around a level is RANGING."""
        # Arrange
        prices = [100.0 + (1.0 if i % 2 else -1.0) for i in range(30)]
        # Act / Assert
        assert classify_regime(prices) is Regime.RANGING

    def test_large_swings_are_volatile(self) -> None:
        """Daily swings of +/-6% are VOLATILE."""
        # Arrange
        prices = [100.0 * (1.03 if i % 2 else 0.97) for i in range(30)]
        # Act / Assert
        assert classify_regime(prices) is Regime.VOLATILE

    def test_crash_is_a_liquidation_event(self) -> None:
        """A single 15% drop is a LIQUIDATION_EVENT."""
        # Arrange
        prices = [100.0] * 10 + [85.0, 84.0]
        # Act / Assert
        assert classify_regime(prices) is Regime.LIQUIDATION_EVENT

    def test_fast_fall_over_three_bars_is_a_liquidation_event(self) -> None:
        """Three 6% drops in a row (a 17% fall) are a LIQUIDATION_EVENT, unlike a slow trend."""
        # Arrange
        prices = [100.0] * 10 + [94.0, 88.4, 83.1]
        # Act / Assert
        assert classify_regime(prices) is Regime.LIQUIDATION_EVENT

    def test_short_series_is_ranging(self) -> None:
        """The boundary: fewer than three prices cannot show a regime."""
        # Arrange / Act / Assert
        assert classify_regime([100.0, 101.0]) is Regime.RANGING

    @pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0])
    def test_bad_prices_are_refused(self, bad: float) -> None:
        """A non-positive or non-finite price raises ValueError."""
        # Arrange / Act / Assert
        with pytest.raises(ValueError):
            classify_regime([100.0, bad, 101.0])

    def test_max_drawdown_of_a_series(self) -> None:
        """Peak 120 to trough 90 is a 25% drawdown."""
        # Arrange / Act / Assert
        assert max_drawdown([100.0, 120.0, 90.0, 110.0]) == pytest.approx(0.25)


class TestTradingDayCalendar:
    @pytest.mark.parametrize(("now", "start"), [
        ("2026-03-08T21:30:00+00:00", "2026-03-08T21:00:00+00:00"),  # after 17:00 EDT
        ("2026-03-09T20:59:00+00:00", "2026-03-08T21:00:00+00:00"),  # before 17:00 EDT
        ("2026-11-22T14:30:00+00:00", "2026-11-21T22:00:00+00:00"),  # EST: 17:00 = 22:00Z
    ])  # fmt: skip
    def test_new_york_boundary_follows_the_wall_clock(self, now: str, start: str) -> None:
        """The 17:00 New York boundary stays at 17:00 local across daylight saving."""
        # Arrange
        ts = datetime.fromisoformat(now).timestamp()
        # Act
        got = trading_day_start(ts, 17 * 3600, "America/New_York")
        # Assert
        assert datetime.fromtimestamp(got, UTC) == datetime.fromisoformat(start)

    def test_utc_midnight_default(self) -> None:
        """Without a boundary the day starts at midnight UTC."""
        # Arrange
        ts = datetime.fromisoformat("2026-11-22T00:00:00+00:00").timestamp()
        # Act / Assert
        assert trading_day_start(ts + 3600.0) == ts
