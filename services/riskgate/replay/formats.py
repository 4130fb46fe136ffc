"""Render a replayed output in the format version of the stored one it is compared with.

An audit can span a contract change: an action stored as format 1.0 must be compared with the
replayed decision as 1.0 would have written it, or every field the new format renamed or
dropped would be a false difference. Each topic has its own versions (contracts/versions.py),
so actions and targets have their own renderers from the current format; a stored version this
build cannot render makes the decision unreplayable, with that reason, rather than different.

risk.actions 1.0 carried the full per-constraint trace in ``details_json``; 2.0 carries only
what decided the action in ``details``. A 1.0 action is rendered from the replayed 2.0 one and
the replayed leg's full trace (``ActionRow.trace``), which is exactly what 1.0 stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from riskgate.replay.evidence import Unreplayable

Payload = dict[str, Any]
Trace = Callable[[], dict[str, Any]] | None

_V1_ACTION_FIELDS = (
    "action_id", "decision_id", "portfolio_id", "strategy_id", "ticker", "timestamp",
    "action_type", "reason_codes", "risk_reasoning_summary", "proposed_position",
    "approved_position", "max_passing_position", "profile", "config_version",
    "snapshot_version", "market_version", "emergency_version", "source_partition",
    "source_offset",
)  # fmt: skip
"""Every field of a 1.0 action but ``details_json``: 2.0 kept each of them as it was."""


def _as_is(replayed: Payload, trace: Trace = None) -> Payload:
    return replayed


def _action_v1(replayed: Payload, trace: Trace) -> Payload:
    if trace is None:
        raise Unreplayable(f"the stored 1.0 action {replayed.get('action_id')} needs the "
                           f"replayed trace, and the replay gave none")
    rendered = {name: replayed[name] for name in _V1_ACTION_FIELDS}
    # Through JSON, as it was stored: tuples become lists, keys strings.
    details = orjson.loads(orjson.dumps(trace(), option=orjson.OPT_NON_STR_KEYS))
    return {"schema_version": "1.0", **rendered, "details_json": details}


#: stored risk.actions version -> how the current (2.0) action is rendered in it
ACTION_RENDERERS: dict[str, Callable[[Payload, Trace], Payload]] = {
    "2.0": _as_is,
    "1.0": _action_v1,
}

#: stored risk.targets version -> how the current (1.0) target is rendered in it
TARGET_RENDERERS: dict[str, Callable[[Payload, Trace], Payload]] = {
    "1.0": _as_is,
}


def render_action(replayed: Payload, stored: Payload, trace: Trace = None) -> Payload:
    """The replayed action in the stored action's format; ``trace`` is the replayed leg's."""
    return _render(ACTION_RENDERERS, "action", replayed, stored, trace)


def render_target(replayed: Payload, stored: Payload) -> Payload:
    """The replayed target in the stored target's format."""
    return _render(TARGET_RENDERERS, "target", replayed, stored, None)


def _render(renderers: dict[str, Callable[[Payload, Trace], Payload]], kind: str,
            replayed: Payload, stored: Payload, trace: Trace) -> Payload:
    version = stored.get("schema_version")
    renderer = renderers.get(version)  # type: ignore[arg-type]
    if renderer is None:
        raise Unreplayable(f"stored {kind} format version {version!r} of "
                           f"{stored.get('action_id')} cannot be rendered by this build (it "
                           f"renders {', '.join(sorted(renderers))})")
    return renderer(replayed, trace)
