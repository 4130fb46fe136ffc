"""Bytes to wire models and back. Every refusal is a ``PoisonMessage(code, reason)``.

Checks run in this order, and the first that fails names the code:

1. no value or an empty one: ``EMPTY``;
2. more than ``max_bytes``: ``OVERSIZE``, before any byte is decoded;
   a NUL character (``\\u0000``) in any string: ``SCHEMA_INVALID`` (it cannot be stored);
3. one pass of pydantic's JSON parser and validator over the bytes. Its errors are classified:
   invalid UTF-8 ``NOT_UTF8``, invalid JSON ``NOT_JSON``, not an object ``NOT_OBJECT``; any
   problem with ``schema_version`` (missing, malformed, or a major other than the model's topic's)
   ``UNSUPPORTED_VERSION``; ``NaN``, ``Infinity``, ``-Infinity`` or an overflowing number anywhere
   ``NON_FINITE``; everything else ``SCHEMA_INVALID``.

A missing ``schema_version`` is ``UNSUPPORTED_VERSION``: a record that does not say its version is
not known to be one riskgate can read. pydantic's JSON parser accepts the ``NaN`` and
``Infinity`` tokens; typed number fields then refuse them (``finite_number``), and free-form
fields (``metadata``, unknown fields) are walked by the models, so they end as ``NON_FINITE``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from riskgate.contracts.base import ID_PATTERN, non_finite_path
from riskgate.contracts.enums import ErrorCode
from riskgate.contracts.inputs import ForcedDeriskCommand, ProposedDecision
from riskgate.contracts.versions import V1, parse_version
from riskgate.errors import PoisonMessage

M = TypeVar("M", bound=BaseModel)

MAX_LISTED_ERRORS = 5
_NOT_OBJECT_TYPES = frozenset({"model_type", "model_attributes_type", "dict_type"})
_FORCED_MARKER = b'"FORCED_DERISK"'
_KIND_MESSAGE = "Input should be 'PROPOSAL' or 'FORCED_DERISK'"
_KIND_ACCEPTED = object()
# A \u0000 escape, not an escaped backslash followed by "u0000". PostgreSQL's text and jsonb
# cannot hold NUL, so such a record could never be stored and would stall its partition.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def decode(model: type[M], value: bytes | None, *, max_bytes: int) -> M:
    """Decode one record value of an input topic into ``model``, or raise ``PoisonMessage``."""
    data = _checked_size(value, max_bytes)
    try:
        # The validator itself, not model_validate_json: same result, about 0.4 µs less.
        return model.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise _poison(exc.errors(include_url=False), data, _major(model)) from None


def decode_proposed(
    value: bytes | None, *, max_bytes: int
) -> ProposedDecision | ForcedDeriskCommand:
    """Decode a ``decisions.proposed`` value: a proposal, or a forced de-risk command."""
    data = _checked_size(value, max_bytes)
    # Guess the kind from the bytes (a substring search costs ~50 ns, a union ~1.3 µs), and
    # validate again only when the errors show the record declared the other kind.
    guess = ForcedDeriskCommand if _FORCED_MARKER in data else ProposedDecision
    try:
        return guess.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    declared = _declared_kind(errors)
    if declared is not _KIND_ACCEPTED:
        right = ForcedDeriskCommand if declared == "FORCED_DERISK" else ProposedDecision
        if right is not guess:
            try:
                return right.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
    raise _poison(errors, data, _major(guess))


def encode(message: BaseModel) -> bytes:
    """Serialize a model to the UTF-8 JSON bytes of a record value."""
    return message.__pydantic_serializer__.to_json(message)


def _checked_size(value: bytes | None, max_bytes: int) -> bytes:
    if not value:
        raise PoisonMessage(ErrorCode.EMPTY, "the record has no value")
    if len(value) > max_bytes:
        raise PoisonMessage(
            ErrorCode.OVERSIZE, f"{len(value)} bytes is over the limit of {max_bytes} bytes"
        )
    if b"u0000" in value and _NUL_ESCAPE.search(value):  # the substring test costs ~20 ns
        raise PoisonMessage(
            ErrorCode.SCHEMA_INVALID,
            "a string contains a NUL character (\\u0000), which riskgate cannot store",
        )
    return value


def _declared_kind(errors: list[ErrorDetails]) -> object:
    """The ``kind`` the record declared when validation refused it, else ``_KIND_ACCEPTED``."""
    for error in errors:
        if error["loc"] == ("kind",):
            return "PROPOSAL" if error["type"] == "missing" else error["input"]
    return _KIND_ACCEPTED


def _major(model: type[BaseModel]) -> int:
    return getattr(model, "contract_version", V1).major


def _poison(errors: list[ErrorDetails], data: bytes, major: int) -> PoisonMessage:
    first = errors[0]
    if first["type"] == "json_invalid":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return PoisonMessage(ErrorCode.NOT_UTF8, f"byte {exc.start} is not valid UTF-8")
        return PoisonMessage(ErrorCode.NOT_JSON, first["msg"].removeprefix("Invalid JSON: "))
    if first["loc"] == () and first["type"] in _NOT_OBJECT_TYPES:
        return PoisonMessage(
            ErrorCode.NOT_OBJECT, f"expected an object, got {_shown(first['input'])}"
        )
    version = [error for error in errors if error["loc"][:1] == ("schema_version",)]
    if version:
        return PoisonMessage(ErrorCode.UNSUPPORTED_VERSION, _version_reason(version[0], major))
    non_finite = [error for error in errors if error["type"] == "finite_number"]
    if non_finite:
        return PoisonMessage(ErrorCode.NON_FINITE, _describe(non_finite))
    # Another error may have stopped validation before a free-form field was walked.
    path = _non_finite_in(data)
    if path is not None:
        return PoisonMessage(ErrorCode.NON_FINITE, f"{path}: Input should be a finite number")
    return PoisonMessage(ErrorCode.SCHEMA_INVALID, _describe(errors))


def _version_reason(error: ErrorDetails, major: int) -> str:
    if error["type"] == "missing":
        return "schema_version: Field required"
    declared = error["input"]
    parsed = parse_version(declared)
    if parsed is None:
        return f'schema_version: expected "MAJOR.MINOR" (got {_shown(declared)})'
    return (
        f"schema_version: major {parsed[0]} is not supported (this reader reads {major}.x)"
    )


def _non_finite_in(data: bytes) -> str | None:
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return None
    found = non_finite_path(parsed, "")
    return None if found is None else found.removeprefix(".")


def _describe(errors: list[ErrorDetails]) -> str:
    parts = [_describe_one(error) for error in errors[:MAX_LISTED_ERRORS]]
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more")
    return "; ".join(parts)


def _describe_one(error: ErrorDetails) -> str:
    loc = error["loc"]
    if not loc:
        return error["msg"]  # model-level checks name their fields in the message
    message = error["msg"]
    if loc == ("kind",):
        message = _KIND_MESSAGE
    elif (
        error["type"] == "string_pattern_mismatch"
        and error.get("ctx", {}).get("pattern") == ID_PATTERN
    ):
        message = "Input should contain no whitespace"
    text = f"{_path(loc)}: {message}"
    return text if error["type"] == "missing" else f"{text} (got {_shown(error['input'])})"


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix(".")


def _shown(value: Any) -> str:
    """A short JSON-flavoured description of an offending input, never the whole record."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        clipped = value if len(value) <= 32 else value[:32] + "..."
        return f"string {json.dumps(clipped)}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int | float):
        return f"number {value}"
    return type(value).__name__
