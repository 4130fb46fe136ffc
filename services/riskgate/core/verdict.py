"""The verdict of one constraint: a compact named tuple, built in the hot path.

``kind`` is ActionType.OK, CAPPED, SCALED_DOWN or REJECTED. ``reason`` is the constraint's
stable code (also when it passes). ``limit``, ``value`` and ``headroom`` (limit - value) are in
the constraint's own unit; ``bound`` is the target quantity the constraint allows when it
changed the target, else None.
"""

from __future__ import annotations

from typing import NamedTuple

from riskgate.core import reasons
from riskgate.core.domain import ActionType

OK = ActionType.OK
CAPPED = ActionType.CAPPED
SCALED_DOWN = ActionType.SCALED_DOWN
REJECTED = ActionType.REJECTED


class Verdict(NamedTuple):
    """One constraint's answer. Build it with the helpers below in the hot path."""

    kind: ActionType
    reason: str
    limit: float | None
    value: float | None
    headroom: float | None
    bound: float | None = None

    @property
    def binds(self) -> bool:
        """True when the constraint cut or rejected the target."""
        return self.kind is not OK


_new = tuple.__new__

#: Shared verdict for a de-risking change that a risk-increase check does not apply to.
DERISK_PASS = Verdict(OK, reasons.DERISK_EXEMPT, None, None, None)


def passed(reason: str, limit: float | None, value: float | None) -> Verdict:
    """A passing verdict with its numbers."""
    headroom = None if limit is None or value is None else limit - value
    return _new(Verdict, (OK, reason, limit, value, headroom, None))


def bound(kind: ActionType, reason: str, limit: float | None, value: float | None,
          target: float | None) -> Verdict:
    """A binding verdict: the target is cut (or rejected) to ``target``."""
    headroom = None if limit is None or value is None else limit - value
    return _new(Verdict, (kind, reason, limit, value, headroom, target))


def rejected(reason: str, limit: float | None = None, value: float | None = None,
             target: float | None = None) -> Verdict:
    """A rejection; ``target`` is the largest size that would pass (None: only no change)."""
    return bound(REJECTED, reason, limit, value, target)


def floor_verdict(reason: str, floor: float, value: float) -> Verdict:
    """A verdict for a minimum (value must be at least ``floor``); headroom = value - floor."""
    kind = OK if value >= floor else REJECTED
    return _new(Verdict, (kind, reason, floor, value, value - floor, None))
