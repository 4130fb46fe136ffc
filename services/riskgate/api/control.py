"""The control routes: seed 003's policy routes and the other config writes.

Every write builds a ``ConfigChange`` and hands it, with the key's ``Actor``, to the one
``ConfigWriter`` the CLI uses too (docs/control-plane.md), so it is validated, versioned,
recorded with who and why, and reaches every worker. Answers: 202 once published (or proposed
under four-eyes); with ``wait=true`` 200 once every live worker applied it; 409 on an
``if_version`` conflict; 422 when the writer refuses it; 503 without a writer. A refused or
unauthorised write never reaches the writer.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from riskgate.api import metrics
from riskgate.api.access import Access
from riskgate.api.control_models import (
    HaltRequest,
    LimitsRequest,
    RearmRequest,
    RiskModeRequest,
    TradingStateRequest,
    WriteResponse,
)
from riskgate.api.errors import ApiError, documented
from riskgate.api.routing import JsonBodyRoute
from riskgate.control.model import (
    Actor,
    ConfigChange,
    ConfigRefused,
    ConfigWriter,
    NotPermitted,
    UnknownChange,
    VersionConflict,
    WriteResult,
)

log = structlog.get_logger("riskgate.api")

Wait = Annotated[bool, Query(description="Answer 200 only once every live worker applied "
                                         "the version (up to RISKGATE_API_WAIT_S), else 202.")]
WRITTEN = {200: {"model": WriteResponse, "description": "Published and applied by every live "
                                                        "worker (wait=true)."},
           202: {"model": WriteResponse, "description": "Published (or proposed under "
                                                        "four-eyes); not yet confirmed applied."}}
CHANGE_ID = Path(min_length=1, max_length=128, pattern=r"^\S+$",
                 description="The change id a four-eyes proposal was given.")
WRITER_UNAVAILABLE = ("config writer unavailable: this API process has no ConfigWriter, so it "
                      "publishes nothing; use `riskgate config` meanwhile")


@dataclass(frozen=True, slots=True)
class Control:
    """The writer (None: unavailable) and how long ``wait=true`` waits."""

    writer: ConfigWriter | None
    wait_s: float

    async def submit(self, route: str, change: ConfigChange, actor: Actor, wait: bool
                     ) -> JSONResponse:
        writer = self._writer()
        result = await self._call(route, actor, writer.submit(
            change, actor, wait_s=self.wait_s if wait else None))
        log.info("api_config_write", route=route, by=actor.name, scope=change.scope,
                 reason=change.reason, status=result.status, version=result.version)
        return answer(result, wait)

    async def approve(self, route: str, change_id: str, actor: Actor, wait: bool) -> JSONResponse:
        writer = self._writer()
        result = await self._call(route, actor, writer.approve(
            change_id, actor, wait_s=self.wait_s if wait else None))
        log.info("api_config_approve", route=route, by=actor.name, change_id=change_id,
                 status=result.status, version=result.version)
        return answer(result, wait)

    def _writer(self) -> ConfigWriter:
        if self.writer is None:
            raise ApiError(503, "WRITER_UNAVAILABLE", WRITER_UNAVAILABLE)
        return self.writer

    @staticmethod
    async def _call(route: str, actor: Actor, call) -> WriteResult:
        try:
            result = await call
        except VersionConflict as exc:
            metrics.CONFIG_WRITES.labels(route, actor.name, "conflict").inc()
            raise ApiError(409, "VERSION_CONFLICT", str(exc)) from None
        except NotPermitted as exc:  # e.g. approving one's own proposal
            metrics.CONFIG_WRITES.labels(route, actor.name, "not_permitted").inc()
            raise ApiError(403, "NOT_PERMITTED", str(exc)) from None
        except UnknownChange as exc:
            metrics.CONFIG_WRITES.labels(route, actor.name, "unknown").inc()
            raise ApiError(404, "UNKNOWN_CHANGE", str(exc)) from None
        except ConfigRefused as exc:
            metrics.CONFIG_WRITES.labels(route, actor.name, "refused").inc()
            raise ApiError(422, "CONFIG_REFUSED", str(exc)) from None
        metrics.CONFIG_WRITES.labels(route, actor.name, result.status).inc()
        return result


def _message(result: WriteResult, waited: bool, applied: bool) -> str:
    if result.status == "proposed":
        return f"proposed as {result.change_id}: a second admin must approve it"
    published = f"version {result.version} published"
    if applied:
        return f"{published} and applied by every live worker ({', '.join(result.applied_by)})"
    if result.not_applied_by:
        return f"{published}; not yet applied by {', '.join(result.not_applied_by)}"
    if waited:
        return f"{published}; no live worker reported, so none has confirmed it"
    return published


def answer(result: WriteResult, waited: bool) -> JSONResponse:
    """200 when the wait saw every live worker (at least one) apply it, else 202."""
    applied = (waited and result.status == "published" and bool(result.applied_by)
               and not result.not_applied_by)
    body = WriteResponse(
        change_id=result.change_id, status=result.status, version=result.version,
        applied=applied, applied_by=result.applied_by, not_applied_by=result.not_applied_by,
        previous=result.previous, new=result.new, diff=result.diff,
        expires_at=result.expires_at, message=_message(result, waited, applied))
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if applied else 202)


def control_router(control: Control, access: Access) -> APIRouter:
    """The writes besides seed 003's risk-mode: trading state, halt, re-arm, limits, approve."""
    router = APIRouter(prefix="/v1/config", tags=["control"], route_class=JsonBodyRoute)
    operator, admin = access.write("operator"), access.write("admin")
    common = {"responses": {**documented(409), **WRITTEN}, "response_model": WriteResponse,
              "status_code": 202}

    @router.post("/trading-state", **common)
    async def trading_state(body: TradingStateRequest, actor: Annotated[Actor, Depends(operator)],
                            wait: Wait = False) -> JSONResponse:
        """Set a scope's trading state (ACTIVE, REDUCING, HALTED). Operator."""
        change = ConfigChange(scope=body.scope, trading_state=body.state, reason=body.reason,
                              if_version=body.if_version)
        return await control.submit("trading-state", change, actor, wait)

    @router.post("/halt", **common)
    async def halt(body: HaltRequest, actor: Annotated[Actor, Depends(operator)],
                   wait: Wait = False) -> JSONResponse:
        """The kill switch: global HALTED (only verified de-risking passes). Operator."""
        change = ConfigChange(scope="global", trading_state="HALTED", reason=body.reason,
                              if_version=body.if_version)
        return await control.submit("halt", change, actor, wait)

    @router.post("/limits", **common)
    async def limits(body: LimitsRequest, actor: Annotated[Actor, Depends(admin)],
                     wait: Wait = False) -> JSONResponse:
        """Merge limits into a scope's overlay (null: no cap), or unset them. Admin; under
        four-eyes a proposal (202) for a second admin."""
        change = ConfigChange(scope=body.scope, limits=body.limits or None, unset=body.unset,
                              reason=body.reason, if_version=body.if_version)
        return await control.submit("limits", change, actor, wait)

    @router.post("/rearm", **common)
    async def rearm(body: RearmRequest, actor: Annotated[Actor, Depends(admin)],
                    wait: Wait = False) -> JSONResponse:
        """Re-arm after EMERGENCY for one black-swan event. Admin; four-eyes applies."""
        change = ConfigChange(rearm_event_id=body.event_id, reason=body.reason)
        return await control.submit("rearm", change, actor, wait)

    @router.post("/approvals/{change_id}", **{**common, "responses": {**documented(404, 409),
                                                                     **WRITTEN}})
    async def approve(change_id: Annotated[str, CHANGE_ID], actor: Annotated[Actor, Depends(admin)],
                      wait: Wait = False) -> JSONResponse:
        """Approve a four-eyes proposal made by another admin, which publishes it. Admin."""
        return await control.approve("approve", change_id, actor, wait)

    return router


def risk_mode_route(router: APIRouter, control: Control, access: Access) -> None:
    """Seed 003's POST /api/v2/policy/risk-mode on ``router``."""
    operator = access.write("operator")

    @router.post("/risk-mode", response_model=WriteResponse, status_code=202,
                 responses={**documented(409), **WRITTEN})
    async def risk_mode(body: RiskModeRequest, actor: Annotated[Actor, Depends(operator)],
                        wait: Wait = False) -> JSONResponse:
        """Switch a scope's base profile through risk.config, reaching every worker. Operator."""
        change = ConfigChange(scope=body.scope, profile=body.profile, reason=body.reason,
                              if_version=body.if_version)
        return await control.submit("risk-mode", change, actor, wait)

