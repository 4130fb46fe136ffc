"""Caps on groups and on the whole book: sector, country, cluster, factor, gross, net,
leverage and the open-position count. Caps are weights of equity; aggregates come from the
PortfolioBook in O(1), with this ticker's contribution swapped for the proposed one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from riskgate.core import reasons as r
from riskgate.core.constraints.clamp import clamp, clamp_abs, gross_room, net_interval
from riskgate.core.context import Context
from riskgate.core.domain import Proposal
from riskgate.core.verdict import CAPPED, DERISK_PASS, Verdict, bound, passed, rejected


def _gross_cap(ctx: Context, excluded: float, cap: float, reason: str) -> Verdict:
    equity = ctx.equity
    target = ctx.target
    value = (excluded + abs(target) * ctx.unit) / equity
    if value <= cap:
        return passed(reason, cap, value)
    room = gross_room(ctx.current, ctx.unit, excluded, cap * equity)
    return bound(CAPPED, reason, cap, value, clamp_abs(target, room))


@dataclass(frozen=True, slots=True)
class GroupCap:
    """CAPPED so the gross exposure of this ticker's sector, country or cluster stays within
    ``cap`` (``attribute`` names the MarketData field and the book aggregate)."""

    attribute: str
    cap: float
    reason: str

    def __call__(self, proposal: Proposal, ctx: Context) -> Verdict:
        if ctx.derisk:
            return DERISK_PASS
        attribute = self.attribute
        key = getattr(ctx.market, attribute)
        entry = ctx.old_entry
        old_key = getattr(entry, attribute) if entry is not None else None
        excluded = ctx.excluding(getattr(ctx.book, attribute), key, old_key)
        return _gross_cap(ctx, excluded, self.cap, self.reason)


@dataclass(frozen=True, slots=True)
class FactorCap:
    """CAPPED so |net loading-weighted exposure| to each named factor stays within its cap."""

    caps: Mapping[str, float]

    def __call__(self, proposal: Proposal, ctx: Context) -> Verdict:
        if ctx.derisk:
            return DERISK_PASS
        old = dict(ctx.old_entry.factors) if ctx.old_entry is not None else {}
        old_unit = ctx.old_entry.unit if ctx.old_entry is not None else 0.0
        target, current, equity = ctx.target, ctx.current, ctx.equity
        worst = passed(r.FACTOR_CAP, None, None)
        for name, loading in ctx.market.factors:
            cap = self.caps.get(name)
            if cap is None or loading == 0.0:
                continue
            excluded = ctx.book.factor.get(name, 0.0) - current * old_unit * old.get(name, 0.0)
            slope = loading * ctx.unit
            value = abs(excluded + slope * target) / equity
            if value <= cap:
                if worst.limit is None or cap - value < worst.headroom:
                    worst = passed(r.FACTOR_CAP, cap, value)
                continue
            lo, hi = net_interval(current, slope, excluded, cap * equity)
            clamped = clamp(target, lo, hi)
            if clamped != target:
                return bound(CAPPED, r.FACTOR_CAP, cap, value, clamped)
        return worst


@dataclass(frozen=True, slots=True)
class GrossExposureCap:
    """CAPPED so the book's gross exposure (sum of |notional|) stays within ``cap``;
    with ``reason=LEVERAGE_CAP`` the same measure enforces the profile's max leverage."""

    cap: float
    reason: str = r.GROSS_EXPOSURE_CAP

    def __call__(self, proposal: Proposal, ctx: Context) -> Verdict:
        if ctx.derisk:
            return DERISK_PASS
        return _gross_cap(ctx, ctx.book.gross - ctx.old_abs, self.cap, self.reason)


@dataclass(frozen=True, slots=True)
class NetExposureCap:
    """CAPPED so |net exposure| (sum of signed notional) stays within ``cap``."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> Verdict:
        if ctx.derisk:
            return DERISK_PASS
        entry = ctx.old_entry
        current, target, unit, equity = ctx.current, ctx.target, ctx.unit, ctx.equity
        excluded = ctx.book.net - (current * entry.unit if entry is not None else 0.0)
        value = abs(excluded + target * unit) / equity
        if value <= self.cap:
            return passed(r.NET_EXPOSURE_CAP, self.cap, value)
        lo, hi = net_interval(current, unit, excluded, self.cap * equity)
        clamped = clamp(target, lo, hi)
        if clamped == target:  # already beyond the cap, and not made worse
            return passed(r.NET_EXPOSURE_CAP, self.cap, value)
        return bound(CAPPED, r.NET_EXPOSURE_CAP, self.cap, value, clamped)


@dataclass(frozen=True, slots=True)
class MaxOpenPositions:
    """REJECTED when a new name would open with the book already at the max count."""

    limit: int

    def __call__(self, proposal: Proposal, ctx: Context) -> Verdict:
        count = ctx.book.open_count
        if ctx.current != 0.0 or ctx.target == 0.0:
            return passed(r.MAX_OPEN_POSITIONS, self.limit, count)
        if count + 1 <= self.limit:
            return passed(r.MAX_OPEN_POSITIONS, self.limit, count + 1)
        return rejected(r.MAX_OPEN_POSITIONS, self.limit, count + 1)
