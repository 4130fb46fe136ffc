"""Tumbling UTC windows of risk-action counts: when each is emitted, corrected and dropped.

Pure: no clock, no I/O. Times are integer microseconds since the Unix epoch, because both the
risk action's ``timestamp`` and PostgreSQL's ``timestamptz`` have microsecond precision, so a
window boundary is decided exactly as the audit query decides it.

Two times matter for every action (docs/override-stats.md):
- its processing time (``Tally.at_us``) picks the window;
- the time its record was written to ``risk.actions`` (the Kafka record timestamp) says whether
  it is late: written before ``window end + grace`` it counts, otherwise it never does.

A window closes, and is emitted as revision 0, once the watermark (``Watermarks``) has passed
its end by ``close_delay``. An action for a closed window marks it pending, and the next
``advance`` emits the next revision. Once the watermark passes ``end + close_delay + grace``
the window is final: it is dropped and its size's horizon moves up to its end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from riskgate.core.outcome import RISKGATE_NAMESPACE

US = 1_000_000
DAY_S = 86_400

OK = "OK"
DUPLICATE = "DUPLICATE"

Row = tuple[str, str | None, int]
"""(action_type, reason_code or None, count)."""


class Tally(NamedTuple):
    """The fields of one risk action that the statistics count."""

    strategy_id: str
    action_type: str
    reason_codes: tuple[str, ...]
    at_us: int
    """The action's processing time."""


class WindowKey(NamedTuple):
    size_s: int
    start_us: int
    strategy_id: str

    @property
    def end_us(self) -> int:
        return self.start_us + self.size_s * US


def window_start(at_us: int, size_s: int) -> int:
    """The start of the tumbling UTC window of ``size_s`` seconds that contains ``at_us``."""
    return at_us - at_us % (size_s * US)


def window_id(key: WindowKey) -> uuid.UUID:
    """``uuid5(RISKGATE_NAMESPACE, "<strategy_id>|<size_s>|<start, epoch seconds>")``."""
    return uuid.uuid5(RISKGATE_NAMESPACE, f"{key.strategy_id}|{key.size_s}|{key.start_us // US}")


