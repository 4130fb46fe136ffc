"""Clamping a target into the set of positions a cap allows.

Every cap allows an interval of target quantities that contains the current position and
flat (de-risking is exempt from the risk-increase checks, so every position between flat
and the current one passes). Clamping therefore moves the target toward the current
position and never past it, and a tighter limit never approves more than a looser one.
"""

from __future__ import annotations

import math


def gross_room(current: float, unit: float, excluded: float, cap: float) -> float:
    """Largest |target| with ``excluded + |target| * unit <= cap``, never below |current|."""
    return max((cap - excluded) / unit, abs(current), 0.0)


def clamp_abs(target: float, room: float) -> float:
    """The target with its magnitude limited to ``room``, sign kept."""
    return math.copysign(room, target) if abs(target) > room else target


def net_interval(current: float, slope: float, excluded: float, cap: float
                 ) -> tuple[float, float]:
    """Targets t with |excluded + slope * t| <= max(cap, |exposure now|), widened to reach
    flat (cutting toward flat is de-risking); slope != 0."""
    room = max(cap, abs(excluded + slope * current))
    lo, hi = (-room - excluded) / slope, (room - excluded) / slope
    if lo > hi:
        lo, hi = hi, lo
    return min(lo, 0.0), max(hi, 0.0)


def clamp(target: float, lo: float, hi: float) -> float:
    """The target clamped into [lo, hi]."""
    return lo if target < lo else hi if target > hi else target
