"""Which prefix of the replay evidence a prune may remove (riskgate.replay.prune_plan)."""

from __future__ import annotations

import orjson
import pytest

from riskgate.replay.prune_plan import (
    Decided,
    EmergencyRecord,
    SnapshotApply,
    choose_anchor,
    emergency_anchor,
    in_flight,
)

pytestmark = pytest.mark.unit

TTL = 600.0


def snap(seq: int, version: int, reflects: tuple[str, ...] = (), *, candidate: bool = True,
         deletable: bool = True) -> SnapshotApply:
    return SnapshotApply(seq, version, frozenset(reflects), candidate, deletable)


def decided(seq: int, now: float, *targets: tuple[str, str], deletable: bool = True) -> Decided:
    return Decided(seq, now, tuple(targets), deletable)


class TestChooseAnchor:
    def test_the_latest_snapshot_at_the_cutoff_reflecting_every_target_is_the_anchor(self):
        """A snapshot that reflects the only target in flight anchors the history."""
        events = [snap(1, 1), decided(2, 100.0, ("X", "a1")), snap(3, 2, ("a1",)),
                  decided(4, 110.0, ("X", "a2"))]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[2]

    def test_a_target_in_flight_for_a_later_decision_moves_the_anchor_back(self):
        """An unreflected target younger than the TTL at a later decision disqualifies the
        snapshot after it, leaving the earlier one."""
        events = [snap(1, 1), decided(2, 100.0, ("X", "a1")), snap(3, 2), decided(4, 150.0)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[0]

    def test_a_target_past_its_ttl_for_every_later_decision_does_not_hold_the_anchor(self):
        """An unreflected target older than the TTL at every later decision counts for none."""
        events = [snap(1, 1), decided(2, 100.0, ("X", "a1")), snap(3, 2),
                  decided(4, 100.0 + TTL), decided(5, 100.0 + TTL + 1)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[2]

    def test_a_later_target_for_the_same_ticker_replaces_the_earlier_one(self):
        """Only the last target per ticker is in flight, so reflecting it is enough."""
        events = [snap(1, 1), decided(2, 100.0, ("X", "a1")), decided(3, 101.0, ("X", "a2")),
                  snap(4, 2, ("a2",)), decided(5, 102.0)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[3]

    def test_an_event_that_must_stay_stops_every_later_anchor(self):
        """A decision that may not be removed (after the cut-off, or at its partition's
        progress) keeps every snapshot after it from anchoring."""
        events = [snap(1, 1), decided(2, 100.0, deletable=False), snap(3, 2), decided(4, 200.0)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[0]

    def test_a_snapshot_after_the_cutoff_never_anchors(self):
        """Only a snapshot applied at or before the cut-off can anchor."""
        events = [snap(1, 1), decided(2, 100.0), snap(3, 2, candidate=False)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[0]

    def test_a_history_that_does_not_start_at_its_first_sequence_keeps_everything(self):
        """When the first recorded event is not at the expected sequence, nothing is cut."""
        events = [snap(2, 1), decided(3, 100.0), snap(4, 2)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor is None

    def test_nothing_past_a_gap_in_the_sequence_anchors(self):
        """A missing sequence number ends the search: replay stops there anyway."""
        events = [snap(1, 1), decided(2, 100.0), snap(4, 2)]

        anchor = choose_anchor(events, 1, TTL)

        assert anchor == events[0]

    def test_a_previous_anchor_is_the_first_sequence(self):
        """After an earlier prune, the history starts at that prune's anchor."""
        events = [snap(7, 3), decided(8, 100.0, ("X", "a1")), snap(9, 4, ("a1",))]

        anchor = choose_anchor(events, 7, TTL)

        assert anchor == events[2]


class TestInFlight:
    @pytest.mark.parametrize(("action_type", "codes", "delta", "expected"), [
        ("OK", ["OK"], 5.0, True),
        ("CAPPED", ["PER_NAME_CAP"], -2.0, True),
        ("REJECTED", ["MIN_CONFIDENCE"], 0.0, False),
        ("REJECTED", ["NO_SNAPSHOT"], 0.0, False),
        ("FORCED_DERISK", ["FORCED_DERISK"], 0.0, True),
        ("FORCED_DERISK", ["NOTHING_TO_CUT"], 0.0, False),
        ("DUPLICATE", ["DUPLICATE_DECISION"], None, False),
    ])
    def test_a_leg_is_in_flight_as_the_worker_records_it(self, action_type, codes, delta, expected):
        """A proposal that moved the position or a forced de-risk cut is in flight; a refused
        leg, a leg that changed nothing and a DUPLICATE are not."""
        assert in_flight(action_type, codes, delta) is expected


def em(version: int, level: str, event: str, *, rearm: bool = False, candidate: bool = True,
       deletable: bool = True) -> EmergencyRecord:
    body = {"schema_version": "1.0", "event_id": event, "scope": "global", "level": level,
            "version": version, "as_of": "2026-12-01T09:00:00Z", "rearm": rearm,
            "sop": {"gross_cut_pct": 0.5}}
    return EmergencyRecord(version, orjson.dumps(body), candidate, deletable)


class TestEmergencyAnchor:
    def test_the_latest_version_at_the_bound_anchors(self):
        """The latest version applied as it stands, at or below the bound, is the first kept."""
        records = [em(1, "NORMAL", "e1"), em(2, "ELEVATED", "e2"), em(3, "NORMAL", "e3")]

        assert emergency_anchor(records, 3) == 3
        assert emergency_anchor(records, 2) == 2

    def test_an_emergency_held_without_a_rearm_is_anchored_at_the_emergency(self):
        """A NORMAL record that could not leave EMERGENCY (no re-arm) depends on the EMERGENCY
        before it, so the anchor stays at the EMERGENCY."""
        records = [em(1, "NORMAL", "e1"), em(2, "EMERGENCY", "e2"), em(3, "NORMAL", "e2"),
                   em(4, "NORMAL", "e2")]

        assert emergency_anchor(records, 4) == 2

    def test_a_rearm_lets_the_history_start_after_the_emergency(self):
        """A re-armed NORMAL record is applied as it stands and can anchor."""
        records = [em(1, "EMERGENCY", "e1"), em(2, "NORMAL", "e1", rearm=True)]

        assert emergency_anchor(records, 2) == 2

    def test_a_row_that_must_stay_stops_every_later_anchor(self):
        """A row received after the cut-off keeps every later version from anchoring, since
        the anchor's predecessors are removed."""
        records = [em(1, "NORMAL", "e1"), em(2, "NORMAL", "e2", deletable=False, candidate=False),
                   em(3, "NORMAL", "e3")]

        assert emergency_anchor(records, 3) == 1
