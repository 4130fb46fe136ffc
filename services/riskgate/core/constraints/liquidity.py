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
    """CAPPED so a risk-increasing trade is at most ``limit`` of ADV (unknown ADV: no trade)."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        adv = ctx.market.adv
        target, current = ctx.target, ctx.current
        trade = abs(target - current)
        if adv is None or adv <= 0.0:
            return bound(CAPPED, r.ADV_PARTICIPATION, self.limit, math.inf, current)
        value = trade / adv
        if value <= self.limit:
            return (OK, r.ADV_PARTICIPATION, self.limit, value, self.limit - value, None)
        room = self.limit * adv
        return cut(CAPPED, r.ADV_PARTICIPATION, self.limit, value, target,
                   clamp(target, current - room, current + room))


def lot_rounding(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """Round the trade (target - current) toward zero to whole lots; closing out is exempt.

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
    if abs(rounded - target) <= 1e-9 * max(1.0, abs(target)):
        return _PASS_LOT
    kind = OK if lots else REJECTED
    return bound(kind, r.LOT_ROUNDING, lot, abs(delta), rounded)
