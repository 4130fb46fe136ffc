"""Override statistics windows (riskgate.stats.windows, riskgate.stats.codec): window bounds,
counting as the audit counts, closing, corrections, finality, and restarts from a checkpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskgate.contracts.outputs import OverrideStats
from riskgate.stats import codec
from riskgate.stats.settings import StatsSettings
from riskgate.stats.windows import (
    US,
    OverrideWindows,
    Tally,
    Watermarks,
    WindowCounts,
    WindowKey,
    WindowRules,
    window_id,
    window_start,
)

pytestmark = pytest.mark.unit

T0 = 1_790_000_040 * US  # a minute boundary
RULES = WindowRules(sizes_s=(60,), close_delay_s=5.0, grace_s=30.0)


def act(at_s: float, action: str = "CAPPED", codes: tuple[str, ...] = ("PER_NAME_WEIGHT",),
        strategy: str = "S1") -> Tally:
    return Tally(strategy, action, codes, T0 + round(at_s * US))


def at(seconds: float) -> int:
    return T0 + round(seconds * US)


class TestWindowStart:
    @given(st.integers(min_value=0, max_value=4_000_000_000 * US),
           st.sampled_from([1, 4, 12, 60, 300, 3600, 86_400]))
    def test_a_window_contains_its_instant_and_starts_on_a_multiple_of_its_size(self, at_us, size):
        """The window of an instant starts at or before it, ends after it, on a size multiple."""
        start = window_start(at_us, size)

        assert start <= at_us < start + size * US
        assert start % (size * US) == 0

    def test_the_last_microsecond_before_a_boundary_belongs_to_the_earlier_window(self):
        """A boundary is exact to the microsecond, as PostgreSQL's timestamptz compares it."""
        assert window_start(T0 - 1, 60) == T0 - 60 * US
        assert window_start(T0, 60) == T0

    def test_the_window_id_names_strategy_size_and_start(self):
        """The id is uuid5 of "strategy|size|start seconds", the example in the contract."""
        start = round(datetime(2026, 11, 22, 14, 30, tzinfo=UTC).timestamp()) * US

        assert str(window_id(WindowKey(60, start, "momentum-v3"))) == (
            "8aac0e05-ed79-5e81-a827-5066ac9b2f61")


class TestWindowCounts:
    def test_counts_follow_the_audit_overrides_query(self):
        """OK counts as a decision only; DUPLICATE only under its reason; each code once; an
        action without a code counts under null."""
        counts = WindowCounts()
        for tally in (act(1, "OK", ()), act(2, "OK", ("NOTE",)), act(3), act(4, "DUPLICATE",
                      ("DUPLICATE_DECISION",)), act(5, "REJECTED", ("MIN_CONFIDENCE", "STALE")),
                      act(6, "EXPIRED", ())):
            counts.add(tally)

        assert (counts.decisions, counts.overridden) == (5, 3)
        assert counts.rows() == (
            ("CAPPED", "PER_NAME_WEIGHT", 1), ("DUPLICATE", "DUPLICATE_DECISION", 1),
            ("EXPIRED", None, 1), ("REJECTED", "MIN_CONFIDENCE", 1), ("REJECTED", "STALE", 1))


class TestWindowRules:
    @pytest.mark.parametrize("sizes", [(), (7,), (60, 60), (0,), (172_800,)])
    def test_sizes_that_do_not_tile_a_utc_day_are_refused(self, sizes):
        """Sizes must be distinct and divide 86400, so windows align with UTC days."""
        with pytest.raises(ValueError, match="window size"):
            WindowRules(sizes_s=sizes)

    def test_settings_accept_a_comma_list_or_json(self, monkeypatch):
        """RISKGATE_STATS_WINDOWS_S takes '4,12' as well as '[4, 12]'."""
        monkeypatch.setenv("RISKGATE_STATS_WINDOWS_S", "4,12")
        assert StatsSettings().rules().sizes_s == (4, 12)
        monkeypatch.setenv("RISKGATE_STATS_WINDOWS_S", "[60, 3600]")
        assert StatsSettings().rules().sizes_s == (60, 3600)


