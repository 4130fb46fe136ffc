"""Input gates: decision age, input validity, market data, staleness, restricted list,
long-only."""

from __future__ import annotations

import math

from riskgate.core import reasons as r
from riskgate.core.context import Context
from riskgate.core.domain import MarketData, Proposal
from riskgate.core.verdict import CAPPED, DERISK_PASS, OK, VerdictTuple, bound, passed, rejected

_INF = math.inf
_PASS_VALID = passed(r.INVALID_INPUT, None, None)
_PASS_MARKET = passed(r.NO_MARKET_DATA, None, None)
_PASS_FRESH = passed(r.STALE_INPUT, None, None)
_PASS_RESTRICTED = passed(r.RESTRICTED, None, None)
_PASS_LONG_ONLY = passed(r.LONG_ONLY, None, None)


def decision_age(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """EXPIRED when the decision is older than the max decision age at processing time."""
    max_age = ctx.env.max_decision_age_s
    age = ctx.env.now - proposal.created_at
    if max_age is None:
        return passed(r.DECISION_EXPIRED, None, age)
    if age > max_age:
        return rejected(r.DECISION_EXPIRED, max_age, age)
    return (OK, r.DECISION_EXPIRED, max_age, age, max_age - age, None)


def _optional_positive(x: float | None) -> bool:
    return x is None or 0.0 < x < _INF


def invalid_proposal(p: Proposal) -> str | None:
    """The first invalid proposal field, else None."""
    qty, weight = p.target_quantity, p.target_weight
    if qty is None:
        if weight is None:
            return "one of target_quantity and target_weight is required"
        if not -10.0 <= weight <= 10.0:
            return "target_weight"
    elif weight is not None:
        return "only one of target_quantity and target_weight may be set"
    elif not -_INF < qty < _INF:
        return "target_quantity"
    if not 0.0 <= p.confidence <= 1.0:
        return "confidence"
    if not -_INF < p.created_at < _INF:
        return "created_at"
    if not _optional_positive(p.reference_price):
        return "reference_price"
    if not _optional_positive(p.stop_loss):
        return "stop_loss"
    if not _optional_positive(p.take_profit):
        return "take_profit"
    return None


def invalid_market(m: MarketData) -> str | None:
    """The first invalid market field, else None."""
    if not (0.0 < m.price < _INF and 0.0 < m.tick_size < _INF and 0.0 < m.lot_size < _INF
            and 0.0 < m.multiplier < _INF and 0.0 < m.fx_to_base < _INF):
        return "price, tick_size, lot_size, multiplier or fx_to_base"
    if not (0.0 <= m.spread_bps < _INF and -_INF < m.as_of < _INF):
        return "spread_bps or as_of"
    if not (m.adv is None or 0.0 <= m.adv < _INF):
        return "adv"
    if not (_optional_positive(m.atr) and _optional_positive(m.volatility)):
        return "atr or volatility"
    if any(not -_INF < loading < _INF for _, loading in m.factors):
        return "factors"
    return None


_VALID_MARKETS: dict[int, MarketData] = {}


def _market_problem(market: MarketData) -> str | None:
    # Market records are immutable and reused across decisions: remember the valid ones.
    if _VALID_MARKETS.get(id(market)) is market:
        return None
    problem = invalid_market(market)
    if problem is None:
        if len(_VALID_MARKETS) > 65536:
            _VALID_MARKETS.clear()
        _VALID_MARKETS[id(market)] = market
    return problem


def invalid_input(ctx: Context) -> str | None:
    """Why the inputs of this decision cannot be used, else None."""
    try:
        problem = invalid_proposal(ctx.proposal)
        if problem is None and ctx.market is not None:
            problem = _market_problem(ctx.market)
    except TypeError as exc:  # a wrongly typed field never passes
        return f"mistyped input: {exc}"
    if problem is not None:
        return problem
    if ctx.book.invalid is not None:
        return f"portfolio: {ctx.book.invalid}"
    if not -_INF < ctx.env.now < _INF:
        return "now"
    return None


def input_validity(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """REJECTED when any number is NaN, infinite, negative where it must not be, or mistyped."""
    return _PASS_VALID if invalid_input(ctx) is None else rejected(r.INVALID_INPUT)


def market_data_present(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """REJECTED when there is no market data for the ticker."""
    market = ctx.market
    if market is None or market.ticker != proposal.ticker:
        return rejected(r.NO_MARKET_DATA)
    return _PASS_MARKET


def stale_input(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """A stale snapshot, price or emergency state puts the portfolio in REDUCING."""
    stale = ctx.stale
    if stale is None:
        return _PASS_FRESH
    if ctx.derisk:
        return DERISK_PASS
    _, age, max_age = stale
    return rejected(r.STALE_INPUT, max_age, age)


def restricted_list(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """REJECTED when a restricted ticker would gain exposure."""
    if proposal.ticker not in ctx.limits.restricted:
        return _PASS_RESTRICTED
    return DERISK_PASS if ctx.derisk else rejected(r.RESTRICTED)


def long_only(proposal: Proposal, ctx: Context) -> VerdictTuple:
    """Under long-only, a short target is capped at flat (an existing short may only shrink)."""
    target = ctx.target
    floor = min(ctx.current, 0.0)
    if not ctx.limits.long_only or target >= floor:
        return _PASS_LONG_ONLY
    return bound(CAPPED, r.LONG_ONLY, floor, target, floor)
