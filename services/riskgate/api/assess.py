"""POST /assess-risk (seed 000's form) and POST /v1/what-if (the native wire form).

Both are pure what-ifs: nothing is published, stored or applied to any book. They assess under
the live config (profile, limits, trading states) and the live emergency level. A what-if
with ``portfolio_id`` assesses against that portfolio's live projected state and the live
market data; one with ``portfolio`` against the book and market data it sends. Input that
fails validation never reaches the core (422); the core refuses anything else it finds
invalid with a REJECTED outcome, so an error is never an approval.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

import dataclasses
import math
from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError

from riskgate.api import metrics
from riskgate.api.access import Access
from riskgate.api.auth import ApiKey
from riskgate.api.errors import documented
from riskgate.api.live import LiveView, global_profile, live_world
from riskgate.api.portfolios import PortfolioSource, live_book, stored_row
from riskgate.api.routing import JsonBodyRoute
from riskgate.api.schemas import (
    Assessment,
    AssessRiskRequest,
    AssessRiskResponse,
    WhatIfPortfolio,
    WhatIfRequest,
    WhatIfResponse,
)
from riskgate.compat import PortfolioState, RiskOrchestrator, SignalType, TradingSignal
from riskgate.core import (
    PROFILES,
    Environment,
    LimitsError,
    Outcome,
    Portfolio,
    assess,
    resolve_limits,
)
from riskgate.worker import codec
from riskgate.worker.globals import GlobalState

log = structlog.get_logger("riskgate.api")


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def portfolio_of(snapshot: WhatIfPortfolio) -> Portfolio:
    """A wire ``PortfolioSnapshot`` as the core's Portfolio (positions as sent)."""
    return Portfolio(
        portfolio_id=snapshot.portfolio_id, equity=snapshot.equity,
        pnl_today=snapshot.pnl_today, peak_equity=snapshot.peak_equity, nav=snapshot.nav,
        positions={p.ticker: p.quantity for p in snapshot.positions},
        as_of=snapshot.as_of.timestamp(), snapshot_version=snapshot.version,
    )


def tried(req: WhatIfRequest, live: Environment) -> Environment:
    """The live environment, with the request's profile and limits tried instead."""
    if req.profile is None and req.limits is None:
        return live
    name = req.profile.value if req.profile is not None else live.profile
    try:
        limits = resolve_limits(name if req.profile is not None else live.limits, req.limits)
    except LimitsError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "limits"), "msg": str(exc)}]) from None
    return dataclasses.replace(live, limits=limits, profile=name)


def outcome_view(outcome: Outcome, env: Environment, book: str) -> WhatIfResponse:
    return WhatIfResponse(
        decision_id=outcome.decision_id, portfolio_id=outcome.portfolio_id,
        ticker=outcome.ticker, book=book, profile=env.profile,
        config_version=env.config_version, emergency_level=env.emergency_level.value,
        action_type=outcome.action_type.value,
        approved=outcome.approved, target_position=outcome.target_position,
        delta_position=outcome.delta_position, target_notional=_finite(outcome.target_notional),
        target_weight=_finite(outcome.target_weight), priority=outcome.priority,
        reason_codes=list(outcome.reason_codes),
        risk_reasoning_summary=outcome.risk_reasoning_summary,
        max_passing_position=_finite(outcome.max_passing_position), details=outcome.details(),
    )


async def _what_if(req: WhatIfRequest, world: GlobalState, portfolios: PortfolioSource,
                   now: float) -> WhatIfResponse:
    decision = req.decision
    proposal = codec.proposal(decision)
    if req.portfolio_id is not None:
        row = await stored_row(portfolios, req.portfolio_id)
        book, live = live_book(row, world, now, decision.strategy_id)
        env = tried(req, live)
        outcome = assess(proposal, book, world.market.get(decision.ticker), env)
        return outcome_view(outcome, env, "live")
    assert req.portfolio is not None
    env = tried(req, world.environment(decision.portfolio_id, decision.strategy_id, now))
    markets = {m.ticker: codec.market(m) for m in req.market}
    outcome = assess(proposal, portfolio_of(req.portfolio), markets, env)
    return outcome_view(outcome, env, "request")


def assessment_router(inputs: LiveView, portfolios: PortfolioSource, access: Access,
                      clock: Callable[[], float]) -> APIRouter:
    """The two assessment routes, on the live inputs and the injected clock."""
    router = APIRouter(tags=["assessment"], route_class=JsonBodyRoute)
    reader = access.read()
    orchestrators = {name: RiskOrchestrator({"profile": name}) for name in PROFILES}

    @router.post("/assess-risk", response_model=AssessRiskResponse, responses=documented())
    async def assess_risk(req: AssessRiskRequest, request: Request, response: Response,
                          _key: Annotated[ApiKey | None, Depends(reader)]) -> AssessRiskResponse:
        """Seed 000: ``{"signal": {...}, "portfolio_state": {...}}`` -> ``{"assessment": {...}}``,
        on the live global profile."""
        name = global_profile(live_world(inputs))
        s, p = req.signal, req.portfolio_state
        signal = TradingSignal(s.signal_id, s.asset, SignalType(s.signal_type), s.price,
                               s.confidence)
        a = orchestrators[name].assess_trade_risk(
            signal, PortfolioState(p.total_equity, p.current_drawdown, p.daily_pnl))
        metrics.ASSESSMENTS.labels("assess-risk", "approved" if a.is_approved else "refused").inc()
        log.debug("api_assess_risk", signal_id=a.signal_id, profile=name,
                  approved=a.is_approved, trace_id=request.headers.get("x-trace-id"))
        response.headers["X-Riskgate-Profile"] = name
        return AssessRiskResponse(assessment=Assessment(
            signal_id=a.signal_id, is_approved=a.is_approved,
            recommended_position_size=a.recommended_position_size,
            stop_loss_price=a.stop_loss_price, take_profit_price=a.take_profit_price,
            risk_level=a.risk_level.value, rejection_reason=a.rejection_reason))

    @router.post("/v1/what-if", response_model=WhatIfResponse, responses=documented(404))
    async def what_if(req: WhatIfRequest, request: Request,
                      _key: Annotated[ApiKey | None, Depends(reader)]) -> WhatIfResponse:
        """What the gate would decide for one proposal, at the injected clock's now."""
        result = await _what_if(req, live_world(inputs), portfolios, clock())
        metrics.ASSESSMENTS.labels("what-if", result.action_type).inc()
        log.debug("api_what_if", decision_id=result.decision_id,
                  portfolio_id=result.portfolio_id, profile=result.profile, book=result.book,
                  action_type=result.action_type, trace_id=request.headers.get("x-trace-id"))
        return result

    return router
