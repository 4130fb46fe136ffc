"""The risk profile this API process assesses with, and the routes that read and switch it.

The switch is local to the API process: it changes what ``POST /assess-risk`` and
``POST /v1/what-if`` use here, and nothing else. It is neither published nor stored. The
streaming workers switch profiles through the ``risk.config`` topic (a versioned, compacted
config event, e.g. ``{"scope": "GLOBAL", "profile": "DEFENSIVE", ...}``); to change what
the gate enforces on live decisions, publish there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from fastapi import APIRouter, Request

from riskgate.api import metrics
from riskgate.api.schemas import (
    ActiveProfileResponse,
    ProfilesResponse,
    ProfileSwitch,
    ProfileView,
    read_json,
)
from riskgate.compat import RiskOrchestrator
from riskgate.core import PROFILES, Limits, profile

log = structlog.get_logger("riskgate.api")


class ActiveProfile:
    """The active profile of one API process; an unknown name raises LimitsError."""

    def __init__(self, name: str = "NORMAL") -> None:
        profile(name)  # refuse an unknown name before anything is built
        self._name = name
        self._switched_at: float | None = None
        self._lock = threading.Lock()
        self._orchestrators = {n: RiskOrchestrator({"profile": n}) for n in PROFILES}

    @property
    def name(self) -> str:
        return self._name

    @property
    def switched_at(self) -> float | None:
        """The injected clock's time of the last switch (None before any)."""
        return self._switched_at

    @property
    def limits(self) -> Limits:
        return PROFILES[self._name]

    def orchestrator(self) -> tuple[str, RiskOrchestrator]:
        """(profile name, seed 000 orchestrator on exactly that profile's limits)."""
        name = self._name  # one read, so the name and the orchestrator agree
        return name, self._orchestrators[name]

    def switch(self, name: str, at: float) -> str:
        """Make ``name`` active; returns the previous name."""
        profile(name)
        with self._lock:
            previous, self._name, self._switched_at = self._name, name, at
        self.export_gauge()
        return previous

    def export_gauge(self) -> None:
        for name in PROFILES:
            metrics.ACTIVE_PROFILE.labels(name).set(1.0 if name == self._name else 0.0)


def _active_view(state: ActiveProfile, previous: str | None = None) -> ActiveProfileResponse:
    return ActiveProfileResponse(profile=state.name, previous=previous,
                                 switched_at=state.switched_at, limits=state.limits.as_dict())


def profiles_router(state: ActiveProfile, clock: Callable[[], float]) -> APIRouter:
    """GET /v1/profiles, GET and PUT /v1/profiles/active."""
    router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

    @router.get("", response_model=ProfilesResponse)
    async def list_profiles() -> ProfilesResponse:
        """The three seed profiles with their limits, and which one this process uses."""
        active = state.name
        views = [ProfileView(name=n, active=n == active, limits=lim.as_dict())
                 for n, lim in PROFILES.items()]
        return ProfilesResponse(active=active, profiles=views)

    @router.get("/active", response_model=ActiveProfileResponse)
    async def get_active() -> ActiveProfileResponse:
        """The profile this API process assesses with."""
        return _active_view(state)

    @router.put("/active", response_model=ActiveProfileResponse)
    async def put_active(request: Request) -> ActiveProfileResponse:
        """Switch this API process's profile (workers switch via the risk.config topic)."""
        body = await read_json(request, ProfileSwitch)
        previous = state.switch(body.profile.value, clock())
        metrics.PROFILE_SWITCHES.labels(body.profile.value).inc()
        log.info("api_profile_switched", profile=body.profile.value, previous=previous,
                 trace_id=request.headers.get("x-trace-id"))
        return _active_view(state, previous)

    return router