class TestAdvance:
    def test_a_window_is_emitted_once_the_watermark_passes_its_end_plus_the_close_delay(self):
        """Nothing is emitted before end + close delay; revision 0 is emitted then, once."""
        windows = OverrideWindows(RULES)
        windows.add(act(10), at(11))

        before = windows.advance(at(64.999999))
        first = windows.advance(at(65))
        again = windows.advance(at(66))

        assert before == [] and again == []
        assert [(e.revision, e.decisions, e.rows) for e in first] == [
            (0, 1, (("CAPPED", "PER_NAME_WEIGHT", 1),))]

    def test_a_late_action_within_grace_is_a_correction_with_the_next_revision(self):
        """An action written after the close but before end + grace emits revision 1."""
        windows = OverrideWindows(RULES)
        windows.add(act(10), at(11))
        windows.advance(at(65))

        assert windows.add(act(59, "REJECTED", ("MIN_CONFIDENCE",)), at(80)) == []
        correction = windows.advance(at(81))

        assert [(e.revision, e.decisions, e.overridden) for e in correction] == [(1, 2, 2)]

    def test_an_action_written_after_end_plus_grace_is_too_late_and_never_counted(self):
        """Written at end + grace or later, the action is refused even while the window is open."""
        windows = OverrideWindows(RULES)
        windows.add(act(10), at(11))

        assert windows.add(act(20), at(90)) == [60]
        assert [e.decisions for e in windows.advance(at(65))] == [1]

    def test_a_final_window_is_dropped_and_its_horizon_refuses_later_actions(self):
        """At end + close delay + grace the window is final: dropped, deleted, horizon moved."""
        windows = OverrideWindows(RULES)
        windows.add(act(10), at(11))
        windows.drain()

        emitted = windows.advance(at(95))
        stored, finalized, horizons = windows.drain()

        assert [e.revision for e in emitted] == [0]
        assert windows.windows == {} and stored == {}
        assert finalized == {WindowKey(60, T0, "S1")} and horizons == {60: T0 + 60 * US}
        assert windows.add(act(30), at(40)) == [60]

    def test_an_empty_window_is_never_emitted_and_strategies_are_apart(self):
        """Only strategies with actions in a window get a record, each its own."""
        windows = OverrideWindows(RULES)
        windows.add(act(1, strategy="A"), at(1))
        windows.add(act(61, strategy="B"), at(61))

        emitted = windows.advance(at(200))

        assert [(e.key.strategy_id, e.key.start_us) for e in emitted] == [
            ("A", T0), ("B", T0 + 60 * US)]

    def test_each_size_has_its_own_window_and_lateness(self):
        """An action can be too late for the short window and on time for the long one."""
        windows = OverrideWindows(WindowRules(sizes_s=(60, 3600), close_delay_s=5, grace_s=30))

        assert windows.add(act(10), at(100)) == [60]
        assert [k.size_s for k in windows.windows] == [3600]


class TestWatermarks:
    def test_the_watermark_waits_for_every_partition_then_is_the_oldest(self):
        """None until each partition has a mark; then the minimum; marks never go back."""
        marks = Watermarks([0, 1])
        marks.saw(0, 50)
        assert marks.value() is None

        marks.caught_up(1, 40)
        marks.saw(1, 30)

        assert marks.value() == 40


class TestCodec:
    def test_an_action_record_is_read_to_the_microsecond(self):
        """The counted fields and the exact processing time come from the wire record."""
        value = orjson.dumps({"strategy_id": "S1", "action_type": "CAPPED",
                              "reason_codes": ["X"], "timestamp": "2026-11-22T14:30:00.000001Z",
                              "details_json": {}})

        tally = codec.tally(value)

        assert tally == Tally("S1", "CAPPED", ("X",), 1_795_357_800 * US + 1)

    @pytest.mark.parametrize("value", [b"", b"[]", b'{"strategy_id": 1}', orjson.dumps(
        {"strategy_id": "S", "action_type": "MAYBE", "reason_codes": [], "timestamp": "x"})])
    def test_an_unreadable_action_is_refused_with_one_error_type(self, value):
        """Anything the statistics cannot count raises UndecodableAction."""
        with pytest.raises(codec.UndecodableAction):
            codec.tally(value)

    def test_an_emission_is_a_valid_contract_record(self):
        """The published value validates against OverrideStats, with corrections_until."""
        windows = OverrideWindows(RULES)
        windows.add(act(10, "EXPIRED", ()), at(11))
        emission = windows.advance(at(65))[0]

        key, value = codec.stats_bytes(emission, RULES.grace_us, at(65))
        record = OverrideStats.model_validate_json(value)

        assert key == b"S1"
        assert record.counts[0].reason_code is None and record.revision == 0
        assert (record.corrections_until - record.window_end).total_seconds() == 30


# A model of the stats process: checkpoints commit emissions, changelog and position together;
# a crash loses everything after the last checkpoint and restores from the changelog.

@dataclass
class Run:
    rules: WindowRules
    changelog: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    published: list[OverrideStats] = field(default_factory=list)
    committed: int = 0

    def checkpoint(self, windows: OverrideWindows, marks: Watermarks, now_us: int) -> None:
        emissions = windows.advance(marks.value())
        stored, finalized, horizons = windows.drain()
        self.published += [OverrideStats.model_validate_json(
            codec.stats_bytes(e, self.rules.grace_us, now_us)[1]) for e in emissions]
        self.changelog += [(codec.window_key_bytes(k), codec.counts_bytes(c))
                           for k, c in stored.items()]
        self.changelog += [(codec.window_key_bytes(k), None) for k in finalized]
        self.changelog += [(codec.horizon_key_bytes(s), codec.horizon_bytes(e))
                           for s, e in horizons.items()]

    def session(self) -> tuple[OverrideWindows, Watermarks]:
        return OverrideWindows(self.rules, *codec.restore(self.changelog)), Watermarks([0, 1])


