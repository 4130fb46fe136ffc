"""Who decided: the riskgate version plus a fingerprint of the core's code, and a digest of the
worker settings that change decisions. A replay that differs can then be blamed on code or on
configuration."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

import orjson

from riskgate import __version__


@cache
def core_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) over every source file of ``riskgate.core``, in path order."""
    digest = hashlib.sha256()
    root = resources.files("riskgate.core")
    for path in sorted(_sources(root), key=lambda p: p[0]):
        digest.update(path[0].encode() + b"\0" + path[1] + b"\0")
    return digest.hexdigest()[:16]


def _sources(folder: Any, prefix: str = "") -> list[tuple[str, bytes]]:
    found = []
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir() and entry.name != "__pycache__":
            found += _sources(entry, name + "/")
        elif entry.name.endswith(".py"):
            found.append((name, entry.read_bytes()))
    return found


@cache
def build_identity() -> dict[str, str]:
    return {"version": __version__, "core": core_fingerprint()}


def digest(value: Any) -> str:
    """A stable short digest of a JSON-serialisable value (keys sorted)."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


DECISION_SETTINGS = ("snapshot_ttl_s", "max_decision_age_s", "max_snapshot_age_s",
                     "max_price_age_s", "max_emergency_age_s")
"""The worker settings that change a decision's outcome."""


def decision_settings(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in DECISION_SETTINGS}
