"""The seeds' own APIs in riskgate.compat (seeds 000, 001 and 003)."""

from __future__ import annotations

import json
import math

import pytest
from core_builders import NOW, book, env, loose, market, proposal

from riskgate.compat import (
    PortfolioState,
    RiskAssessment,
    RiskGuard,
    RiskLevel,
    RiskOrchestrator,
    SignalType,
    TradingSignal,
    apply_risk_constraints,
)
from riskgate.core import LimitsError

pytestmark = pytest.mark.unit

HEALTHY = PortfolioState(total_equity=10_000.0, current_drawdown=0.05, daily_pnl=100.0)


def signal(kind=SignalType.LONG, price: float = 50_000.0, confidence: float = 0.8,
           signal_id: str = "sig-1") -> TradingSignal:
    return TradingSignal(signal_id=signal_id, asset="BTC", signal_type=kind, price=price,
                         confidence=confidence)


class TestRiskOrchestrator:
    def test_seed_health_check_signal_is_approved(self) -> None:
        """The seed's health-check signal is approved, sized, with a 2% stop and 4% target."""
        # Arrange
        orchestrator = RiskOrchestrator()
        # Act
        a = orchestrator.assess_trade_risk(signal(), HEALTHY)
        # Assert
        assert (a.signal_id, a.is_approved, a.stop_loss_price, a.take_profit_price) == (
            "sig-1", True, pytest.approx(49_000.0), pytest.approx(52_000.0))
        # NORMAL's $1000 position cap: 0.02 BTC at 50k
        assert a.recommended_position_size == pytest.approx(0.02)
        assert isinstance(a.risk_level, RiskLevel) and a.rejection_reason is None

    def test_short_signal_has_stop_above(self) -> None:
        """A SHORT has its stop above and its target below the price."""
        # Arrange / Act
        a = RiskOrchestrator().assess_trade_risk(signal(SignalType("short")), HEALTHY)
        # Assert
        assert (a.stop_loss_price, a.take_profit_price) == (pytest.approx(51_000.0),
                                                            pytest.approx(48_000.0))

    def test_default_config_is_the_seed_production_values(self) -> None:
        """Default limits: 20% max drawdown and 5% daily loss."""
        # Arrange / Act
        limits = RiskOrchestrator().limits
        # Assert
        assert (limits.max_drawdown, limits.daily_loss_limit) == (0.20, 0.05)

    def test_drawdown_beyond_the_limit_is_rejected(self) -> None:
        """With the development config (30%), a 25% drawdown passes; production rejects it."""
        # Arrange
        dev = RiskOrchestrator({"risk_limits": {"max_drawdown_limit": 0.30,
                                                "daily_loss_limit": 0.10}})
        state = PortfolioState(10_000.0, 0.25, 0.0)
        # Act
        production, development = (o.assess_trade_risk(signal(), state)
                                    for o in (RiskOrchestrator(), dev))
        # Assert
        assert (production.is_approved, development.is_approved) == (False, True)
        assert "MAX_DRAWDOWN" in production.rejection_reason

    def test_daily_loss_beyond_the_limit_is_rejected(self) -> None:
        """A 6% loss today against the 5% daily limit is rejected."""
        # Arrange
        state = PortfolioState(9_400.0, 0.06, -600.0)
        # Act
        a = RiskOrchestrator().assess_trade_risk(signal(), state)
        # Assert
        assert (a.is_approved, "DAILY_LOSS_LIMIT" in a.rejection_reason) == (False, True)

    def test_low_confidence_is_rejected(self) -> None:
        """Confidence below NORMAL's 0.65 is rejected."""
        # Arrange / Act
        a = RiskOrchestrator().assess_trade_risk(signal(confidence=0.5), HEALTHY)
        # Assert
        assert (a.is_approved, a.recommended_position_size) == (False, 0.0)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 0.0])
    def test_bad_price_yields_critical_not_an_exception(self, bad: float) -> None:
        """An error inside an assessment is not approved, CRITICAL, with the error as reason."""
        # Arrange / Act
        a = RiskOrchestrator().assess_trade_risk(signal(price=bad), HEALTHY)
        # Assert
        assert (a.is_approved, a.risk_level, a.rejection_reason.startswith(
            "Risk assessment error")) == (False, RiskLevel.CRITICAL, True)

    def test_unknown_signal_type_yields_critical(self) -> None:
        """A signal type the seed does not know is an error result, not an exception."""
        # Arrange / Act
        a = RiskOrchestrator().assess_trade_risk(signal(kind="SIDEWAYS"), HEALTHY)
        # Assert
        assert (a.is_approved, a.risk_level) == (False, RiskLevel.CRITICAL)

    def test_batch_returns_one_result_per_signal_in_order(self) -> None:
        """batch_assessment keeps order and isolates a failing signal."""
        # Arrange
        signals = [signal(signal_id="a"), signal(price=math.nan, signal_id="b"),
                   signal(SignalType.HOLD, signal_id="c")]
        # Act
        results = RiskOrchestrator().batch_assessment(signals, HEALTHY)
        # Assert
        assert [(r.signal_id, r.is_approved) for r in results] == [("a", True), ("b", False),
                                                                   ("c", False)]
        assert all(isinstance(r, RiskAssessment) for r in results)

    def test_unknown_config_key_is_refused(self) -> None:
        """A config with an unknown top-level key is an error."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError):
            RiskOrchestrator({"risk_limitz": {}})


class TestRiskGuard:
    def test_within_profile_is_allowed(self) -> None:
        """An order within NORMAL's limits is allowed."""
        # Arrange / Act
        allowed, reason = RiskGuard("NORMAL").can_execute(
            "BTCUSDT", notional=10.0, price=50_000.0, leverage=5.0, trade_risk_pct=1.0,
            position_size_usd=10.0, trace_id="t-1")
        # Assert
        assert (allowed, reason) == (True, "OK")

    def test_defensive_denies_five_x_leverage(self) -> None:
        """The seed's example: DEFENSIVE (max 3x) denies 5x."""
        # Arrange / Act
        allowed, reason = RiskGuard("DEFENSIVE").can_execute(
            "ETHUSDT", 10.0, 3_000.0, leverage=5.0, trade_risk_pct=0.5, position_size_usd=10.0)
        # Assert
        assert (allowed, reason.startswith("max_leverage")) == (False, True)

    def test_aggressive_position_cap_is_300(self) -> None:
        """The seed's example: AGGRESSIVE_SMALL_ACCOUNT denies a position above $300."""
        # Arrange
        guard = RiskGuard("AGGRESSIVE_SMALL_ACCOUNT")
        # Act
        at_cap = guard.can_execute("X", 300.0, 1.0, 1.0, 3.0, 300.0)
        over = guard.can_execute("X", 301.0, 1.0, 1.0, 3.0, 301.0)
        # Assert
        assert (at_cap[0], over[0], over[1].startswith("position_size_cap_usd")) == (True, False,
                                                                                   True)

    def test_trade_risk_pct_is_a_percent(self) -> None:
        """trade_risk_pct is notional / balance x 100: 1.5 passes NORMAL, 1.6 does not."""
        # Arrange
        guard = RiskGuard("NORMAL")
        # Act
        ok, too_much = (guard.can_execute("X", 1.0, 1.0, 1.0, pct, 1.0) for pct in (1.5, 1.6))
        # Assert
        assert (ok[0], too_much[0]) == (True, False)

    def test_optional_extra_checks(self) -> None:
        """open_positions, confidence and drawdowns are checked when given."""
        # Arrange
        guard = RiskGuard("DEFENSIVE")
        base = dict(symbol="X", notional=1.0, price=1.0, leverage=1.0, trade_risk_pct=0.5,
                    position_size_usd=1.0)
        # Act
        results = [guard.can_execute(**base, **extra)[0] for extra in (
            {"open_positions": 10}, {"confidence": 0.7}, {"daily_drawdown_pct": 3.0},
            {"drawdown_pct": 4.8}, {"open_positions": 9, "confidence": 0.75})]
        # Assert
        assert results == [False, False, False, False, True]

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, "5"])
    def test_bad_numbers_are_denied(self, bad) -> None:
        """NaN, inf, negative or string inputs are denied, never allowed."""
        # Arrange / Act
        allowed, reason = RiskGuard("NORMAL").can_execute("X", 1.0, 1.0, bad, 1.0, 1.0)
        # Assert
        assert (allowed, reason.startswith("invalid_input")) == (False, True)

    def test_unknown_profile_is_an_error(self) -> None:
        """An unknown profile name raises."""
        # Arrange / Act / Assert
        with pytest.raises(LimitsError):
            RiskGuard("CASINO")


