"""Caps on one position: per-name (weight and money), position size, strategy budget."""

from __future__ import annotations

from dataclasses import dataclass

from riskgate.core import reasons as r
from riskgate.core.constraints.clamp import clamp_abs, gross_room
from riskgate.core.context import Context
from riskgate.core.domain import Proposal
from riskgate.core.verdict import CAPPED, DERISK_PASS, OK, SCALED_DOWN, VerdictTuple, cut


@dataclass(frozen=True, slots=True)
class PerNameCap:
    """CAPPED so one name's |notional| stays within a weight of equity and/or a money cap."""

    weight_cap: float | None
    notional_cap: float | None

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        size = abs(ctx.target) * ctx.unit
        equity = ctx.equity
        weight_cap, notional_cap = self.weight_cap, self.notional_cap
        by_weight = weight_cap is not None and (
            notional_cap is None or weight_cap * equity <= notional_cap)
        if by_weight:
            reason, limit, value, cap = r.PER_NAME_WEIGHT_CAP, weight_cap, size / equity, (
                weight_cap * equity)
        else:
            reason, limit, value, cap = r.PER_NAME_NOTIONAL_CAP, notional_cap, size, notional_cap
        if size <= cap:
            return (OK, reason, limit, value, limit - value, None)
        room = gross_room(ctx.current, ctx.unit, 0.0, cap)
        return cut(CAPPED, reason, limit, value, ctx.target, clamp_abs(ctx.target, room))


@dataclass(frozen=True, slots=True)
class PositionSizeCap:
    """CAPPED so one position's |notional| stays within the profile's position cap (money)."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        size = abs(ctx.target) * ctx.unit
        if size <= self.cap:
            return (OK, r.POSITION_SIZE_CAP, self.cap, size, self.cap - size, None)
        room = gross_room(ctx.current, ctx.unit, 0.0, self.cap)
        return cut(CAPPED, r.POSITION_SIZE_CAP, self.cap, size, ctx.target,
                   clamp_abs(ctx.target, room))


@dataclass(frozen=True, slots=True)
class StrategyBudget:
    """SCALED_DOWN so a strategy's gross exposure stays within its budget (weight of equity).

    The book attributes each ticker to the strategy that last set it."""

    budget: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        book, strategy, ticker = ctx.book, proposal.strategy_id, proposal.ticker
        excluded = book.strategy.get(strategy, 0.0)
        if book.owners.get(ticker) == strategy:
            excluded -= ctx.old_abs
        equity = ctx.equity
        value = (excluded + abs(ctx.target) * ctx.unit) / equity
        if value <= self.budget:
            return (OK, r.STRATEGY_BUDGET, self.budget, value, self.budget - value, None)
        room = gross_room(ctx.current, ctx.unit, excluded, self.budget * equity)
        return cut(SCALED_DOWN, r.STRATEGY_BUDGET, self.budget, value, ctx.target,
                   clamp_abs(ctx.target, room))
