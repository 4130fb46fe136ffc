"""``create_app``: the FastAPI application of the HTTP API (docs/api.md).

Nothing happens at import time. The live inputs, the portfolio store, the config writer,
the keys, the clock and the settings are injected (``ApiParts``), so a test runs the app on
fakes and ``riskgate api`` on the real parts (``riskgate.api.wiring``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskgate import __version__
from riskgate.api import metrics
from riskgate.api.access import Access
from riskgate.api.assess import assessment_router
from riskgate.api.auth import KeyRing, RateLimiter
from riskgate.api.control import Control, control_router
from riskgate.api.errors import (
    STATUS_CODES,
    ApiError,
    ErrorBody,
    documented,
    invalid_request_body,
)
from riskgate.api.live import LiveView, global_profile
from riskgate.api.overrides import overrides_router
from riskgate.api.policy import policy_router, profiles_router
from riskgate.api.portfolios import PortfolioSource
from riskgate.api.reads import reads_router
from riskgate.api.routing import BodyLimit, MethodGuard
from riskgate.api.schemas import MAX_BODY_BYTES
from riskgate.control.model import ConfigWriter
from riskgate.settings import Settings

log = structlog.get_logger("riskgate.api")
PROBES = ("/health", "/ready", "/metrics")


class Service(Protocol):
    """Something the app starts with itself and stops with itself."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ApiParts:
    """What the API reads and writes through; ``writer`` None answers every write 503.
    ``services`` are started and stopped with the app, after the inputs and the store."""

    inputs: LiveView
    portfolios: PortfolioSource
    writer: ConfigWriter | None = None
    keys: KeyRing = field(default_factory=lambda: KeyRing(None))
    services: list[Service] = field(default_factory=list)


class Readiness(BaseModel):
    """The /ready body."""

    ready: bool
    live_inputs: str
    config_version: int
    global_profile: str
    emergency_level: str
    writer: str
    api_keys: str


def create_app(parts: ApiParts, *, settings: Settings | None = None,
               clock: Callable[[], float] = time.time,
               monotonic: Callable[[], float] = time.monotonic) -> FastAPI:
    """The app on ``parts``; ``clock`` is the processing time, ``monotonic`` the rate limits'."""
    settings = settings if settings is not None else Settings()
    access = Access(parts.keys, RateLimiter(settings.api_write_rate_per_min, monotonic),
                    RateLimiter(settings.api_read_rate_per_min, monotonic))
    control = Control(parts.writer, settings.api_wait_s)
    app = FastAPI(title="riskgate", version=__version__, lifespan=_lifespan(parts),
                  summary="Risk what-ifs, live book reads and the authenticated control plane.")
    app.include_router(assessment_router(parts.inputs, parts.portfolios, access, clock))
    app.include_router(policy_router(parts.inputs, control, access))
    app.include_router(profiles_router(parts.inputs, control, access))
    app.include_router(control_router(control, access))
    app.include_router(reads_router(parts.inputs, parts.portfolios, access, clock))
    app.include_router(overrides_router(parts.services, access, clock))
    _add_probes(app, parts)
    document_errors(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(MethodGuard, routes=lambda: app.router.routes)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.middleware("http")(_count_requests)
    return app


def document_errors(app: FastAPI) -> None:
    """Every API operation in the OpenAPI document declares the common error answers, also
    those of routers that did not list them (the probes declare their own)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
                "ErrorBody", ErrorBody.model_json_schema())
            for path, operations in schema["paths"].items():
                for operation in operations.values() if path not in PROBES else ():
                    for code, entry in documented().items():
                        operation["responses"].setdefault(str(code), {
                            "description": entry["description"], "content": {
                                "application/json": {"schema": {
                                    "$ref": "#/components/schemas/ErrorBody"}}}})
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(parts: ApiParts):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = [parts.inputs, parts.portfolios, *parts.services]
        for service in services:
            await service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                await service.stop()

    return lifespan


def _add_probes(app: FastAPI, parts: ApiParts) -> None:
    @app.get("/health", tags=["probes"])
    async def health() -> dict[str, bool]:
        """Liveness: the process answers."""
        return {"alive": True}

    @app.get("/ready", tags=["probes"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "Not caught up yet."}})
    async def ready() -> JSONResponse:
        """Readiness: the live inputs have been read to their end."""
        world, ok = parts.inputs.world, parts.inputs.caught_up()
        body = Readiness(
            ready=ok, live_inputs="caught_up" if ok else "reading",
            config_version=world.config.version, global_profile=global_profile(world),
            emergency_level=world.emergency_in_force().level.value,
            writer=_writer_status(parts.writer),
            api_keys="configured" if parts.keys.configured else "not configured")
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", tags=["probes"], response_class=PlainTextResponse, responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}},
              "description": "Prometheus text exposition format."}})
    async def prometheus() -> Response:
        """Prometheus text exposition of this process's registry."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _writer_status(writer: ConfigWriter | None) -> str:
    if writer is None:
        return "unavailable"
    return getattr(writer, "status", "available")  # riskgate.api.writer.StartedWriter says why


def _error(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error(exc.status, ErrorBody(error=exc.error, message=exc.message), exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
    return _error(exc.status_code, ErrorBody(error=code, message=str(exc.detail)),
                  dict(exc.headers or {}))


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    route = request.scope.get("route")
    metrics.INVALID.labels(getattr(route, "path", request.url.path)).inc()
    return _error(422, invalid_request_body(exc.errors()))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("api_internal_error", path=request.url.path, error=repr(exc),
              trace_id=request.headers.get("x-trace-id"))
    return _error(500, ErrorBody(error="INTERNAL_ERROR",
                                 message="internal error; nothing was assessed or published"))


async def _count_requests(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    route = request.scope.get("route")
    metrics.REQUESTS.labels(request.method, getattr(route, "path", "unmatched"),
                            str(response.status_code)).inc()
    return response