Stream = list[tuple[Tally, int, int]]
"""(tally, written time, partition) in the order read."""


def replay(rules: WindowRules, stream: Stream, plan: list[tuple[int, bool]]) -> Run:
    """Feed ``stream``; ``plan`` is (records until the next checkpoint, crash instead of
    checkpointing). Ends with every window final."""
    run = Run(rules)
    windows, marks = run.session()
    position = 0
    for count, crash in [*plan, (len(stream), False)]:
        for tally, written, partition in stream[position:position + count]:
            marks.saw(partition, written)
            windows.add(tally, written)
        position = min(len(stream), position + count)
        if crash:
            windows, marks = run.session()
            position = run.committed
        else:
            run.checkpoint(windows, marks, stream[max(position, 1) - 1][1])
            run.committed = position
    end = stream[-1][1] + 86_400 * US
    marks.caught_up(0, end)
    marks.caught_up(1, end)
    run.checkpoint(windows, marks, end)
    return run


def expected(rules: WindowRules, stream: Stream) -> dict[str, tuple]:
    """The audit's counts per window of every action written before its window's end + grace."""
    found: dict[str, WindowCounts] = {}
    for tally, written, _ in stream:
        for size in rules.sizes_s:
            key = WindowKey(size, window_start(tally.at_us, size), tally.strategy_id)
            if written < key.end_us + rules.grace_us:
                found.setdefault(str(window_id(key)), WindowCounts()).add(tally)
    return {wid: (c.decisions, c.overridden, c.rows()) for wid, c in found.items()}


def last_revisions(run: Run) -> dict[str, tuple]:
    latest: dict[str, OverrideStats] = {}
    for record in run.published:
        latest[str(record.window_id)] = record
    return {wid: (r.decisions, r.overridden, tuple((c.action_type.value, c.reason_code, c.count)
                                                   for c in r.counts))
            for wid, r in latest.items()}


ACTIONS = st.sampled_from([("OK", ()), ("CAPPED", ("PER_NAME_WEIGHT",)),
                           ("REJECTED", ("MIN_CONFIDENCE", "STALE_INPUT")), ("EXPIRED", ()),
                           ("DUPLICATE", ("DUPLICATE_DECISION",))])


@st.composite
def streams(draw) -> Stream:
    """Records of two partitions in written order (non-decreasing), each written 0-40 s after
    its action time."""
    out, written = [], T0
    for _ in range(draw(st.integers(1, 60))):
        written += draw(st.integers(0, 4 * US))
        action, codes = draw(ACTIONS)
        lag = draw(st.integers(0, 40 * US))
        tally = Tally(draw(st.sampled_from(["A", "B"])), action, codes, written - lag)
        out.append((tally, written, draw(st.integers(0, 1))))
    return out


PLANS = st.lists(st.tuples(st.integers(0, 8), st.booleans()), max_size=30)
SMALL = WindowRules(sizes_s=(4, 12), close_delay_s=1.0, grace_s=10.0)


class TestRestarts:
    @settings(max_examples=300, deadline=None)
    @given(streams(), PLANS)
    def test_crashes_between_checkpoints_change_nothing_the_topic_says(self, stream, plan):
        """Whatever the crashes, each window's last revision equals the audit's counts of its
        on-time actions, and (window_id, revision) runs 0, 1, 2... with none written twice."""
        run = replay(SMALL, stream, plan)

        revisions = Counter((str(r.window_id), r.revision) for r in run.published)
        by_window: dict[str, list[int]] = {}
        for record in run.published:
            by_window.setdefault(str(record.window_id), []).append(record.revision)

        assert last_revisions(run) == expected(SMALL, stream)
        assert max(revisions.values(), default=1) == 1
        assert all(revs == list(range(len(revs))) for revs in by_window.values())

    @settings(max_examples=100, deadline=None)
    @given(streams(), PLANS)
    def test_the_changelog_restores_what_was_checkpointed(self, stream, plan):
        """After the last checkpoint nothing is open: every window was final and deleted."""
        run = replay(SMALL, stream, plan)

        windows, horizons = codec.restore(run.changelog)

        assert windows == {}
        assert set(horizons) <= {4, 12}

    def test_a_correction_stored_before_the_watermark_is_known_survives_a_crash(self):
        """A late action counted right after a restart, checkpointed before every partition has a
        watermark again, is still emitted as a correction after the next crash."""
        stream = [(act(1), at(1), 0), (act(6, "OK", ()), at(6), 1), (act(6, "OK", ()), at(6), 0),
                  (act(2, "REJECTED", ("MIN_CONFIDENCE",)), at(7), 0)]
        plan = [(3, False), (0, True), (1, False), (0, True)]

        run = replay(SMALL, stream, plan)

        assert last_revisions(run) == expected(SMALL, stream)
        assert [r.revision for r in run.published if r.window_size_s == 4
                and r.window_start == codec.from_us(T0)] == [0, 1]
