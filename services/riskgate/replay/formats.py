"""Render a replayed output in the format version of the stored one it is compared with.

An audit can span a contract change: an action stored as format 1.0 must be compared with the
replayed decision as 1.0 would have written it, or every field the new format renamed or
dropped would be a false difference. Each supported stored version has a renderer from the
current format; a stored version this build cannot render makes the decision unreplayable,
with that reason, rather than different.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riskgate.replay.evidence import Unreplayable

#: stored format version -> how the current format's payload is rendered in it
RENDERERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "1.0": lambda payload: payload,  # the current format
}


def render(replayed: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    version = stored.get("schema_version")
    renderer = RENDERERS.get(version)  # type: ignore[arg-type]
    if renderer is None:
        raise Unreplayable(f"stored format version {version!r} of {stored.get('action_id')} "
                           f"cannot be rendered by this build (it renders "
                           f"{', '.join(sorted(RENDERERS))})")
    return renderer(replayed)
