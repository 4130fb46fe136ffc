"""The unknown-field walk looks only at fields that can hold a model, and still finds every
unknown field (riskgate.contracts.base.unknown_fields)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from riskgate.contracts.base import unknown_fields

pytestmark = pytest.mark.unit


class Leaf(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str


class Tree(BaseModel):
    model_config = ConfigDict(extra="allow")

    label: str
    count: int | None = None
    child: Leaf | None = None
    leaves: list[Leaf] = []
    pair: tuple[Leaf, ...] = ()
    loose: Any = None
    extra_map: dict[str, Any] | None = None


def reference(value: Any, prefix: str = "") -> list[str]:
    """Every field of every model walked, the way the walk worked before it skipped any."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found.extend(f"{prefix}{name}" for name in value.__pydantic_extra__ or ())
        for name in type(value).model_fields:
            found.extend(reference(getattr(value, name), f"{prefix}{name}."))
    elif isinstance(value, list | tuple):
        base = prefix.removesuffix(".")
        for index, item in enumerate(value):
            if isinstance(item, BaseModel):
                found.extend(reference(item, f"{base}[{index}]."))
    return found


class TestUnknownFieldWalk:
    def test_nested_unknown_fields_are_all_found_with_their_paths(self) -> None:
        """Unknown fields at the top, in a child, in list and tuple items are named as before."""
        # Arrange
        tree = Tree.model_validate({
            "label": "t", "count": 2, "top": 1, "child": {"name": "c", "odd": True},
            "leaves": [{"name": "a"}, {"name": "b", "deep": [1]}],
            "pair": [{"name": "p", "q": 0}], "loose": [1, {"x": 2}], "extra_map": {"k": [1]},
        })

        # Act
        found = unknown_fields(tree)

        # Assert
        assert found == ["top", "child.odd", "leaves[1].deep", "pair[0].q"]
        assert found == reference(tree)

    def test_a_model_held_by_a_field_typed_any_is_walked(self) -> None:
        """A field declared as Any may hold a model; its unknown fields still count."""
        # Arrange
        tree = Tree(label="t", loose=[Leaf.model_validate({"name": "n", "zz": 1})])

        # Act
        found = unknown_fields(tree)

        # Assert
        assert found == ["loose[0].zz"] == reference(tree)

    def test_a_record_without_unknown_fields_has_none(self) -> None:
        """A record that only has known fields gives an empty list."""
        # Arrange
        tree = Tree.model_validate({"label": "t", "leaves": [{"name": "a"}], "loose": 3})

        # Act
        found = unknown_fields(tree)

        # Assert
        assert found == [] == reference(tree)