@dataclass(slots=True)
class WindowCounts:
    """What one window has counted, and what of it has been emitted."""

    decisions: int = 0
    overridden: int = 0
    by_reason: dict[tuple[str, str | None], int] = field(default_factory=dict)
    revision: int = -1
    """The last revision emitted; -1 until the window closes."""
    pending: bool = False
    """Counts changed since the last emission."""

    def add(self, tally: Tally) -> None:
        """Count one action the way ``riskgate audit overrides`` counts it in PostgreSQL."""
        action = tally.action_type
        if action != DUPLICATE:
            self.decisions += 1
            if action != OK:
                self.overridden += 1
        if action != OK:
            for code in tally.reason_codes or (None,):
                self.by_reason[(action, code)] = self.by_reason.get((action, code), 0) + 1
        self.pending = True

    def rows(self) -> tuple[Row, ...]:
        """The per type and reason counts, ordered by type, then code (none first)."""
        ordered = sorted(self.by_reason.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        return tuple((action, code, n) for (action, code), n in ordered)


class Emission(NamedTuple):
    """One revision of one window, to be written to ``risk.override_stats``."""

    key: WindowKey
    revision: int
    decisions: int
    overridden: int
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class WindowRules:
    """Window sizes and the two delays, all in seconds."""

    sizes_s: tuple[int, ...] = (60, 3600)
    close_delay_s: float = 5.0
    grace_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.sizes_s or len(set(self.sizes_s)) != len(self.sizes_s):
            raise ValueError(f"window sizes must be distinct and at least one: {self.sizes_s}")
        for size in self.sizes_s:
            if size < 1 or DAY_S % size:
                raise ValueError(f"a window size must divide a day (86400 s): {size}")
        if self.close_delay_s < 0 or self.grace_s < 0:
            raise ValueError("close_delay_s and grace_s must be >= 0")

    @property
    def close_us(self) -> int:
        return round(self.close_delay_s * US)

    @property
    def grace_us(self) -> int:
        return round(self.grace_s * US)


class OverrideWindows:
    """The open windows of every size and strategy, and each size's horizon: the end of the
    last window that is final. ``changed`` and ``horizons_changed`` collect what a checkpoint
    must store since the last ``drain``."""

    def __init__(self, rules: WindowRules, windows: Mapping[WindowKey, WindowCounts] | None = None,
                 horizons: Mapping[int, int] | None = None) -> None:
        self.rules = rules
        self.windows: dict[WindowKey, WindowCounts] = dict(windows or {})
        self.horizons: dict[int, int] = dict(horizons or {})
        self.changed: set[WindowKey] = set()
        self.finalized: set[WindowKey] = set()
        self.horizons_changed: set[int] = set()

    def add(self, tally: Tally, written_us: int) -> list[int]:
        """Count ``tally`` in its window of every size; return the sizes for which it came too
        late (written after that window's end + grace, or for a window already final)."""
        too_late: list[int] = []
        grace = self.rules.grace_us
        for size in self.rules.sizes_s:
            key = WindowKey(size, window_start(tally.at_us, size), tally.strategy_id)
            end = key.end_us
            if end <= self.horizons.get(size, -1 << 62) or written_us >= end + grace:
                too_late.append(size)
                continue
            counts = self.windows.get(key)
            if counts is None:
                counts = self.windows[key] = WindowCounts()
            counts.add(tally)
            self.changed.add(key)
        return too_late

    def advance(self, watermark_us: int | None) -> list[Emission]:
        """Emit every window that closed or changed after closing, then drop the final ones."""
        if watermark_us is None:
            return []
        close, grace = self.rules.close_us, self.rules.grace_us
        emissions: list[Emission] = []
        for key in sorted(self.windows):
            counts = self.windows[key]
            end = key.end_us
            if end + close > watermark_us:
                continue
            if counts.revision < 0 or counts.pending:
                counts.revision += 1
                counts.pending = False
                self.changed.add(key)
                emissions.append(Emission(key, counts.revision, counts.decisions,
                                          counts.overridden, counts.rows()))
            if end + close + grace <= watermark_us:
                del self.windows[key]
                self.changed.discard(key)
                self.finalized.add(key)
                if end > self.horizons.get(key.size_s, -1 << 62):
                    self.horizons[key.size_s] = end
                    self.horizons_changed.add(key.size_s)
        return emissions

    def drain(self) -> tuple[dict[WindowKey, WindowCounts], set[WindowKey], dict[int, int]]:
        """What changed since the last drain: open windows to store, final windows to delete,
        horizons to store. Clears the three sets."""
        stored = {key: self.windows[key] for key in self.changed}
        finalized, horizons = set(self.finalized), {s: self.horizons[s] for s in self.horizons_changed}
        self.changed.clear()
        self.finalized.clear()
        self.horizons_changed.clear()
        return stored, finalized, horizons


class Watermarks:
    """Per input partition, the written time up to which everything has been read: the newest
    record timestamp seen, or the time at which the partition was last seen caught up to its
    last stable offset. The watermark is the oldest of them, once every partition has one."""

    def __init__(self, partitions: Iterable[int]) -> None:
        self._marks: dict[int, int | None] = dict.fromkeys(partitions)

    def saw(self, partition: int, written_us: int) -> None:
        mark = self._marks.get(partition)
        if mark is None or written_us > mark:
            self._marks[partition] = written_us

    caught_up = saw
    """Everything written before ``at_us`` on the partition has been read."""

    def value(self) -> int | None:
        marks = list(self._marks.values())
        if not marks or any(mark is None for mark in marks):
            return None
        return min(mark for mark in marks if mark is not None)
