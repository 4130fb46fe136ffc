"""Liquidity: %ADV participation and lot rounding."""

from __future__ import annotations

import math
from dataclasses import dataclass

from riskgate.core import reasons as r
from riskgate.core.constraints.clamp import clamp
from riskgate.core.context import Context
from riskgate.core.domain import Proposal
from riskgate.core.verdict import (
    CAPPED,
    DERISK_PASS,
    OK,
    REJECTED,
    VerdictTuple,
    bound,
    cut,
    passed,
)  # fmt: skip

_PASS_LOT = passed(r.LOT_ROUNDING, None, None)


@dataclass(frozen=True, slots=True)
class AdvParticipation:
    """CAPPED so a risk-increasing trade is at most ``limit`` of ADV; with no volume known
    only a cut toward flat passes."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        adv = ctx.market.adv
        target, current = ctx.target, ctx.current
        trade = abs(target - current)
        if adv is None or adv <= 0.0:  # no volume: only the cut toward flat can pass
            return cut(CAPPED, r.ADV_PARTICIPATION, self.limit, math.inf, target,
                       clamp(target, min(current, 0.0), max(current, 0.0)))
        value = trade / adv
        if value <= self.limit:
            return (OK, r.ADV_PARTICIPATION, self.limit, value, self.limit - value, None)
        room = self.limit * adv
        lo, hi = min(current - room, 0.0), max(current + room, 0.0)
        return cut(CAPPED, r.ADV_PARTICIPATION, self.limit, value, target, clamp(target, lo, hi))


def lot_rounding(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """Round the trade (target - current) toward zero to whole lots. Flat is always a valid
    landing point, so a position can be closed out even when it is not a whole lot.

    Rounding alone is not a cut (the verdict stays OK), unless nothing is left to trade."""
    target, current = ctx.target, ctx.current
    delta = target - current
    if target == 0.0 or delta == 0.0:
        return _PASS_LOT
    lot = ctx.market.lot_size
    exact = abs(delta) / lot
    if exact.is_integer():
        return _PASS_LOT
    lots = math.floor(exact + 1e-9)
    rounded = current + math.copysign(lots * lot, delta)
    if rounded * target <= 0.0:  # flat lies between the rounded trade and the target
        rounded = 0.0
    if abs(rounded - target) <= 1e-9 * max(1.0, abs(target)):
        return _PASS_LOT
    kind = REJECTED if rounded == current else OK
    return bound(kind, r.LOT_ROUNDING, lot, abs(delta), rounded)
