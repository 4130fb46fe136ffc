"""Every error the HTTP API answers: one body shape, one exception, and the OpenAPI entries.

A refusal is an ``ApiError`` raised anywhere below a route; the app's handlers turn it, a
validation error or a framework HTTP error into ``ErrorBody``. ``documented`` lists the
answers every route declares, so the OpenAPI document says what a client can really get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error answer: a stable code, one readable line, and the field errors of a 422."""

    error: str = Field(description="A stable code, e.g. UNAUTHENTICATED, CONFIG_REFUSED.")
    message: str = Field(description="What went wrong and what to do about it.")
    detail: list[dict[str, Any]] | None = Field(
        None, description="For INVALID_REQUEST: each field error (loc, msg, type).")


class ApiError(Exception):
    """Answer ``status`` with an ``ErrorBody``; nothing behind the route has been done."""

    def __init__(self, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}


#: Codes for framework errors that carry only a status.
STATUS_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "BODY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}

_ANSWERS = {
    401: "No API key, or one that is not in the keys file (`Authorization: Bearer <key>`).",
    403: "The key's role is too low for this route (viewer < operator < admin).",
    404: "The named portfolio, ticker or change is not known.",
    409: "`if_version` did not match the scope's current config version; nothing published.",
    413: "The request body is over the size limit.",
    422: "The request is invalid, or the config writer refused the change; nothing published.",
    429: "This key is over its rate limit; retry after the `Retry-After` seconds.",
    503: "Not available: live inputs not caught up, state store or config writer unavailable, "
         "or no API keys configured (writes).",
}

#: What every API route can answer besides success.
COMMON = (401, 403, 413, 422, 429, 503)


def documented(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: the common answers, plus ``extra`` ones (404, 409)."""
    return {code: {"model": ErrorBody, "description": _ANSWERS[code]}
            for code in sorted({*COMMON, *extra})}


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Errors without the offending input: it may be NaN, which JSON cannot carry."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))} for e in errors]


def _where(loc: Sequence[Any]) -> str:
    path = [str(part) for part in loc]
    return ".".join(path[1:] if path[:1] in (["body"], ["query"], ["path"]) else path)


def invalid_request_body(errors: Sequence[Any]) -> ErrorBody:
    """The 422 body of a validation failure, naming each field in one line."""
    detail = validation_errors(errors)
    message = "; ".join(f"{_where(e['loc'])}: {e['msg']}" if _where(e["loc"]) else e["msg"]
                        for e in detail)
    return ErrorBody(error="INVALID_REQUEST", message=message or "invalid request", detail=detail)
