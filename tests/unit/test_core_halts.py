"""Trading state, emergency state and the loss halts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import pytest
from core_builders import NOW, book, env, loose, proposal, run, verdict

from riskgate.core import ActionType, EmergencyLevel, TradingState
from riskgate.core.constraints.halts import (
    DailyLossHalt,
    DrawdownHalt,
    emergency_state,
    trading_state,
)

pytestmark = pytest.mark.unit


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class TestTradingState:
    def test_active_passes_risk_increase(self) -> None:
        """ACTIVE lets a risk increase through."""
        # Arrange / Act
        v = verdict(trading_state, proposal(10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_reducing_rejects_risk_increase(self) -> None:
        """REDUCING rejects a risk increase with TRADING_REDUCING."""
        # Arrange
        e = env(portfolio_states={"pf-1": TradingState.REDUCING})
        # Act
        outcome = run(proposal(10.0), e=e)
        # Assert
        assert outcome.reason_codes == ("TRADING_REDUCING",)

    def test_reducing_allows_derisking(self) -> None:
        """REDUCING allows |target| <= |current| with no sign flip."""
        # Arrange
        e = env(strategy_states={"strat-1": TradingState.REDUCING})
        # Act
        outcome = run(proposal(-3.0), book({"AAA": -8.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, -3.0)

    def test_overshoot_through_zero_is_not_derisking(self) -> None:
        """The boundary: a target through zero is a risk increase, even if smaller."""
        # Arrange
        e = env(global_state=TradingState.REDUCING)
        # Act
        outcome = run(proposal(-2.0), book({"AAA": 8.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.REJECTED, 8.0)

    def test_halted_allows_only_verified_derisking(self) -> None:
        """HALTED passes de-risking with fresh inputs and refuses it on a stale snapshot."""
        # Arrange
        e = env(global_state=TradingState.HALTED)
        fresh, stale = book({"AAA": 8.0}), book({"AAA": 8.0}, as_of=NOW - 10_000.0)
        # Act
        verified = run(proposal(0.0), fresh, e=e)
        unverified = run(proposal(0.0), stale, e=e)
        # Assert
        assert (verified.action_type, unverified.action_type, unverified.reason_codes) == (
            ActionType.OK, ActionType.REJECTED, ("TRADING_HALTED",))

    def test_strictest_scope_wins(self) -> None:
        """Global ACTIVE with a HALTED portfolio is HALTED."""
        # Arrange
        e = env(global_state=TradingState.ACTIVE,
                strategy_states={"strat-1": TradingState.REDUCING},
                portfolio_states={"pf-1": TradingState.HALTED})
        # Act
        outcome = run(proposal(10.0), e=e)
        # Assert
        assert outcome.reason_codes == ("TRADING_HALTED",)

    def test_non_finite_target_never_passes_a_halt(self) -> None:
        """A NaN target under HALTED is invalid input, never a de-risk."""
        # Arrange
        e = env(global_state=TradingState.HALTED)
        # Act
        outcome = run(proposal(math.nan), book({"AAA": 8.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.REJECTED, 8.0)


class TestEmergencyState:
    def test_normal_level_passes(self) -> None:
        """Under NORMAL the emergency gate passes."""
        # Arrange / Act
        v = verdict(emergency_state, proposal(10.0))
        # Assert
        assert v.kind is ActionType.OK

    def test_emergency_rejects_risk_increase(self) -> None:
        """EMERGENCY rejects any risk increase."""
        # Arrange
        e = env(emergency_level=EmergencyLevel.EMERGENCY, emergency_as_of=NOW)
        # Act
        outcome = run(proposal(1.0), e=e)
        # Assert
        assert outcome.reason_codes == ("EMERGENCY_STATE",)

    def test_emergency_allows_derisking(self) -> None:
        """EMERGENCY allows a cut."""
        # Arrange
        e = env(emergency_level=EmergencyLevel.EMERGENCY, emergency_as_of=NOW)
        # Act
        outcome = run(proposal(2.0), book({"AAA": 5.0}), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.OK, 2.0)

    def test_elevated_tightens_but_trades(self) -> None:
        """ELEVATED halves the position cap but still allows risk increases."""
        # Arrange
        e = env(loose(position_size_cap=1000.0), emergency_level=EmergencyLevel.ELEVATED)
        # Act
        outcome = run(proposal(10.0), e=e)
        # Assert
        assert (outcome.action_type, outcome.target_position) == (ActionType.CAPPED, 5.0)


class TestDailyLossHalt:
    def test_small_loss_passes(self) -> None:
        """A loss below the limit passes with the loss fraction as its value."""
        # Arrange
        b = book(equity=99_000.0, pnl_today=-1_000.0)
        # Act
        v = verdict(DailyLossHalt(0.05), proposal(10.0), b)
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.01))

    def test_loss_at_the_limit_halts(self) -> None:
        """The boundary: a loss exactly at the limit halts risk increases."""
        # Arrange
        b = book(equity=95_000.0, pnl_today=-5_000.0)
        # Act
        outcome = run(proposal(10.0), b, e=env(loose(daily_loss_limit=0.05)))
        # Assert
        assert outcome.reason_codes == ("DAILY_LOSS_LIMIT",)

    def test_open_pnl_is_included(self) -> None:
        """pnl_today carries realised plus open P&L, so an open loss counts."""
        # Arrange
        b = book(equity=90_000.0, pnl_today=-10_000.0)
        # Act
        outcome = run(proposal(0.0), b, e=env(loose(daily_loss_limit=0.05)))
        risky = run(proposal(10.0), b, e=env(loose(daily_loss_limit=0.05)))
        # Assert
        assert (outcome.action_type, risky.action_type) == (ActionType.OK, ActionType.REJECTED)

    @pytest.mark.parametrize(("snapshot_at", "expected"), [
        ("2026-11-23T21:59:00+00:00", 0.0),  # 16:59 New York: yesterday's trading day
        ("2026-11-23T22:01:00+00:00", 0.1),  # 17:01 New York: today's trading day
    ])  # fmt: skip
    def test_loss_resets_at_the_trading_day_boundary(self, snapshot_at: str,
                                                     expected: float) -> None:
        """A snapshot from before today's 17:00 New York boundary carries no loss for today."""
        # Arrange
        now = _at("2026-11-23T22:30:00+00:00")  # 17:30 New York
        b = book(equity=90_000.0, pnl_today=-10_000.0, as_of=_at(snapshot_at))
        e = replace(env(loose(daily_loss_limit=0.05), trading_day_boundary_s=17 * 3600,
                        trading_day_tz="America/New_York"), now=now)
        # Act
        v = verdict(DailyLossHalt(0.05), proposal(10.0, created_at=now), b, e=e)
        # Assert
        assert v.value == pytest.approx(expected)

    def test_non_finite_pnl_never_passes(self) -> None:
        """A NaN P&L is invalid input, not a zero loss."""
        # Arrange
        b = book(pnl_today=math.nan)
        # Act
        outcome = run(proposal(10.0), b)
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestMaxDrawdownHalt:
    def test_drawdown_below_limit_passes(self) -> None:
        """A drawdown below max_drawdown passes."""
        # Arrange
        b = book(equity=95_000.0, peak_equity=100_000.0)
        # Act
        v = verdict(DrawdownHalt(0.1), proposal(10.0), b)
        # Assert
        assert (v.kind, v.value) == (ActionType.OK, pytest.approx(0.05))

    def test_drawdown_at_limit_halts(self) -> None:
        """The boundary: a drawdown exactly at the limit halts risk increases."""
        # Arrange
        b = book(equity=90_000.0, peak_equity=100_000.0)
        # Act
        outcome = run(proposal(10.0), b, e=env(loose(max_drawdown=0.1)))
        # Assert
        assert outcome.reason_codes == ("MAX_DRAWDOWN",)

    def test_drawdown_halt_allows_derisking(self) -> None:
        """A cut passes while the drawdown halt is on."""
        # Arrange
        b = book({"AAA": 10.0}, equity=80_000.0, peak_equity=100_000.0)
        # Act
        outcome = run(proposal(5.0), b, e=env(loose(max_drawdown=0.1)))
        # Assert
        assert outcome.action_type is ActionType.OK

    def test_non_finite_peak_never_passes(self) -> None:
        """An infinite peak equity is invalid input."""
        # Arrange
        b = book(peak_equity=math.inf)
        # Act
        outcome = run(proposal(10.0), b, e=env(loose(max_drawdown=0.1)))
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)


class TestEmergencyDrawdownHalt:
    def test_below_emergency_drawdown_passes(self) -> None:
        """A drawdown under the emergency level passes."""
        # Arrange
        b = book(equity=95_000.0, peak_equity=100_000.0)
        # Act
        v = verdict(DrawdownHalt(0.08, "EMERGENCY_DRAWDOWN"), proposal(10.0), b)
        # Assert
        assert (v.kind, v.reason) == (ActionType.OK, "EMERGENCY_DRAWDOWN")

    def test_normal_profile_halts_at_eight_percent(self) -> None:
        """NORMAL's 8% emergency drawdown rejects risk increases at 8%."""
        # Arrange
        from riskgate.core import PROFILES

        b = book(equity=92_000.0, peak_equity=100_000.0)
        # Act
        outcome = run(proposal(1.0, confidence=0.9), b, e=env(PROFILES["NORMAL"]))
        # Assert
        assert outcome.reason_codes == ("EMERGENCY_DRAWDOWN",)
