"""Trading state, emergency level and the loss halts. Each blocks risk-increasing changes."""

from __future__ import annotations

from dataclasses import dataclass

from riskgate.core import reasons as r
from riskgate.core.calendar import trading_day_start
from riskgate.core.context import Context
from riskgate.core.domain import Proposal, TradingState
from riskgate.core.verdict import DERISK_PASS, OK, VerdictTuple, passed, rejected

_ACTIVE = TradingState.ACTIVE
_HALTED = TradingState.HALTED
_PASS_STATE = passed(r.TRADING_HALTED, None, None)
_PASS_EMERGENCY = passed(r.EMERGENCY_STATE, None, None)


def effective_state(proposal: Proposal, ctx: Context) -> TradingState:
    """The configured state for this decision (global, strategy, portfolio: strictest)."""
    env = ctx.env
    if not env.strategy_states and not env.portfolio_states:
        return env.global_state
    return env.trading_state(proposal.strategy_id, proposal.portfolio_id)


def trading_state(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """REDUCING allows de-risking only; HALTED only verified de-risking (fresh inputs)."""
    state = effective_state(proposal, ctx)
    if state is _ACTIVE:
        return _PASS_STATE
    if state is _HALTED:
        if ctx.derisk and ctx.stale is None:
            return DERISK_PASS
        return rejected(r.TRADING_HALTED)
    return DERISK_PASS if ctx.derisk else rejected(r.TRADING_REDUCING)


def emergency_state(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """Under EMERGENCY only de-risking passes."""
    if not ctx.emergency:
        return _PASS_EMERGENCY
    return DERISK_PASS if ctx.derisk else rejected(r.EMERGENCY_STATE)


def daily_loss_fraction(ctx: Context) -> float:
    """Today's loss (open P&L included) over start-of-day equity; 0 after the day boundary."""
    book = ctx.book
    pnl = book.pnl_today
    if pnl >= 0.0:
        return 0.0
    env = ctx.env
    if book.as_of < trading_day_start(env.now, env.trading_day_boundary_s, env.trading_day_tz):
        return 0.0  # the snapshot's P&L belongs to an earlier trading day
    start_equity = book.equity - pnl
    return -pnl / start_equity


def drawdown(ctx: Context) -> float:
    """Drawdown from peak equity, a fraction."""
    peak = ctx.book.peak_equity
    return max(0.0, (peak - ctx.book.equity) / peak) if peak > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DailyLossHalt:
    """Halt risk increases once today's loss reaches the daily loss limit."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        loss = daily_loss_fraction(ctx)
        if loss < self.limit or loss <= 0.0:
            return (OK, r.DAILY_LOSS_LIMIT, self.limit, loss, self.limit - loss, None)
        return DERISK_PASS if ctx.derisk else rejected(r.DAILY_LOSS_LIMIT, self.limit, loss)


@dataclass(frozen=True, slots=True)
class DrawdownHalt:
    """Halt risk increases once the drawdown from peak reaches ``limit``."""

    limit: float
    reason: str = r.MAX_DRAWDOWN

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        book = ctx.book
        peak = book.peak_equity
        dd = (peak - book.equity) / peak if peak > 0 else 0.0
        if dd < self.limit or dd <= 0.0:
            return (OK, self.reason, self.limit, dd, self.limit - dd, None)
        return DERISK_PASS if ctx.derisk else rejected(self.reason, self.limit, dd)

