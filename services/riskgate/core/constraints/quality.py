"""Trade quality and price sanity: confidence, order value and volume, collar, spread, stop,
risk/trade."""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import ceil

from riskgate.core import reasons as r
from riskgate.core.constraints.clamp import clamp
from riskgate.core.context import Context
from riskgate.core.domain import Proposal
from riskgate.core.verdict import (
    DERISK_PASS,
    OK,
    SCALED_DOWN,
    VerdictTuple,
    cut,
    floor_verdict,
    passed,
    rejected,
)  # fmt: skip

_PASS_STOP = passed(r.INVALID_STOP, None, None)


@dataclass(frozen=True, slots=True)
class MinConfidence:
    """REJECTED when a risk increase comes with confidence below the minimum."""

    minimum: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        return floor_verdict(r.MIN_CONFIDENCE, self.minimum, proposal.confidence)


@dataclass(frozen=True, slots=True)
class FatFinger:
    """REJECTED when the proposed trade's notional exceeds the fat-finger limit (money).

    It looks at the proposal as sent, before any cap, so a tighter limit rejects more."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        delta = ctx.target - ctx.current
        notional = abs(delta) * ctx.unit
        if notional <= self.limit:
            return (OK, r.FAT_FINGER, self.limit, notional, self.limit - notional, None)
        largest = ctx.current + math.copysign(self.limit / ctx.unit, delta)
        return rejected(r.FAT_FINGER, self.limit, notional, largest)


@dataclass(frozen=True, slots=True)
class MaxOrderQuantity:
    """REJECTED when the proposed order, |target - current| in instrument units, exceeds the
    maximum order volume (MiFID II RTS 6 Art. 15(1)).

    The notional checks cannot see a huge quantity at a tiny price; this one can. Like
    FatFinger it judges the proposal as sent and reports the largest order that passes."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        delta = ctx.target - ctx.current
        quantity = abs(delta)
        if quantity <= self.limit:
            return (OK, r.MAX_ORDER_QUANTITY, self.limit, quantity, self.limit - quantity, None)
        largest = ctx.current + math.copysign(self.limit, delta)
        return rejected(r.MAX_ORDER_QUANTITY, self.limit, quantity, largest)


@dataclass(frozen=True, slots=True)
class PriceCollar:
    """REJECTED when the strategy's reference price is too far from the market price."""

    collar: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        reference = proposal.reference_price
        if reference is None:
            return passed(r.PRICE_COLLAR, self.collar, None)
        if ctx.derisk:
            return DERISK_PASS
        price = ctx.market.price
        deviation = abs(reference - price) / price
        if deviation <= self.collar:
            return (OK, r.PRICE_COLLAR, self.collar, deviation, self.collar - deviation, None)
        return rejected(r.PRICE_COLLAR, self.collar, deviation)


@dataclass(frozen=True, slots=True)
class MaxSpread:
    """REJECTED when a risk increase would trade through a spread wider than the max (bps)."""

    max_bps: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        spread = ctx.market.spread_bps
        if spread <= self.max_bps:
            return (OK, r.MAX_SPREAD, self.max_bps, spread, self.max_bps - spread, None)
        return rejected(r.MAX_SPREAD, self.max_bps, spread)


def protective_levels(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """REJECTED when the proposal's stop or take-profit is on the wrong side of the price."""
    stop, take = proposal.stop_loss, proposal.take_profit
    if stop is None and take is None:
        return _PASS_STOP
    if ctx.derisk:
        return DERISK_PASS
    price = ctx.market.price
    side = 1.0 if ctx.target > 0 else -1.0
    if stop is not None and (price - stop) * side <= 0:
        return rejected(r.INVALID_STOP, price, stop)
    if take is not None and (take - price) * side <= 0:
        return rejected(r.INVALID_STOP, price, take)
    return _PASS_STOP


@dataclass(frozen=True, slots=True)
class MaxRiskPerTrade:
    """SCALED_DOWN so the loss at the stop on the added exposure is at most ``limit`` of
    equity. The stop is the proposal's, else k x ATR, else the 2% base (as in
    ``sizing.trade_stop_distance``)."""

    limit: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        market = ctx.market
        stop, price, tick = proposal.stop_loss, market.price, market.tick_size
        if stop is not None:
            distance = abs(price - stop)
        elif market.atr is not None:
            distance = ctx.limits.stop_atr_multiple * market.atr
        else:
            distance = ctx.limits.base_stop_pct * price
        # Whole ticks, rounded up, so the loss at the stop is never understated.
        loss_per_unit = ceil(distance / tick - 1e-9) * tick * market.multiplier * (
            market.fx_to_base)
        target, current = ctx.target, ctx.current
        same_side = target * current > 0
        added = abs(target) - abs(current) if same_side else abs(target)
        equity = ctx.equity
        value = added * loss_per_unit / equity
        if value <= self.limit:
            return (OK, r.MAX_RISK_PER_TRADE, self.limit, value, self.limit - value, None)
        room = self.limit * equity / loss_per_unit
        lo, hi = (-room, current + room) if current >= 0 else (current - room, room)
        return cut(SCALED_DOWN, r.MAX_RISK_PER_TRADE, self.limit, value, target,
                   clamp(target, lo, hi))
