"""Shared wire types and the two base classes: strict inputs that tolerate unknown fields, and
strict outputs that forbid them."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from riskgate.contracts.versions import SCHEMA_VERSION, SUPPORTED_VERSION_PATTERN

ID_PATTERN = r"^\S+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
"""A non-empty identifier of at most 128 characters without whitespace."""

SchemaVersion = Annotated[
    str,
    StringConstraints(pattern=SUPPORTED_VERSION_PATTERN),
    Field(
        description='"MAJOR.MINOR" of the contract this message follows.', examples=[SCHEMA_VERSION]
    ),
]

Count = Annotated[int, Field(ge=0)]
"""A non-negative integer: versions, partitions, offsets."""

Positive = Annotated[float, Field(gt=0)]
"""A finite number > 0: prices, equity, sizes."""

NonNegative = Annotated[float, Field(ge=0)]

Fraction = Annotated[float, Field(ge=0, le=1)]

CutFraction = Annotated[float, Field(gt=0, le=1)]
"""A fraction in (0, 1]: how much of the gross exposure to cut."""


class WireModel(BaseModel):
    """Strict JSON: no strings for numbers, no NaN or infinity, timestamps with an offset."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, frozen=True)

    free_form_fields: ClassVar[tuple[str, ...]] = ()
    """Fields typed as free JSON; pydantic lets NaN through there, so they are walked."""

    @model_validator(mode="after")
    def _after_fields(self) -> Self:
        # One model validator per class: each one costs a call from pydantic-core into Python.
        for name in self.free_form_fields:
            _refuse_non_finite(getattr(self, name), name)
        if self.__pydantic_extra__:
            for name, value in self.__pydantic_extra__.items():
                _refuse_non_finite(value, name)
        self._check()
        return self

    def _check(self) -> None:
        """Rules across fields; raise ``PydanticCustomError`` naming the fields."""


class InputPart(WireModel):
    """A nested part of an input message: unknown fields are kept, counted and ignored."""

    model_config = ConfigDict(extra="allow")


class InputMessage(InputPart):
    """A record riskgate reads. Every one carries ``schema_version``."""

    schema_version: SchemaVersion


class OutputMessage(WireModel):
    """A record riskgate writes: every field is always written, nothing unknown is accepted."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    schema_version: SchemaVersion = SCHEMA_VERSION


def non_finite_path(value: Any, path: str) -> str | None:
    """Return the path of the first NaN or infinite float inside ``value``, else None."""
    found = _find_non_finite(value)
    return None if found is None else path + found


_WALKED = (float, dict, list, tuple)


def _find_non_finite(value: Any) -> str | None:
    if type(value) is float:
        return None if math.isfinite(value) else ""
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list | tuple):
        pairs = enumerate(value)
    else:
        return None
    for key, item in pairs:
        if isinstance(item, _WALKED):
            found = _find_non_finite(item)
            if found is not None:
                return (f"[{key}]" if isinstance(key, int) else f".{key}") + found
    return None


def _refuse_non_finite(value: Any, path: str) -> None:
    if isinstance(value, _WALKED) and (found := _find_non_finite(value)) is not None:
        raise PydanticCustomError(
            "finite_number", "{path}: Input should be a finite number", {"path": path + found}
        )


def unknown_fields(message: BaseModel) -> list[str]:
    """Paths of the fields the contract does not know, nested parts included, e.g.
    ``["venue", "positions[0].lot"]``. Count them, then ignore them."""
    found: list[str] = []
    _collect_unknown(message, "", found)
    return found


def _collect_unknown(value: Any, prefix: str, found: list[str]) -> None:
    if isinstance(value, BaseModel):
        found.extend(f"{prefix}{name}" for name in value.__pydantic_extra__ or ())
        for name in type(value).model_fields:
            _collect_unknown(getattr(value, name), f"{prefix}{name}.", found)
    elif isinstance(value, list | tuple):
        base = prefix.removesuffix(".")
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                _collect_unknown(item, f"{base}[{index}].", found)
