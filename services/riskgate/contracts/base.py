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
    Field(description='"MAJOR.MINOR" of the contract this message follows.', examples=[SCHEMA_VERSION]),
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
    def _refuse_non_finite(self) -> Self:
        for name in self.free_form_fields:
            _raise_if_non_finite(getattr(self, name), name)
        if self.__pydantic_extra__:
            for name, value in self.__pydantic_extra__.items():
                _raise_if_non_finite(value, name)
        return self


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
    """Return the dotted path of the first NaN or infinite float inside ``value``, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


def _raise_if_non_finite(value: Any, path: str) -> None:
    found = non_finite_path(value, path)
    if found is not None:
        raise PydanticCustomError(
            "finite_number", "{path}: Input should be a finite number", {"path": found}
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
