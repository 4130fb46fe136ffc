"""``create_app``: the FastAPI application of the HTTP what-if surface.

Nothing happens at import time. The clock, the active-profile state and the settings are
injected, so a test fixes time and profile and a second app never shares either.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from riskgate import __version__
from riskgate.api import metrics
from riskgate.api.assess import assessment_router
from riskgate.api.profiles import ActiveProfile, profiles_router
from riskgate.core import PROFILES
from riskgate.settings import Settings

log = structlog.get_logger("riskgate.api")


def create_app(clock: Callable[[], float] = time.time,
               profiles_state: ActiveProfile | None = None, *,
               settings: Settings | None = None) -> FastAPI:
    """The app; ``profiles_state`` defaults to NORMAL, ``settings`` to the environment's."""
    state = profiles_state if profiles_state is not None else ActiveProfile()
    settings = settings if settings is not None else Settings()
    app = FastAPI(
        title="riskgate", version=__version__,
        summary="Synchronous what-if checks against the riskgate risk core.")
    app.state.profiles = state
    app.include_router(assessment_router(state, clock, settings))
    app.include_router(profiles_router(state, clock))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _internal_error)
    app.middleware("http")(_count_requests)
    _add_probes(app, state)
    state.export_gauge()
    return app


def _add_probes(app: FastAPI, state: ActiveProfile) -> None:
    @app.get("/health", tags=["probes"])
    async def health() -> dict[str, bool]:
        """Liveness: the process answers."""
        return {"alive": True}

    @app.get("/ready", tags=["probes"])
    async def ready() -> JSONResponse:
        """Readiness: the active profile resolves to limits (the API has no other inputs)."""
        ok = state.name in PROFILES
        return JSONResponse({"ready": ok, "profile": state.name}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["probes"])
    async def prometheus() -> Response:
        """Prometheus text exposition of this process's registry."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _where(loc: Sequence[Any]) -> str:
    path = [str(part) for part in loc]
    return ".".join(path[1:] if path[:1] == ["body"] else path)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Errors without the offending input: it may be NaN, which JSON cannot carry."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in errors]


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    message = "; ".join(f"{_where(e['loc'])}: {e['msg']}" if _where(e["loc"]) else e["msg"]
                        for e in errors)
    route = request.scope.get("route")
    metrics.INVALID.labels(getattr(route, "path", request.url.path)).inc()
    return JSONResponse({"error": "INVALID_REQUEST", "message": message or "invalid request",
                         "detail": errors}, status_code=422)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("api_internal_error", path=request.url.path, error=repr(exc),
              trace_id=request.headers.get("x-trace-id"))
    return JSONResponse({"error": "INTERNAL_ERROR",
                         "message": "internal error; nothing was assessed or approved"},
                        status_code=500)


async def _count_requests(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    route = request.scope.get("route")
    metrics.REQUESTS.labels(request.method, getattr(route, "path", "unmatched"),
                            str(response.status_code)).inc()
    return response
