"""The live shadow profile in the handler, with in-memory state: one record per fresh proposal,
the candidate's differences, and live outputs untouched."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from riskgate.contracts.outputs import ShadowRecord
from riskgate.core import EmergencyLevel
from riskgate.settings import Settings
from riskgate.worker.candidate import Candidate
from riskgate.worker.globals import EmergencyState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.shadow import Shadow, ShadowConfigError, candidate_from, mismatch_reason
from tests.service.test_handler import NOW, records, row, run, world
from tests.support import builders as b

pytestmark = pytest.mark.service

SETTINGS = Settings()
SHADOW = SETTINGS.topics.shadow


def candidate_file(tmp_path: Path, body: str) -> Candidate:
    path = tmp_path / "tight.yaml"
    path.write_text(body, encoding="utf-8")
    return Candidate.from_file(path)


def tight(tmp_path: Path, cap: float = 500.0) -> Candidate:
    """A candidate whose per-position money cap is tighter than NORMAL's 1000."""
    return candidate_file(tmp_path, f"scope: GLOBAL\nlimits: {{position_size_cap: {cap}}}\n")


def shadows(result) -> list[dict]:
    return [orjson.loads(r.value) for r in result.outputs if r.topic == SHADOW]


def live(result) -> list[tuple[str, bytes | None, bytes]]:
    return [(r.topic, r.key, r.value) for r in result.outputs if r.topic != SHADOW]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def mixed_batch() -> list:
    """Proposals on two portfolios (one without a snapshot), a poison record, a duplicate."""
    d1 = b.proposal("D1", "P1", "AAPL", qty=50.0, created_at=NOW)
    return (records(d1, b.proposal("D2", "P1", "AAPL", qty=5.0, created_at=NOW), b"{not json", d1)
            + [r for r in records(b.proposal("D3", "P2", "XOM", qty=-30.0, created_at=NOW),
                                  key="P2")])


class TestShadowRecords:
    def test_one_valid_record_per_fresh_proposal_keyed_by_portfolio(self, tmp_path):
        """Each freshly decided proposal gets one shadow record on risk.shadow, valid against the
        contract, keyed by portfolio, naming the live action, the candidate and the source offset."""
        handler = DecisionHandler(SETTINGS, world(AAPL=100.0), shadow=Shadow(tight(tmp_path), SHADOW))
        recs = records(b.proposal("D1", "P1", "AAPL", qty=50.0, created_at=NOW),
                       b.proposal("D2", "P1", "AAPL", qty=1.0, created_at=NOW))

        result = run(handler, recs, {"P1": row("P1")})

        found = [ShadowRecord.model_validate_json(r.value) for r in result.outputs if r.topic == SHADOW]
        assert [s.decision_id for s in found] == ["D1", "D2"]
        assert [s.source_offset for s in found] == [0, 1]
        assert {r.key for r in result.outputs if r.topic == SHADOW} == {b"P1"}
        assert {s.candidate for s in found} == {"tight.yaml"}
        assert [str(s.action_id) for s in found] == [a.action_id for a in result.actions]
        assert [r.payload for r in result.shadows] == [r.value for r in result.outputs
                                                       if r.topic == SHADOW]

    def test_tighter_candidate_names_the_fields_that_differ(self, tmp_path):
        """A tighter money cap cuts a capped decision further and caps one live approves."""
        handler = DecisionHandler(SETTINGS, world(AAPL=100.0), shadow=Shadow(tight(tmp_path), SHADOW))
        recs = records(b.proposal("D1", "P1", "AAPL", qty=50.0, created_at=NOW),
                       b.proposal("D2", "P1", "XOM", qty=1.0, created_at=NOW))

        first, second = shadows(run(handler, recs[:1], {"P1": row("P1")})) + shadows(
            run(handler, records(b.proposal("D3", "P1", "AAPL", qty=8.0, created_at=NOW)),
                {"P1": row("P1")}))

        assert (first["live"]["target_position"], first["shadow"]["target_position"]) == (10.0, 5.0)
        assert first["differs"] == ["target_position", "delta_position", "target_notional",
                                    "max_passing_position"]
        assert (second["live"]["action_type"], second["shadow"]["action_type"]) == ("OK", "CAPPED")
        assert second["differs"] == ["action_type", "reason_codes", "target_position",
                                     "delta_position", "target_notional", "max_passing_position"]
        assert second["shadow"]["reason_codes"] == ["POSITION_SIZE_CAP"]

    def test_agreement_is_an_empty_list_of_differences(self):
        """A candidate equal to the live profile agrees on every decision."""
        handler = DecisionHandler(SETTINGS, world(AAPL=100.0),
                                  shadow=Shadow(Candidate.of_profile("NORMAL"), SHADOW))
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", qty=3.0, created_at=NOW)),
                     {"P1": row("P1")})

        (record,) = shadows(result)
        assert record["differs"] == [] and record["live"] == record["shadow"]
        assert result.shadows[0].reason is None

    def test_candidate_sees_the_live_book_not_its_own_targets(self, tmp_path):
        """The second decision's shadow starts from the live target of the first, never the
        candidate's: shadow targets are not applied."""
        handler = DecisionHandler(SETTINGS, world(AAPL=100.0), shadow=Shadow(tight(tmp_path), SHADOW))
        recs = records(b.proposal("D1", "P1", "AAPL", qty=8.0, created_at=NOW),
                       b.proposal("D2", "P1", "AAPL", qty=8.0, created_at=NOW))

        _, second = shadows(run(handler, recs, {"P1": row("P1")}))

        # Live approved 8 for D1, so D2 (8 again) changes nothing under either config; on a book
        # holding the candidate's own 5, D2 would have been an increase, refused at 5.
        assert (second["shadow"]["action_type"], second["shadow"]["target_position"]) == ("OK", 8.0)
        assert second["shadow"]["delta_position"] == second["live"]["delta_position"] == 0.0


