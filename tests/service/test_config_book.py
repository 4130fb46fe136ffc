"""The config book and the emergency state in force: full-state records replace a scope, older
records merge, re-arms are kept apart, and compaction or reading order never changes the result
(docs/control-plane.md)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgate.core import EmergencyLevel, LimitsError, TradingState
from riskgate.worker.globals import (
    ConfigBook,
    EmergencyState,
    GlobalState,
    in_force,
    next_emergency,
)

pytestmark = pytest.mark.service

KEYS = [("GLOBAL", ""), ("STRATEGY", "S1"), ("STRATEGY", "S2"), ("PORTFOLIO", "P1")]
#: Limits that are consistent with every profile and with each other, whatever the mix.
SAFE = {"sector_cap": [0.2, 0.3, None], "max_spread_bps": [20.0, 50.0], "net_cap": [1.0, None],
        "gross_cap": [2.0, 3.0], "max_open_positions": [5, 8]}
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def full(book: ConfigBook, version: int, key, profile=None, limits=None, state=None) -> None:
    scope, ident = key
    book.apply(version, scope, ident or None, profile, limits, state, True)


class TestFullState:
    def test_a_full_state_record_replaces_the_scope(self):
        """Profile, overlay and trading state absent from a full-state record are unset."""
        book = ConfigBook()
        book.apply(1, "GLOBAL", None, "DEFENSIVE", {"gross_cap": 2.0}, "HALTED")
        full(book, 2, ("GLOBAL", ""), limits={"net_cap": 1.0})
        assert book.profile == {} and book.overrides == {("GLOBAL", ""): {"net_cap": 1.0}}
        assert book.state("GLOBAL") is TradingState.ACTIVE and book.version == 2

    def test_a_record_without_full_state_merges(self):
        """A record written before full_state existed adds its parts to the scope."""
        book = ConfigBook()
        book.apply(1, "GLOBAL", None, "DEFENSIVE", {"gross_cap": 2.0}, "HALTED")
        book.apply(2, "GLOBAL", None, None, {"net_cap": 1.0}, None)
        assert book.profile == {("GLOBAL", ""): "DEFENSIVE"}
        assert book.overrides == {("GLOBAL", ""): {"gross_cap": 2.0, "net_cap": 1.0}}
        assert book.state("GLOBAL") is TradingState.HALTED

    def test_an_empty_overlay_removes_the_scope_layer(self):
        """A full-state record with no limits leaves no overlay behind for the scope."""
        book = ConfigBook()
        full(book, 1, ("STRATEGY", "S1"), limits={"gross_cap": 2.0})
        full(book, 2, ("STRATEGY", "S1"), limits={}, state="REDUCING")
        assert book.overrides == {} and book.state("STRATEGY", "S1") is TradingState.REDUCING

    def test_a_refused_full_state_record_leaves_the_book_unchanged(self):
        """An inconsistent full-state record raises and changes nothing."""
        book = ConfigBook()
        full(book, 1, ("GLOBAL", ""), "DEFENSIVE", {"gross_cap": 2.0}, "HALTED")
        with pytest.raises(LimitsError):
            full(book, 2, ("GLOBAL", ""), limits={"gross_cap": 1.0, "net_cap": 2.0})
        assert book.version == 1 and book.profile == {("GLOBAL", ""): "DEFENSIVE"}
        assert book.state("GLOBAL") is TradingState.HALTED

    def test_a_rearm_is_kept_apart_from_the_scopes(self):
        """A re-arm record adds its event, advances the version and touches no scope."""
        book = ConfigBook()
        full(book, 1, ("GLOBAL", ""), state="HALTED")
        book.apply(2, "GLOBAL", None, None, None, None, False, "E1")
        assert book.rearms == frozenset({"E1"}) and book.version == 2
        assert book.state("GLOBAL") is TradingState.HALTED
        assert book.scope_versions == {("GLOBAL", ""): 1, ("REARM", "E1"): 2}

    def test_merge_records_lose_a_halt_to_compaction(self):
        """Why full_state exists: merge records keep only the last part per key after
        compaction, so a HALTED followed by a profile switch on global is forgotten."""
        live, compacted = ConfigBook(), ConfigBook()
        live.apply(1, "GLOBAL", None, None, None, "HALTED")
        live.apply(2, "GLOBAL", None, "DEFENSIVE", None, None)
        compacted.apply(2, "GLOBAL", None, "DEFENSIVE", None, None)
        assert live.state("GLOBAL") is TradingState.HALTED
        assert compacted.state("GLOBAL") is TradingState.ACTIVE


def records():
    limits = st.dictionaries(st.sampled_from(sorted(SAFE)), st.none(), max_size=3).flatmap(
        lambda d: st.fixed_dictionaries({k: st.sampled_from(SAFE[k]) for k in d}))
    scope = st.tuples(st.sampled_from(KEYS),
                      st.sampled_from([None, "NORMAL", "DEFENSIVE", "AGGRESSIVE_SMALL_ACCOUNT"]),
                      limits, st.sampled_from([None, "ACTIVE", "REDUCING", "HALTED"]))
    rearm = st.sampled_from(["E1", "E2", "E3"]).map(lambda e: ("REARM", e))
    return st.lists(st.one_of(scope, rearm), min_size=1, max_size=25)


def apply_all(book: ConfigBook, events) -> None:
    for version, event in events:
        if event[0] == "REARM":
            book.apply(version, "GLOBAL", None, None, None, None, False, event[1])
        else:
            key, profile, limits, state = event
            full(book, version, key, profile, limits, state)


def view(book: ConfigBook) -> tuple:
    pairs = [(p, s) for p in ("", "P1") for s in ("", "S1", "S2")]
    return (book.version, book.profile, book.overrides, book.rearms,
            {k: book.state(*k) for k in KEYS}, [book.limits(p, s) for p, s in pairs])


class TestCompactionInvariant:
    @PROPERTY
    @given(records())
    def test_the_last_record_per_key_gives_the_same_book(self, events):
        """Full-state records: applying only the last record of each key, as a compacted
        topic holds them, gives the book that applying every record gave."""
        numbered = list(enumerate(events, start=1))
        last = {}
        for version, event in numbered:  # the record key: the scope, or the re-arm's event
            last[event if event[0] == "REARM" else event[0]] = (version, event)
        everything, compacted = ConfigBook(), ConfigBook()
        apply_all(everything, numbered)
        apply_all(compacted, sorted(last.values(), key=lambda ve: ve[0]))
        assert view(compacted) == view(everything)


def black_swan():
    return st.lists(st.tuples(st.sampled_from(["A", "B"]),
                              st.sampled_from(list(EmergencyLevel)), st.booleans()),
                    min_size=1, max_size=12)


def reference(events, rearms: set[str]) -> tuple[EmergencyLevel, str | None]:
    """docs/control-plane.md in one place: EMERGENCY holds from the last EMERGENCY record until
    a later record carries the rearm flag or a re-arm names its event."""
    last_emergency = max((i for i, e in enumerate(events) if e[1] is EmergencyLevel.EMERGENCY),
                         default=None)
    final = events[-1]
    if last_emergency is None or last_emergency == len(events) - 1:
        return final[1], final[0]
    event = events[last_emergency][0]
    if any(flag for _, _, flag in events[last_emergency + 1:]) or event in rearms:
        return final[1], final[0]
    return EmergencyLevel.EMERGENCY, event


class TestEmergencyInForce:
    @PROPERTY
    @given(black_swan(), st.sets(st.sampled_from(["A", "B"])), st.randoms())
    def test_any_reading_order_of_the_two_topics_gives_the_reference_state(
            self, events, rearms, rnd: random.Random):
        """Black swan records and re-arms interleaved in any order end in the state the rule
        gives, so a restart (another order) and a replay (the witness's versions) agree."""
        world = GlobalState()
        stream: list[tuple] = [("bs", i, e) for i, e in enumerate(events, start=1)]
        for event in sorted(rearms):  # each re-arm read at some point of the black swan topic
            stream.insert(rnd.randint(0, len(stream)), ("rearm", None, event))
        config_version = 0
        for kind, version, event in stream:
            if kind == "bs":
                ident, level, flag = event
                proposed = EmergencyState(level, version, ident, float(version))
                world.emergency = next_emergency(world.emergency, proposed, flag)
            else:
                config_version += 1
                world.config.apply(config_version, "GLOBAL", None, None, None, None, False, event)
        em = world.emergency_in_force()
        assert (em.level, em.event_id) == reference(events, rearms)
        assert em.version == len(events)

    def test_a_held_emergency_waits_for_a_rearm_naming_its_event(self):
        """A calm record holds EMERGENCY; a re-arm for another event keeps it; the right one
        releases the engine's calm state."""
        held = next_emergency(EmergencyState(EmergencyLevel.EMERGENCY, 1, "E1", 1.0),
                              EmergencyState(EmergencyLevel.NORMAL, 2, "E2", 2.0), False)
        assert held.level is EmergencyLevel.EMERGENCY and held.version == 2
        assert in_force(held, frozenset({"E2"})) is held
        released = in_force(held, frozenset({"E1"}))
        assert (released.level, released.event_id, released.version) == (
            EmergencyLevel.NORMAL, "E2", 2)
