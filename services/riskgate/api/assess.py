"""POST /assess-risk (seed 000's form) and POST /v1/what-if (the native wire form).

Both are pure what-ifs: nothing is published, stored or applied to any book. Input that
fails validation never reaches the core (422); the core itself refuses anything else it
finds invalid with a REJECTED outcome, so an error is never an approval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError

from riskgate.api import metrics
from riskgate.api.profiles import ActiveProfile
from riskgate.api.schemas import (
    Assessment,
    AssessRiskRequest,
    AssessRiskResponse,
    WhatIfRequest,
    WhatIfResponse,
    read_json,
)
from riskgate.compat import PortfolioState, SignalType, TradingSignal
from riskgate.contracts.inputs import PortfolioSnapshot
from riskgate.core import (
    Environment,
    LimitsError,
    Outcome,
    Portfolio,
    assess,
    resolve_limits,
)
from riskgate.settings import Settings
from riskgate.worker import codec

log = structlog.get_logger("riskgate.api")


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def portfolio_of(snapshot: PortfolioSnapshot) -> Portfolio:
    """A wire ``PortfolioSnapshot`` as the core's Portfolio (positions as sent)."""
    return Portfolio(
        portfolio_id=snapshot.portfolio_id, equity=snapshot.equity,
        pnl_today=snapshot.pnl_today, peak_equity=snapshot.peak_equity, nav=snapshot.nav,
        positions={p.ticker: p.quantity for p in snapshot.positions},
        as_of=snapshot.as_of.timestamp(), snapshot_version=snapshot.version,
    )


def environment(req: WhatIfRequest, active: str, now: float, settings: Settings) -> Environment:
    """The environment of a what-if: the requested or active profile, with overrides.

    The API has no black swan feed, so the emergency state is NORMAL and not tracked."""
    name = req.profile.value if req.profile is not None else active
    try:
        limits = resolve_limits(name, req.limits)
    except LimitsError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "limits"), "msg": str(exc)}]) from None
    return Environment(
        now=now, limits=limits, profile=name,
        max_snapshot_age_s=settings.max_snapshot_age_s, max_price_age_s=settings.max_price_age_s,
        max_decision_age_s=settings.max_decision_age_s, emergency_as_of=None,
    )


def outcome_view(outcome: Outcome, profile: str) -> WhatIfResponse:
    return WhatIfResponse(
        decision_id=outcome.decision_id, portfolio_id=outcome.portfolio_id,
        ticker=outcome.ticker, profile=profile, action_type=outcome.action_type.value,
        approved=outcome.approved, target_position=outcome.target_position,
        delta_position=outcome.delta_position, target_notional=_finite(outcome.target_notional),
        target_weight=_finite(outcome.target_weight), priority=outcome.priority,
        reason_codes=list(outcome.reason_codes),
        risk_reasoning_summary=outcome.risk_reasoning_summary,
        max_passing_position=_finite(outcome.max_passing_position), details=outcome.details(),
    )


def assessment_router(state: ActiveProfile, clock: Callable[[], float],
                      settings: Settings) -> APIRouter:
    """The two assessment routes, on the active profile and the injected clock."""
    router = APIRouter(tags=["assessment"])

    @router.post("/assess-risk", response_model=AssessRiskResponse)
    async def assess_risk(request: Request, response: Response) -> AssessRiskResponse:
        """Seed 000: ``{"signal": {...}, "portfolio_state": {...}}`` -> ``{"assessment": {...}}``."""
        req = await read_json(request, AssessRiskRequest)
        s, p = req.signal, req.portfolio_state
        signal = TradingSignal(s.signal_id, s.asset, SignalType(s.signal_type), s.price,
                               s.confidence)
        name, orchestrator = state.orchestrator()
        a = orchestrator.assess_trade_risk(
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

    @router.post("/v1/what-if", response_model=WhatIfResponse)
    async def what_if(request: Request) -> WhatIfResponse:
        """What the gate would decide for one proposal, at the injected clock's now."""
        req = await read_json(request, WhatIfRequest)
        env = environment(req, state.name, clock(), settings)
        markets = {m.ticker: codec.market(m) for m in req.market}
        outcome = assess(codec.proposal(req.decision), portfolio_of(req.portfolio), markets, env)
        metrics.ASSESSMENTS.labels("what-if", outcome.action_type.value).inc()
        log.debug("api_what_if", decision_id=outcome.decision_id,
                  portfolio_id=outcome.portfolio_id, profile=env.profile,
                  action_type=outcome.action_type.value,
                  trace_id=request.headers.get("x-trace-id"))
        return outcome_view(outcome, env.profile)

    return router
