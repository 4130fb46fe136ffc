"""Seed 003's policy routes (GET risk-profile, POST risk-mode, GET risk-modes) and the
``/v1/profiles`` routes, all on the live config the workers enforce.

``PUT /v1/profiles/active`` used to switch only this API process's profile, which looked as
if it switched the gate. It now publishes a global profile switch through the writer, exactly
as ``POST /api/v2/policy/risk-mode`` with ``scope: global`` does.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from riskgate.api.access import Access
from riskgate.api.auth import ApiKey
from riskgate.api.control import WRITTEN, Control, Wait, risk_mode_route
from riskgate.api.control_models import (
    ActiveProfileRequest,
    EffectiveProfile,
    RiskMode,
    RiskModesResponse,
    RiskProfileResponse,
    ScopeView,
    WriteResponse,
)
from riskgate.api.errors import documented
from riskgate.api.live import DEFAULT_PROFILE, LiveView, global_profile, live_world
from riskgate.api.routing import JsonBodyRoute
from riskgate.contracts.base import Id
from riskgate.control.model import Actor, ConfigChange
from riskgate.control.scopes import scope_state
from riskgate.core import PROFILES
from riskgate.worker.globals import ConfigBook, GlobalState

#: Seed 003's "Use Case" row.
DESCRIPTIONS = {
    "AGGRESSIVE_SMALL_ACCOUNT": "Small accounts, high aggression",
    "NORMAL": "Standard balanced trading",
    "DEFENSIVE": "Conservative capital preservation",
}


def scope_views(book: ConfigBook) -> list[ScopeView]:
    """Every scope the live config names, global first, as the control plane reads them."""
    keys = sorted({*book.profile, *book.overrides, *book.states,
                   *(k for k in book.scope_versions if k[0] != "REARM")},
                  key=lambda k: (k[0] != "GLOBAL", k))
    return [ScopeView(**scope_state(book, key).as_dict())
            for key in keys]


def profile_view(world: GlobalState, portfolio: str | None = None,
                 strategy: str | None = None) -> RiskProfileResponse:
    """Every scope's profile; with a portfolio or strategy, the profile and limits in effect."""
    book = world.config
    effective = None
    if portfolio is not None or strategy is not None:
        limits, name = book.limits(portfolio or "", strategy or "")
        effective = EffectiveProfile(portfolio_id=portfolio or "", strategy_id=strategy or "",
                                     profile=name, limits=limits.as_dict())
    return RiskProfileResponse(
        config_version=book.version, default_profile=DEFAULT_PROFILE,
        global_profile=global_profile(world),
        emergency_level=world.emergency_in_force().level.value,
        rearmed_events=sorted(book.rearms), scopes=scope_views(book), effective=effective)


def risk_modes(world: GlobalState) -> RiskModesResponse:
    active = global_profile(world)
    return RiskModesResponse(global_profile=active, modes=[
        RiskMode(name=n, description=DESCRIPTIONS.get(n, ""), active_globally=n == active,
                 limits=lim.as_dict()) for n, lim in PROFILES.items()])


def policy_router(inputs: LiveView, control: Control, access: Access) -> APIRouter:
    router = APIRouter(prefix="/api/v2/policy", tags=["policy (seed 003)"],
                       route_class=JsonBodyRoute)
    reader = access.read()

    @router.get("/risk-profile", response_model=RiskProfileResponse, responses=documented())
    async def risk_profile(
            _key: Annotated[ApiKey | None, Depends(reader)],
            portfolio: Annotated[Id | None, Query(description="Also show the effective "
                                                  "profile for this portfolio.")] = None,
            strategy: Annotated[Id | None, Query(description="... and strategy.")] = None,
    ) -> RiskProfileResponse:
        """The active profile per scope, and the effective one for a portfolio/strategy."""
        return profile_view(live_world(inputs), portfolio, strategy)

    @router.get("/risk-modes", response_model=RiskModesResponse, responses=documented())
    async def modes(_key: Annotated[ApiKey | None, Depends(reader)]) -> RiskModesResponse:
        """The profiles with their limits, and which one the global scope uses."""
        return risk_modes(live_world(inputs))

    risk_mode_route(router, control, access)
    return router


def profiles_router(inputs: LiveView, control: Control, access: Access) -> APIRouter:
    """GET /v1/profiles, GET and PUT /v1/profiles/active: the global profile."""
    router = APIRouter(prefix="/v1/profiles", tags=["profiles"], route_class=JsonBodyRoute)
    reader, operator = access.read(), access.write("operator")

    @router.get("", response_model=RiskModesResponse, responses=documented())
    async def list_profiles(_key: Annotated[ApiKey | None, Depends(reader)]) -> RiskModesResponse:
        """The three seed profiles with their limits (as GET /api/v2/policy/risk-modes)."""
        return risk_modes(live_world(inputs))

    @router.get("/active", response_model=RiskProfileResponse, responses=documented())
    async def get_active(_key: Annotated[ApiKey | None, Depends(reader)]) -> RiskProfileResponse:
        """The live config's profiles (as GET /api/v2/policy/risk-profile)."""
        return profile_view(live_world(inputs))

    @router.put("/active", response_model=WriteResponse, status_code=202,
                responses={**documented(409), **WRITTEN})
    async def put_active(body: ActiveProfileRequest, actor: Annotated[Actor, Depends(operator)],
                         wait: Wait = False) -> JSONResponse:
        """Switch the global profile through risk.config (as POST risk-mode, scope global)."""
        change = ConfigChange(scope="global", profile=body.profile, reason=body.reason,
                              if_version=body.if_version)
        return await control.submit("profiles-active", change, actor, wait)

    return router
