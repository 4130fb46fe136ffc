"""Which prefix of the replay evidence a prune may remove. Pure: no I/O, no clock.

A portfolio's history may only lose a prefix of its sequence, up to a snapshot apply (its
anchor) that replay can start from as if it were the first event: every earlier event is old
enough to go, and no target issued before the anchor is still in flight for a later decision
(the snapshot reflects it, or its time-to-live has passed for every later decision). The
emergency history likewise loses the versions before one that rebuilds the same state from
scratch. docs/replay.md, "Retention: audit prune", gives the rules and why.

Pruning sits with replay, above the worker, because it folds the emergency history with the
worker's own rule (``riskgate.worker.codec``); the store below the worker may not import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import BlackSwanState
from riskgate.errors import PoisonMessage
from riskgate.worker import codec
from riskgate.worker.globals import EmergencyState, next_emergency

_MAX_BYTES = 1 << 30  # stored records were size-checked when they arrived

# Legs that left no target in flight although they carry a target row: refused before the core
# ran (riskgate.worker.outputs._refused); a DUPLICATE has no target row at all.
REFUSED_CODES = frozenset({"NO_SNAPSHOT", "NOTHING_TO_CUT", "INTERNAL_ERROR"})


@dataclass(frozen=True, slots=True)
class SnapshotApply:
    """A snapshot apply in a portfolio's sequence."""

    seq: int
    version: int
    reflects: frozenset[str]  # the action ids whose targets it reflects
    candidate: bool  # applied at or before the cut-off: it may become the anchor
    deletable: bool  # applied before the cut-off


@dataclass(frozen=True, slots=True)
class Decided:
    """A decided record in a portfolio's sequence."""

    seq: int
    now: float  # the processing time of its witness
    targets: tuple[tuple[str, str], ...]  # (ticker, action_id) of each target it left in flight
    deletable: bool  # decided before the cut-off, below its partition's progress, not halted


Event = SnapshotApply | Decided


def in_flight(action_type: str, reason_codes: Iterable[str], delta_position: float | None) -> bool:
    """Whether a leg with a target row left that target in flight, as the worker records it
    (``BatchContext.apply``): a proposal that moved the position, or a forced de-risk cut."""
    if delta_position is None or REFUSED_CODES.intersection(reason_codes):
        return False
    return action_type == "FORCED_DERISK" or delta_position != 0.0


def choose_anchor(events: Sequence[Event], first_seq: int, ttl_s: float) -> SnapshotApply | None:
    """The latest snapshot apply the portfolio's history can start at, or None to keep it all.

    ``events`` are the portfolio's recorded events from ``first_seq`` (1, or its last anchor)
    through at least ``ttl_s`` past the cut-off, so that every decision which could still see a
    target issued before an anchor is among them."""
    ordered = sorted(events, key=lambda e: e.seq)
    if not ordered or ordered[0].seq != first_seq:
        return None  # the start of its history is not on record: cut nothing
    earliest = _earliest_decision_from(ordered)
    pending: dict[str, tuple[str, float]] = {}  # ticker -> (action_id, issued at)
    best = None
    for i, event in enumerate(ordered):
        if event.seq != first_seq + i:
            break  # a gap: replay stops here anyway, and nothing past it may anchor
        if isinstance(event, SnapshotApply):
            pending = {t: p for t, p in pending.items() if p[0] not in event.reflects}
            if event.candidate and _expired(pending.values(), earliest[i + 1], ttl_s):
                best = event
        else:
            for ticker, action_id in event.targets:
                pending[ticker] = (action_id, event.now)
        if not event.deletable:
            break  # every later anchor would need this event removed
    return best


def _earliest_decision_from(ordered: Sequence[Event]) -> list[float]:
    """``out[i]``: the earliest processing time of the decisions at index ``i`` or later."""
    out = [math.inf] * (len(ordered) + 1)
    for i in range(len(ordered) - 1, -1, -1):
        event = ordered[i]
        now = event.now if isinstance(event, Decided) else math.inf
        out[i] = min(out[i + 1], now)
    return out


def _expired(pending: Iterable[tuple[str, float]], earliest: float, ttl_s: float) -> bool:
    """No target in ``pending`` counts for a decision at ``earliest`` or later (its TTL passed)."""
    return all(earliest - issued >= ttl_s for _, issued in pending)


@dataclass(frozen=True, slots=True)
class EmergencyRecord:
    """One ``emergency_events`` row, in replay's order (version, then arrival)."""

    version: int
    payload: bytes
    candidate: bool  # received at or before the cut-off
    deletable: bool  # received before the cut-off


def emergency_anchor(records: Sequence[EmergencyRecord], bound: int) -> int | None:
    """The first version to keep, or None to keep every row.

    It is the latest version at or below ``bound`` that was applied as it stands: from it,
    replay's fold (``next_emergency``, as riskgate.replay.engine applies it) reaches the same
    state as from the first row. A version held back (EMERGENCY kept without a re-arm) depends
    on what came before it, so it never anchors."""
    state, best, prefix_deletable = EmergencyState(), None, True
    for record in records:
        try:
            message = decode(BlackSwanState, record.payload, max_bytes=_MAX_BYTES)
        except PoisonMessage:
            prefix_deletable = prefix_deletable and record.deletable
            continue
        proposed = EmergencyState(*codec.emergency(message))
        after = next_emergency(state, proposed, message.rearm)
        as_it_stands = after == proposed and proposed.version > state.version
        if as_it_stands and record.candidate and prefix_deletable and record.version <= bound:
            best = record.version
        state = after
        prefix_deletable = prefix_deletable and record.deletable
    return best
