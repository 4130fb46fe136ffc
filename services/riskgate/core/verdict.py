"""The verdict of one constraint, in a compact form built in the hot path.

A verdict is a 6-tuple laid out as ``Verdict``: (kind, reason, limit, value, headroom,
bound). Constraints build plain tuples in that layout (a literal tuple costs a tenth of a
dataclass); ``Verdict._make`` gives the named view when an explanation is asked for.

``kind`` is ActionType.OK, CAPPED, SCALED_DOWN or REJECTED. ``reason`` is the constraint's
stable code (also when it passes). ``limit``, ``value`` and ``headroom`` are in the
constraint's own unit; headroom is how far the value is from binding (negative when
beyond). ``bound`` is the target quantity the constraint allows when it changed the target.
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
    """The named view of a verdict tuple."""

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


VerdictTuple = tuple  # (kind, reason, limit, value, headroom, bound), see Verdict

#: Shared verdict for a de-risking change that a risk-increase check does not apply to.
DERISK_PASS = (OK, reasons.DERISK_EXEMPT, None, None, None, None)


def passed(reason: str, limit: float | None, value: float | None) -> VerdictTuple:
    """A passing verdict with its numbers (headroom = limit - value)."""
    headroom = None if limit is None or value is None else limit - value
    return (OK, reason, limit, value, headroom, None)


def bound(kind: ActionType, reason: str, limit: float | None, value: float | None,
          target: float | None) -> VerdictTuple:
    """A binding verdict: the target is cut (or rejected) to ``target``."""
    headroom = None if limit is None or value is None else limit - value
    return (kind, reason, limit, value, headroom, target)


def rejected(reason: str, limit: float | None = None, value: float | None = None,
             target: float | None = None) -> VerdictTuple:
    """A rejection; ``target`` is the largest size that would pass (None: only no change)."""
    return bound(REJECTED, reason, limit, value, target)


def floor_verdict(reason: str, floor: float, value: float) -> VerdictTuple:
    """A verdict for a minimum (value must be at least ``floor``); headroom = value - floor."""
    kind = OK if value >= floor else REJECTED
    return (kind, reason, floor, value, value - floor, None)


def cut(kind: ActionType, reason: str, limit: float | None, value: float | None,
        target: float, new_target: float) -> VerdictTuple:
    """CAPPED/SCALED_DOWN to ``new_target``, or a pass when the cap leaves the target as is
    (a book already beyond a cap may keep, but not grow, its exposure)."""
    headroom = None if limit is None or value is None else limit - value
    if new_target == target:
        return (OK, reason, limit, value, headroom, None)
    return (kind, reason, limit, value, headroom, new_target)
