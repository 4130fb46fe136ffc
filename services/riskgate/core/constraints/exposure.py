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
from riskgate.core.verdict import CAPPED, DERISK_PASS, OK, VerdictTuple, cut, rejected


def _gross_cap(ctx: Context, excluded: float, cap: float, reason: str) -> VerdictTuple:
    equity = ctx.equity
    target = ctx.target
    value = (excluded + abs(target) * ctx.unit) / equity
    if value <= cap:
        return (OK, reason, cap, value, cap - value, None)
    room = gross_room(ctx.current, ctx.unit, excluded, cap * equity)
    return cut(CAPPED, reason, cap, value, target, clamp_abs(target, room))


def _group_cap(ctx: Context, aggregate: dict[str, float], key: str, old_key: str | None,
               cap: float, reason: str) -> VerdictTuple:
    excluded = aggregate.get(key, 0.0)
    if key == old_key:
        excluded -= ctx.old_abs
    equity = ctx.equity
    value = (excluded + abs(ctx.target) * ctx.unit) / equity
    if value <= cap:
        return (OK, reason, cap, value, cap - value, None)
    room = gross_room(ctx.current, ctx.unit, excluded, cap * equity)
    return cut(CAPPED, reason, cap, value, ctx.target, clamp_abs(ctx.target, room))


@dataclass(frozen=True, slots=True)
class SectorCap:
    """CAPPED so the gross exposure of this ticker's sector stays within ``cap``."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        entry = ctx.old_entry
        return _group_cap(ctx, ctx.book.sector, ctx.market.sector,
                          entry.sector if entry is not None else None, self.cap, r.SECTOR_CAP)


@dataclass(frozen=True, slots=True)
class CountryCap:
    """CAPPED so the gross exposure of this ticker's country stays within ``cap``."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        entry = ctx.old_entry
        return _group_cap(ctx, ctx.book.country, ctx.market.country,
                          entry.country if entry is not None else None, self.cap,
                          r.COUNTRY_CAP)


@dataclass(frozen=True, slots=True)
class ClusterCap:
    """CAPPED so the gross exposure of this ticker's correlation cluster stays within
    ``cap``."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        entry = ctx.old_entry
        return _group_cap(ctx, ctx.book.cluster, ctx.market.cluster,
                          entry.cluster if entry is not None else None, self.cap,
                          r.CLUSTER_CAP)


@dataclass(frozen=True, slots=True)
class FactorCap:
    """CAPPED so |net loading-weighted exposure| to each named factor stays within its cap."""

    caps: Mapping[str, float]

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        market, entry = ctx.market, ctx.old_entry
        factors = market.factors
        old_unit = entry.unit if entry is not None else 0.0
        old = entry.factors if entry is not None else ()
        target = start = ctx.target
        current, equity, book_factor = ctx.current, ctx.equity, ctx.book.factor
        tight_cap = tight_value = None
        for name, loading in factors:
            cap = self.caps.get(name)
            if cap is None or loading == 0.0:
                continue
            old_loading = loading if old is factors else dict(old).get(name, 0.0)
            excluded = book_factor.get(name, 0.0) - current * old_unit * old_loading
            slope = loading * ctx.unit
            value = abs(excluded + slope * start) / equity
            if value > cap:
                # Every interval contains the current position: clamping in turn meets all.
                target = clamp(target, *net_interval(current, slope, excluded, cap * equity))
            if tight_cap is None or cap - value < tight_cap - tight_value:
                tight_cap, tight_value = cap, value
        return cut(CAPPED, r.FACTOR_CAP, tight_cap, tight_value, start, target)


@dataclass(frozen=True, slots=True)
class GrossExposureCap:
    """CAPPED so the book's gross exposure (sum of |notional|) stays within ``cap``;
    with ``reason=LEVERAGE_CAP`` the same measure enforces the profile's max leverage."""

    cap: float
    reason: str = r.GROSS_EXPOSURE_CAP

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        return _gross_cap(ctx, ctx.book.gross - ctx.old_abs, self.cap, self.reason)


@dataclass(frozen=True, slots=True)
class NetExposureCap:
    """CAPPED so |net exposure| (sum of signed notional) stays within ``cap``."""

    cap: float

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        if ctx.derisk:
            return DERISK_PASS
        entry = ctx.old_entry
        current, target, unit, equity = ctx.current, ctx.target, ctx.unit, ctx.equity
        excluded = ctx.book.net - (current * entry.unit if entry is not None else 0.0)
        value = abs(excluded + target * unit) / equity
        if value <= self.cap:
            return (OK, r.NET_EXPOSURE_CAP, self.cap, value, self.cap - value, None)
        lo, hi = net_interval(current, unit, excluded, self.cap * equity)
        return cut(CAPPED, r.NET_EXPOSURE_CAP, self.cap, value, target, clamp(target, lo, hi))


@dataclass(frozen=True, slots=True)
class MaxOpenPositions:
    """REJECTED when a new name would open with the book already at the max count."""

    limit: int

    def __call__(self, proposal: Proposal, ctx: Context) -> VerdictTuple:
        count = ctx.book.open_count
        if ctx.current != 0.0 or ctx.target == 0.0:
            return (OK, r.MAX_OPEN_POSITIONS, self.limit, count, self.limit - count, None)
        if count + 1 <= self.limit:
            return (OK, r.MAX_OPEN_POSITIONS, self.limit, count + 1, self.limit - count - 1, None)
        return rejected(r.MAX_OPEN_POSITIONS, self.limit, count + 1)
