"""Backward compatibility of a topic's JSON Schema against the committed baseline.

Within one major version a change may add optional fields, enum values, variants or widen a range.
It may not remove a property, change a type, make a property newly required, remove an enum value,
narrow a range or start refusing unknown properties. Bumping ``x-schema-major`` allows all of it.

Outputs (a schema with ``x-direction: output``) may also gain a field that is always written, so
required: a reader of the old schema never looks for it, and every new record carries it. Inputs
keep the stricter rule, because an old writer would not send a newly required field.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

MAJOR_KEY = "x-schema-major"
DIRECTION_KEY = "x-direction"

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")

Schema = dict[str, Any]


def compatibility_problems(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Every change from ``old_schema`` to ``new_schema`` that would break a reader or a writer
    of the old one; empty when the new schema bumps the major version."""
    old_major, new_major = old_schema.get(MAJOR_KEY, 0), new_schema.get(MAJOR_KEY, 0)
    if new_major > old_major:
        return []
    if new_major < old_major:
        return [f"{MAJOR_KEY} went down from {old_major} to {new_major}"]
    grows = new_schema.get(DIRECTION_KEY) == "output"
    comparison = _Comparison(old_schema, new_schema, outputs_may_grow=grows)
    comparison.compare(old_schema, new_schema, "")
    return comparison.problems


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, outputs_may_grow: bool = False) -> None:
        self.old_root, self.new_root = old_root, new_root
        self.outputs_may_grow = outputs_may_grow
        self.problems: list[str] = []
        self._seen: set[tuple[int, int, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old, new = _resolve(self.old_root, old), _resolve(self.new_root, new)
        key = (id(old), id(new), path)
        if key in self._seen:  # recursive schemas
            return
        self._seen.add(key)
        self._compare_types(old, new, path or "(root)")
        if _has_branches(old) or _has_branches(new):
            # A union: pair its branches and compare each pair as a plain node.
            self._compare_variants(old, new, path)
            return
        self._compare_values(old, new, path or "(root)")
        self._compare_bounds(old, new, path or "(root)")
        self._compare_properties(old, new, path)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(old["items"], new["items"], f"{path}[]")

    def _compare_types(self, old: Schema, new: Schema, where: str) -> None:
        old_types, new_types = self._types(self.old_root, old), self._types(self.new_root, new)
        if old_types and old_types != new_types:
            self.problems.append(
                f"{where}: type changed from {'|'.join(sorted(old_types))} "
                f"to {'|'.join(sorted(new_types)) or 'any'}"
            )

    def _compare_values(self, old: Schema, new: Schema, where: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            self.problems.append(f"{where}: now restricted to {_listed(new_values)}")
        elif removed := old_values - new_values:
            self.problems.append(f"{where}: enum narrowed, removed {_listed(removed)}")

    def _compare_bounds(self, old: Schema, new: Schema, where: str) -> None:
        for name in _LOWER_BOUNDS + _UPPER_BOUNDS:
            if name not in new:
                continue
            lower = name in _LOWER_BOUNDS
            if name not in old or (new[name] > old[name] if lower else new[name] < old[name]):
                self.problems.append(f"{where}: {name} narrowed to {new[name]}")
        if "pattern" in new and new.get("pattern") != old.get("pattern"):
            self.problems.append(f"{where}: pattern changed to {new['pattern']!r}")

    def _compare_properties(self, old: Schema, new: Schema, path: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        prefix = f"{path}." if path else ""
        for name, old_sub in old_props.items():
            if name not in new_props:
                self.problems.append(f"{prefix}{name}: removed")
            else:
                self.compare(old_sub, new_props[name], f"{prefix}{name}")
        if "properties" in old or "properties" in new:
            for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
                if self.outputs_may_grow and name not in old_props:
                    continue  # an output gained a field it always writes
                self.problems.append(f"{prefix}{name}: newly required")
        if (
            old.get("additionalProperties", True) is not False
            and new.get("additionalProperties") is False
        ):
            self.problems.append(f"{path or '(root)'}: unknown properties now refused")
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{prefix}*")

    def _compare_variants(self, old: Schema, new: Schema, path: str) -> None:
        old_variants, new_variants = (
            self._variants(self.old_root, old),
            self._variants(self.new_root, new),
        )
        for name, old_variant in old_variants.items():
            if name in new_variants:
                self.compare(old_variant, new_variants[name], path or name)
            elif "object" in self._types(self.old_root, old_variant):
                # A removed scalar variant already shows as a changed type.
                self.problems.append(f"{path or '(root)'}: variant {name} removed")

    def _variants(self, root: Schema, node: Schema) -> dict[str, Schema]:
        """The branches of an anyOf/oneOf by name (a model's title, else its types); a node
        without branches is its own single variant."""
        branches = node.get("anyOf", []) + node.get("oneOf", [])
        variants: dict[str, Schema] = {}
        for branch in branches or [node]:
            resolved = _resolve(root, branch)
            types = self._types(root, resolved)
            name = resolved.get("title") if "object" in types else None
            variants[name or "|".join(sorted(types)) or "any"] = resolved
        return variants

    def _types(self, root: Schema, node: Schema) -> set[str]:
        node = _resolve(root, node)
        declared = node.get("type")
        if declared is not None:
            return {declared} if isinstance(declared, str) else set(declared)
        values = _allowed_values(node)
        if values is not None:
            return {_json_type(json.loads(value)) for value in values}
        types: set[str] = set()
        for branch in node.get("anyOf", []) + node.get("oneOf", []):
            types |= self._types(root, branch)
        return types


def _has_branches(node: Schema) -> bool:
    return "anyOf" in node or "oneOf" in node


def _resolve(root: Schema, node: Schema) -> Schema:
    while "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _allowed_values(node: Schema) -> set[str] | None:
    """The values a node allows, as canonical JSON text; None when it allows any value."""
    if "const" in node:
        return {json.dumps(node["const"], sort_keys=True)}
    if "enum" in node:
        return {json.dumps(value, sort_keys=True) for value in node["enum"]}
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _listed(values: set[str]) -> str:
    return ", ".join(sorted(values))


def read_baseline(schemas_dir: Path, file_name: str, ref: str | None = None) -> Schema | None:
    """The baseline of one schema file: as committed at git ``ref``, or as on disk when ``ref``
    is None. None when the file has no baseline (a new topic)."""
    if ref is None:
        path = schemas_dir / file_name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    shown = subprocess.run(
        ["git", "-C", str(schemas_dir), "show", f"{ref}:./{file_name}"],
        capture_output=True,
        check=False,
    )
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def frozen_baselines(baseline_root: Path, file_name: str) -> dict[int, Schema]:
    """Every frozen baseline of one schema file, by major: ``<root>/v<major>/<file_name>``
    (schemas/baseline/README.md)."""
    found: dict[int, Schema] = {}
    for folder in sorted(baseline_root.glob("v[0-9]*")):
        schema = read_baseline(folder, file_name)
        if folder.name[1:].isdigit() and schema is not None:
            found[int(folder.name[1:])] = schema
    return found


def baseline_problems(baseline_root: Path, file_name: str, schema: Schema) -> list[str]:
    """Breaking changes of ``schema`` against every frozen baseline of its file. The baseline of
    its own major must exist (a bumped major freezes one); an older major's baseline passes only
    because the major was bumped, and a newer one never does."""
    major = schema.get(MAJOR_KEY, 0)
    frozen = frozen_baselines(baseline_root, file_name)
    problems = [] if major in frozen else [f"no frozen baseline v{major}/{file_name}"]
    for old_major, old_schema in sorted(frozen.items()):
        problems += [f"v{old_major}: {p}" for p in compatibility_problems(old_schema, schema)]
    return problems
