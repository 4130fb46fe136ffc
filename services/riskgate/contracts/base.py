"""Shared wire types and the two base classes: strict inputs that tolerate unknown fields, and
strict outputs that forbid them."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Self, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from riskgate.contracts.versions import V1, ContractVersion

ID_PATTERN = r"^\S+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
"""A non-empty identifier of at most 128 characters without whitespace."""



def schema_version_type(version: ContractVersion) -> Any:
    """The ``schema_version`` field of a topic at ``version``: any minor of its major."""
    return Annotated[
        str,
        StringConstraints(pattern=version.pattern),
        Field(
            description='"MAJOR.MINOR" of the contract this message follows.',
            examples=[version.text],
        ),
    ]


SchemaVersion = schema_version_type(V1)

Count = Annotated[int, Field(ge=0)]
"""A non-negative integer: versions, partitions, offsets."""

Positive = Annotated[float, Field(gt=0)]
"""A finite number > 0: prices, equity, sizes."""

NonNegative = Annotated[float, Field(ge=0)]

Fraction = Annotated[float, Field(ge=0, le=1)]

CutFraction = Annotated[float, Field(gt=0, le=1)]
"""A fraction in (0, 1]: how much of the gross exposure to cut."""

InputVersion = Annotated[
    int, Field(ge=-1, description="Version of the input used; -1 when absent.")
]


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

    contract_version: ClassVar[ContractVersion] = V1
    schema_version: SchemaVersion


class OutputMessage(WireModel):
    """A record riskgate writes: every field is always written, nothing unknown is accepted."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    contract_version: ClassVar[ContractVersion] = V1
    """The topic's version; a subclass on a topic of another major overrides both this and
    ``schema_version`` (``schema_version_type``)."""
    schema_version: SchemaVersion = V1.text


class DecisionOutput(OutputMessage):
    """The identity every target and risk action carries."""

    action_id: UUID = Field(description="uuid5 of the decision, see docs/contracts.md.")
    decision_id: Id
    portfolio_id: Id
    strategy_id: Id
    ticker: Id


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


_NESTED = (BaseModel, list, tuple)
_NESTED_TYPES: dict[type, bool] = {}


def _nested(kind: type) -> bool:
    """True for a model or a list type. Cached per type: ``isinstance`` against BaseModel
    goes through ABCMeta, ~0.3 µs for each scalar field of every decoded record."""
    known = _NESTED_TYPES.get(kind)
    if known is None:
        known = _NESTED_TYPES[kind] = issubclass(kind, _NESTED)
    return known


_WALKED_FIELDS: dict[type, tuple[str, ...]] = {}


def _walked_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose declared type can hold a model, in declaration order."""
    known = _WALKED_FIELDS.get(model)
    if known is None:
        known = _WALKED_FIELDS[model] = tuple(
            name for name, info in model.model_fields.items() if _may_hold_model(info.annotation))
    return known


def _may_hold_model(annotation: Any) -> bool:
    """False only for a type that surely holds no model (``Any`` and the unknown may)."""
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None) or annotation is Ellipsis:
        return False
    if isinstance(annotation, type) and not get_args(annotation):
        return issubclass(annotation, BaseModel) or annotation is object
    origin = get_origin(annotation)
    if origin is Literal:
        return False
    args = get_args(annotation)
    if origin is Annotated:
        return _may_hold_model(args[0])
    return not args or any(_may_hold_model(arg) for arg in args)


def unknown_fields(message: BaseModel) -> list[str]:
    """Paths of the fields the contract does not know, nested parts included, e.g.
    ``["venue", "positions[0].lot"]``. Count them, then ignore them."""
    found: list[str] = []
    _collect_unknown(message, "", found)
    return found


def _collect_unknown(value: Any, prefix: str, found: list[str]) -> None:
    if isinstance(value, BaseModel):
        extra = value.__pydantic_extra__
        if extra:
            found.extend(f"{prefix}{name}" for name in extra)
        # Only the fields whose type can hold a model are looked at (a scalar field costs no
        # path string and no call); a model's __dict__ holds its fields (extras are apart).
        fields = value.__dict__
        for name in _walked_fields(type(value)):
            item = fields[name]
            if _nested(type(item)):
                _collect_unknown(item, f"{prefix}{name}.", found)
    elif isinstance(value, list | tuple):
        base = prefix.removesuffix(".")
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                _collect_unknown(item, f"{base}[{index}].", found)