class TestLiveUntouched:
    def test_live_outputs_rows_and_state_are_byte_identical_with_shadow_on(self, tmp_path):
        """With shadow on, every live action, target and dead letter, every stored row and the
        portfolio state are exactly what they are with shadow off."""
        def decide(shadow: Shadow | None):
            g = world(AAPL=100.0, XOM=50.0)
            rows = {"P1": row("P1", AAPL=20.0), "P2": copy.deepcopy(row("P2"))}
            rows["P2"].equity = None  # no snapshot yet: refused before the core
            return run(DecisionHandler(SETTINGS, g, shadow=shadow), mixed_batch(), rows), rows

        off, off_rows = decide(None)
        on, on_rows = decide(Shadow(tight(tmp_path), SHADOW))

        assert live(on) == live(off)
        assert (on.actions, on.targets, on.dead, on.processed) == (
            off.actions, off.targets, off.dead, off.processed)
        assert {p: (r.pending, r.seq) for p, r in on_rows.items()} == {
            p: (r.pending, r.seq) for p, r in off_rows.items()}
        assert off.shadows == [] and len(on.shadows) == 3

    def test_no_shadow_for_duplicates_dead_letters_or_forced_derisk(self, tmp_path):
        """Only fresh proposals are shadowed: a duplicate, a dead letter and a forced de-risk
        command get none; a proposal refused for want of a snapshot gets one that agrees."""
        g = world(AAPL=100.0, XOM=50.0)
        g.emergency = EmergencyState(EmergencyLevel.EMERGENCY, 1, "E1", NOW, 0.5)
        command = {"schema_version": "1.0", "kind": "FORCED_DERISK", "decision_id": "derisk:E1:P1",
                   "strategy_id": "riskgate", "portfolio_id": "P1", "emergency_event_id": "E1",
                   "gross_cut_pct": 0.5, "created_at": b.iso(NOW)}
        no_snapshot = row("P2")
        no_snapshot.equity = None
        handler = DecisionHandler(SETTINGS, g, shadow=Shadow(tight(tmp_path), SHADOW))

        result = run(handler, mixed_batch() + records(command), {"P1": row("P1", AAPL=20.0),
                                                                  "P2": no_snapshot},
                     seen={"D2"})

        found = shadows(result)
        assert [s["decision_id"] for s in found] == ["D1", "D3"]
        assert found[1]["live"]["reason_codes"] == ["NO_SNAPSHOT"] and found[1]["differs"] == []


