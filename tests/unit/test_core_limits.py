"""Limits, profiles, overlays and regime multipliers."""

from __future__ import annotations

import json
import math

import pytest

from riskgate.core import (
    EmergencyLevel,
    Limits,
    LimitsError,
    Regime,
    at_least_as_tight,
    effective_limits,
    load_limits,
    profile,
    resolve_limits,
)
from riskgate.core.profiles import PROFILES, tighten

pytestmark = pytest.mark.unit


class TestProfiles:
    @pytest.mark.parametrize(("name", "row"), [
        ("AGGRESSIVE_SMALL_ACCOUNT", (7.0, 0.03, 0.06, 0.096, 15, 300.0, 0.60)),
        ("NORMAL", (5.0, 0.015, 0.05, 0.08, 30, 1000.0, 0.65)),
        ("DEFENSIVE", (3.0, 0.0075, 0.03, 0.048, 10, 500.0, 0.75)),
    ])  # fmt: skip
    def test_profile_carries_the_seed_table(self, name: str, row: tuple) -> None:
        """Each profile has exactly seed 003's leverage, risk, drawdowns, count, cap and confidence."""
        # Arrange
        limits = PROFILES[name]
        # Act
        got = (limits.max_leverage, limits.max_risk_per_trade, limits.daily_loss_limit,
               limits.emergency_drawdown, limits.max_open_positions, limits.position_size_cap,
               limits.min_confidence)
        # Assert
        assert got == pytest.approx(row)

    def test_exactly_three_profiles_exist(self) -> None:
        """The profile set is the seed's three names."""
        # Arrange / Act
        names = set(PROFILES)
        # Assert
        assert names == {"AGGRESSIVE_SMALL_ACCOUNT", "NORMAL", "DEFENSIVE"}

    def test_unknown_profile_is_an_error(self) -> None:
        """An unknown profile name raises LimitsError, a ValueError."""
        # Arrange / Act / Assert
        with pytest.raises(ValueError, match="unknown risk profile"):
            profile("YOLO")

    def test_defensive_is_at_least_as_tight_as_normal(self) -> None:
        """DEFENSIVE is at least as tight as NORMAL on every limit."""
        # Arrange
        tight, base = PROFILES["DEFENSIVE"], PROFILES["NORMAL"]
        # Act
        ordered = at_least_as_tight(tight, base)
        # Assert
        assert ordered

    def test_aggressive_is_not_looser_than_normal_on_every_limit(self) -> None:
        """AGGRESSIVE_SMALL_ACCOUNT is neither looser nor tighter than NORMAL on every limit."""
        # Arrange
        aggressive, normal = PROFILES["AGGRESSIVE_SMALL_ACCOUNT"], PROFILES["NORMAL"]
        # Act
        looser = at_least_as_tight(normal, aggressive)
        tighter = at_least_as_tight(aggressive, normal)
        # Assert
        assert (looser, tighter) == (False, False)