class TestApplyRiskConstraints:
    def test_returns_targets_by_priority_and_one_action_per_decision(self) -> None:
        """A cut comes first among the targets; every decision has a risk action."""
        # Arrange
        markets = {"AAA": market("AAA"), "BBB": market("BBB")}
        decisions = [
            proposal(50.0, decision_id="d-up"),
            {"decision_id": "d-cut", "strategy_id": "s", "portfolio_id": "pf-1",
             "ticker": "BBB", "target_quantity": 5.0, "confidence": 0.9,
             "created_at": NOW - 1.0},
        ]  # fmt: skip
        b = book({"BBB": 20.0}, markets)
        # Act
        result = apply_risk_constraints(decisions, b, markets,
                                        env(loose(position_size_cap=1_000.0)))
        # Assert
        assert [t["decision_id"] for t in result.targets] == ["d-cut", "d-up"]
        assert [(a["decision_id"], a["action_type"]) for a in result.actions] == [
            ("d-up", "CAPPED"), ("d-cut", "OK")]
        assert json.loads(result.actions[0]["details_json"])["reason_codes"] == [
            "POSITION_SIZE_CAP"]
        assert b.positions == {"BBB": 20.0}  # the caller's book is not changed

    def test_unknown_decision_field_is_refused(self) -> None:
        """A decision mapping with an unknown field raises ValueError."""
        # Arrange
        bad = {"decision_id": "d", "strategy_id": "s", "portfolio_id": "p", "ticker": "AAA",
               "target_quantity": 1.0, "sizee": 3}
        # Act / Assert
        with pytest.raises(ValueError, match="sizee"):
            apply_risk_constraints([bad], book(), {"AAA": market()})
