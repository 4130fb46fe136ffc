"""How requests reach the routes: body size, allowed methods, and JSON-mode body validation.

- ``BodyLimit`` answers 413 before a body over the limit is read whole (declared length or
  streamed bytes), on every route.
- ``MethodGuard`` answers ``OPTIONS`` with ``Allow`` listing every method of the path, and a
  method the path lacks with 405 and the same ``Allow``. (Starlette's router names only the
  first route that matched the path, so a path served by a GET and a PUT route said
  ``allow: GET``.)
- ``JsonBodyRoute`` validates a declared body model in pydantic's JSON mode. FastAPI would
  parse the JSON with ``json.loads`` and validate the Python objects, and under the contracts'
  strict mode that refuses RFC 3339 timestamps. The model stays declared on the route, so the
  OpenAPI document carries the request body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskgate.api.errors import ErrorBody

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _TooLarge(Exception):
    pass


async def _send_error(send: Send, status: int, body: ErrorBody,
                      headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = orjson.dumps(body.model_dump())
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        *headers]})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """413 for a request body over ``max_bytes``; the route never sees it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ErrorBody(error="BODY_TOO_LARGE",
                              message=f"request body over {self.max_bytes} bytes")
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _send_error(send, 413, too_large)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await _send_error(send, 413, too_large)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class MethodGuard:
    """``OPTIONS`` and 405 with an ``Allow`` header naming every method of the path."""

    def __init__(self, app: ASGIApp, routes: Callable[[], list[Any]]) -> None:
        self.app = app
        self.routes = routes

    def _served(self, scope: Scope, method: str) -> bool:
        # Asked per method, so that a router included as one route answers for all of its own.
        return any(route.matches({**scope, "method": method})[0] is Match.FULL
                   for route in self.routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._served(scope, scope["method"]):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        allowed = {m for m in _METHODS if self._served(scope, m)}
        if not allowed:  # no such path: the router's 404
            await self.app(scope, receive, send)
            return
        allow = [(b"allow", ", ".join(sorted(allowed | {"OPTIONS"})).encode())]
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": allow})
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_error(send, 405, ErrorBody(
            error="METHOD_NOT_ALLOWED", message=f"{method} is not served here; allowed: "
                                                f"{', '.join(sorted(allowed))}"), allow)


_INVALID = object()  # what the body is for FastAPI when JSON-mode validation failed


class _ValidatedBody(Request):
    """The request with its body already read and validated, for FastAPI's handler."""

    def __init__(self, request: Request, raw: bytes, value: object) -> None:
        super().__init__(request.scope, request.receive)
        self._raw = raw
        self._value = value

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        return self._value


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is validated by its model in pydantic's JSON mode."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        field = self.body_field
        model = field.field_info.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return handler

        async def validated(request: Request) -> Response:
            raw = await request.body()
            if not raw or not _is_json(request):
                return await handler(request)  # FastAPI answers the missing or foreign body
            try:
                value, errors = model.model_validate_json(raw), None
            except ValidationError as exc:
                # Not raised yet: the route's dependencies (authentication first) run before
                # FastAPI validates the body, so an anonymous caller learns nothing from it.
                value = _INVALID
                errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            try:
                return await handler(_ValidatedBody(request, raw, value))
            except RequestValidationError as exc:
                if errors is None:
                    raise
                others = [e for e in exc.errors() if tuple(e.get("loc", ()))[:1] != ("body",)]
                raise RequestValidationError(others + errors) from None

        return validated