class TestLoadLimits:
    def test_mapping_overrides_the_normal_defaults(self) -> None:
        """A parsed YAML/JSON mapping overrides only the keys it names."""
        # Arrange
        source = {"sector_cap": 0.3, "restricted": ["XYZ"], "factor_caps": {"value": 0.2}}
        # Act
        limits = load_limits(source)
        # Assert
        assert (limits.sector_cap, limits.restricted, dict(limits.factor_caps),
                limits.max_leverage) == (0.3, frozenset({"XYZ"}), {"value": 0.2}, 5.0)

    def test_json_text_is_accepted(self) -> None:
        """JSON text is parsed with the standard library."""
        # Arrange
        text = json.dumps({"gross_cap": 2.0, "net_cap": 1.0})
        # Act
        limits = load_limits(text)
        # Assert
        assert (limits.gross_cap, limits.net_cap) == (2.0, 1.0)

    def test_unknown_key_is_refused(self) -> None:
        """A key that is not a limit is refused, naming the key."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError, match="max_levrage"):
            load_limits({"max_levrage": 3})

    @pytest.mark.parametrize("bad", [
        {"gross_cap": 1.0, "net_cap": 2.0},
        {"sector_cap": -0.1},
        {"take_profit_atr_multiple": 1.5},
        {"base_take_profit_pct": 0.01},
        {"max_drawdown": 0.5},
        {"max_risk_per_trade": 1.5},
        {"position_size_cap": math.nan},
        {"max_leverage": math.inf},
        {"max_leverage": 0.0},
        {"sector_cap": "0.3"},
        {"sector_cap": True},
        {"factor_caps": {"mom": -1.0}},
        {"restricted": "AAPL"},
        {"long_only": "yes"},
        {"max_open_positions": 2.5},
    ], ids=repr)  # fmt: skip
    def test_inconsistent_or_invalid_limits_are_refused(self, bad: dict) -> None:
        """Net above gross, negative or non-finite caps, a take-profit inside the stop and the
        like raise LimitsError."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError):
            load_limits(bad)

    def test_invalid_json_is_refused(self) -> None:
        """Text that is not JSON raises LimitsError."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError, match="JSON"):
            load_limits("{not json")

    def test_limits_error_is_a_value_error(self) -> None:
        """Callers may catch LimitsError as ValueError."""
        # Arrange / Act / Assert
        assert issubclass(LimitsError, ValueError)

    def test_limits_as_dict_is_json_serialisable(self) -> None:
        """as_dict() round-trips through JSON and back into equal limits."""
        # Arrange
        limits = load_limits({"restricted": ["B", "A"], "factor_caps": {"mom": 0.4}})
        # Act
        again = load_limits(json.loads(json.dumps(limits.as_dict())))
        # Assert
        assert again == limits


class TestResolveLimits:
    def test_overlays_apply_in_order(self) -> None:
        """A later overlay (portfolio) wins over an earlier one (strategy)."""
        # Arrange
        strategy, portfolio = {"sector_cap": 0.5, "gross_cap": 2.0}, {"sector_cap": 0.25}
        # Act
        limits = resolve_limits("DEFENSIVE", strategy, None, portfolio)
        # Assert
        assert (limits.sector_cap, limits.gross_cap, limits.max_leverage) == (0.25, 2.0, 3.0)

    def test_overlay_with_an_unknown_key_is_refused(self) -> None:
        """Overlays are checked like any limits source."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError):
            resolve_limits("NORMAL", {"bogus": 1})


class TestEmergencyOverlay:
    @pytest.mark.parametrize("level", [EmergencyLevel.ELEVATED, EmergencyLevel.EMERGENCY])
    def test_overlay_tightens_every_limit(self, level: EmergencyLevel) -> None:
        """ELEVATED and EMERGENCY limits are at least as tight as the base on every limit."""
        # Arrange
        base = load_limits({"sector_cap": 0.4, "gross_cap": 2.0, "net_cap": 1.0,
                            "factor_caps": {"mom": 0.3}})
        # Act
        tightened = tighten(base, level)
        # Assert
        assert at_least_as_tight(tightened, base) and tightened != base

    def test_emergency_is_tighter_than_elevated(self) -> None:
        """The EMERGENCY overlay is at least as tight as the ELEVATED one."""
        # Arrange
        base = PROFILES["NORMAL"]
        # Act
        elevated = tighten(base, EmergencyLevel.ELEVATED)
        emergency = tighten(base, EmergencyLevel.EMERGENCY)
        # Assert
        assert at_least_as_tight(emergency, elevated)

    def test_normal_level_changes_nothing(self) -> None:
        """Under NORMAL the limits are returned unchanged."""
        # Arrange
        base = PROFILES["NORMAL"]
        # Act / Assert
        assert tighten(base, EmergencyLevel.NORMAL) is base


class TestRegimeMultipliers:
    def test_volatile_regime_halves_the_size_limits(self) -> None:
        """VOLATILE scales the size limits by 0.5 and leaves the rest."""
        # Arrange
        base = PROFILES["NORMAL"]
        # Act
        limits = effective_limits(base, EmergencyLevel.NORMAL, Regime.VOLATILE)
        # Assert
        assert (limits.position_size_cap, limits.max_risk_per_trade, limits.max_leverage) == (
            pytest.approx(500.0), pytest.approx(0.0075), 5.0)

    @pytest.mark.parametrize("regime", list(Regime))
    def test_no_regime_loosens_any_limit(self, regime: Regime) -> None:
        """Every regime multiplier only tightens."""
        # Arrange
        base = PROFILES["NORMAL"]
        # Act
        limits = effective_limits(base, EmergencyLevel.NORMAL, regime)
        # Assert
        assert at_least_as_tight(limits, base)

    def test_effective_limits_are_memoised_per_object(self) -> None:
        """The same inputs give the same limits object (no rebuild per decision)."""
        # Arrange
        base = Limits()
        # Act
        first = effective_limits(base, EmergencyLevel.ELEVATED, Regime.RANGING)
        second = effective_limits(base, EmergencyLevel.ELEVATED, Regime.RANGING)
        # Assert
        assert first is second