class TestCandidateAgainstLiveConfig:
    def test_inconsistent_candidate_records_nothing_and_is_counted(self, tmp_path):
        """When the candidate cannot be applied on the live config version, no record is
        written for its decisions and riskgate_shadow_skipped_total counts them."""
        g = world(AAPL=100.0)
        g.config.apply(3, "GLOBAL", None, None, {"net_cap": 1.0, "gross_cap": 2.0}, None)
        candidate = candidate_file(tmp_path, "limits: {gross_cap: 0.5}\n")
        handler = DecisionHandler(SETTINGS, g, shadow=Shadow(candidate, SHADOW))
        before = counter("riskgate_shadow_skipped_total", reason="candidate_inconsistent")

        result = run(handler, records(b.proposal("D1", "P1", "AAPL", qty=3.0, created_at=NOW),
                                      b.proposal("D2", "P1", "AAPL", qty=3.0, created_at=NOW)),
                     {"P1": row("P1")})

        assert shadows(result) == [] and len(result.actions) == 2
        assert counter("riskgate_shadow_skipped_total", reason="candidate_inconsistent") == before + 2

    def test_mismatches_are_counted_by_transition_and_reason(self, tmp_path):
        """riskgate_shadow_mismatches_total is labelled with both actions and the reason."""
        handler = DecisionHandler(SETTINGS, world(AAPL=100.0), shadow=Shadow(tight(tmp_path), SHADOW))
        labels = {"live_action": "OK", "shadow_action": "CAPPED", "reason": "POSITION_SIZE_CAP"}
        before = counter("riskgate_shadow_mismatches_total", **labels)
        decided = counter("riskgate_shadow_decisions_total")

        run(handler, records(b.proposal("D1", "P1", "AAPL", qty=8.0, created_at=NOW)),
            {"P1": row("P1")})

        assert counter("riskgate_shadow_mismatches_total", **labels) == before + 1
        assert counter("riskgate_shadow_decisions_total") == decided + 1


class TestMismatchReason:
    @pytest.mark.parametrize(("ours", "theirs", "reason"), [
        ([], ["SECTOR_CAP"], "SECTOR_CAP"),
        (["SECTOR_CAP", "ADV"], ["SECTOR_CAP"], "ADV"),
        (["POSITION_SIZE_CAP"], ["POSITION_SIZE_CAP"], "POSITION_SIZE_CAP"),
        ([], [], "NONE"),
    ])
    def test_reason_is_the_first_code_added_dropped_or_shared(self, ours, theirs, reason):
        """The reason is the first code the candidate adds, else drops, else shares."""
        assert mismatch_reason({"reason_codes": ours}, {"reason_codes": theirs}) == reason


class TestShadowSettings:
    def test_no_setting_means_no_shadow(self):
        """Without either setting the worker runs no shadow."""
        assert candidate_from(Settings()) is None

    def test_both_settings_are_refused(self, tmp_path):
        """A profile and a file at once is refused, naming both settings."""
        s = Settings(shadow_profile="DEFENSIVE", shadow_limits_file=tmp_path / "c.yaml")

        with pytest.raises(ShadowConfigError, match="RISKGATE_SHADOW_PROFILE and RISKGATE_SHADOW_LIMITS_FILE"):
            candidate_from(s)

    @pytest.mark.parametrize(("field", "body", "expected"), [
        ("shadow_profile", None, "unknown profile 'BOLD'"),
        ("shadow_limits_file", "limits: {no_such_limit: 1}\n", "no_such_limit"),
        ("shadow_limits_file", "profile: DEFENSIVE\ncolour: red\n", "colour"),
    ])
    def test_bad_candidate_is_refused_with_its_reason(self, tmp_path, field, body, expected):
        """An unknown profile or unknown keys in the file are refused with the setting named."""
        value: object = "BOLD"
        if body is not None:
            value = tmp_path / "c.yaml"
            value.write_text(body, encoding="utf-8")

        with pytest.raises(ShadowConfigError, match=f"RISKGATE_{field.upper()}: .*{expected}"):
            candidate_from(Settings(**{field: value}))
