"""Who may call a route: the FastAPI dependencies that authenticate, authorise and rate-limit.

- A read needs a viewer key once a keys file is configured; without one, reads stay anonymous
  (the what-if surface on loopback) and every write answers 503 saying how to configure keys.
- A write needs its role (operator or admin) and is the key's: the ``Actor`` it returns names
  the key, authenticated, via the API.
- Missing or unknown key: 401; role too low: 403; over the key's rate: 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from riskgate import metrics
from riskgate.api import metrics as api_metrics
from riskgate.api.auth import ApiKey, KeyRing, KeysFileError, RateLimiter
from riskgate.api.errors import ApiError
from riskgate.control.model import Actor, Role

log = structlog.get_logger("riskgate.api")

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key whose SHA-256 is in RISKGATE_API_KEYS_FILE.")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
NO_KEYS = ("no API keys are configured, so the API accepts no writes: set "
           "RISKGATE_API_KEYS_FILE to a JSON file [{\"name\": ..., \"role\": \"viewer|operator|"
           "admin\", \"sha256\": \"<hex sha256 of the key>\"}] (docs/api.md)")


def _refuse(reason: str, status: int, error: str, message: str, request: Request,
            key: ApiKey | None = None, headers: dict[str, str] | None = None) -> ApiError:
    metrics.API_AUTH_FAILURES.labels(reason).inc()
    route = request.scope.get("route")
    log.warning("api_refused", reason=reason, key=key.name if key else None,
                route=getattr(route, "path", request.url.path), method=request.method)
    return ApiError(status, error, message, headers)


class Access:
    """The keys and the rate limits, as route dependencies."""

    def __init__(self, keys: KeyRing, writes: RateLimiter, reads: RateLimiter) -> None:
        self.keys = keys
        self.writes = writes
        self.reads = reads

    def _authenticate(self, request: Request,
                      credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or not credentials.credentials:
            raise _refuse("missing", 401, "UNAUTHENTICATED",
                          "send an API key as `Authorization: Bearer <key>`", request,
                          headers=challenge)
        try:
            key = self.keys.lookup(credentials.credentials)
        except KeysFileError as exc:
            raise _refuse("keys_file_unusable", 503, "API_KEYS_UNUSABLE",
                          f"the API keys file cannot be used, so every key is refused until it "
                          f"is fixed (it is re-read on change): {exc}", request) from None
        if key is None:
            raise _refuse("unknown", 401, "UNAUTHENTICATED", "this API key is not known",
                          request, headers=challenge)
        return key

    @staticmethod
    def _throttle(limiter: RateLimiter, key: ApiKey, kind: str) -> None:
        wait = limiter.take(key.name)
        if wait is not None:
            api_metrics.RATE_LIMITED.labels(kind).inc()
            seconds = max(1, int(wait + 0.999))
            raise ApiError(429, "RATE_LIMITED",
                           f"key {key.name!r} is over its {kind} rate of "
                           f"{limiter.capacity:g} a minute; retry in {seconds} s",
                           {"Retry-After": str(seconds)})

    def read(self) -> Callable[..., Awaitable[ApiKey | None]]:
        """A viewer key (or anyone, while no keys file is configured)."""

        async def reader(request: Request, credentials: Credentials) -> ApiKey | None:
            if not self.keys.configured:
                return None
            key = self._authenticate(request, credentials)
            self._throttle(self.reads, key, "read")
            return key

        return reader

    def write(self, role: Role) -> Callable[..., Awaitable[Actor]]:
        """A key of at least ``role``; the write is made as that key."""

        async def writer(request: Request, credentials: Credentials) -> Actor:
            if not self.keys.configured:
                raise _refuse("no_keys_file", 503, "NO_API_KEYS", NO_KEYS, request)
            key = self._authenticate(request, credentials)
            if not key.may(role):
                raise _refuse("role", 403, "FORBIDDEN",
                              f"key {key.name!r} is a {key.role}; this route needs {role}",
                              request, key)
            self._throttle(self.writes, key, "write")
            return Actor(name=key.name, role=key.role, authenticated=True, via="api")

        return writer
