"""Replay renders a replayed output in the stored output's own format version, per topic."""

from __future__ import annotations

import pytest

from riskgate.replay.evidence import Unreplayable
from riskgate.replay.formats import render_action, render_target

pytestmark = pytest.mark.unit

# A replayed 2.0 action: every 1.0 field but details_json, and the compact details.
REPLAYED = {
    "schema_version": "2.0", "action_id": "A", "decision_id": "D", "portfolio_id": "P",
    "strategy_id": "S", "ticker": "T", "timestamp": "2026-09-21T14:13:20Z", "action_type": "OK",
    "reason_codes": [], "risk_reasoning_summary": "OK T", "proposed_position": 1.0,
    "approved_position": 1.0, "max_passing_position": None, "profile": "NORMAL",
    "config_version": 1, "snapshot_version": 2, "market_version": 3, "emergency_version": -1,
    "source_partition": 0, "source_offset": 7,
    "details": {"verdicts": [], "market": None, "limits_digest": None, "current_position": 0.0,
                "note": None, "build": {"version": "0.1.0", "core": "c"}},
}  # fmt: skip
TRACE = {"verdicts": [{"constraint": "MinConfidence", "verdict": "OK"}], "factors": ("a", 1)}


class TestRenderAction:
    def test_a_stored_2_0_action_is_compared_as_it_is(self) -> None:
        """A stored 2.0 action is compared with the replayed payload unchanged."""
        assert render_action(REPLAYED, {"schema_version": "2.0", "action_id": "A"}) is REPLAYED

    def test_a_stored_1_0_action_gets_the_replayed_full_trace_as_details_json(self) -> None:
        """A stored 1.0 action is compared with the replayed one in 1.0's shape: the compact
        details dropped, the full trace in details_json as JSON would hold it."""
        rendered = render_action(REPLAYED, {"schema_version": "1.0", "action_id": "A"},
                                 lambda: TRACE)

        assert rendered["schema_version"] == "1.0" and "details" not in rendered
        assert rendered["details_json"] == {"verdicts": [{"constraint": "MinConfidence",
                                                          "verdict": "OK"}],
                                            "factors": ["a", 1]}
        assert {k: v for k, v in rendered.items() if k not in ("schema_version", "details_json")} \
            == {k: v for k, v in REPLAYED.items() if k not in ("schema_version", "details")}

    def test_a_stored_1_0_action_without_a_replayed_trace_is_unreplayable(self) -> None:
        """Without the replayed leg's trace a 1.0 action cannot be rendered, and says so."""
        with pytest.raises(Unreplayable, match="1.0 action A needs the replayed trace"):
            render_action(REPLAYED, {"schema_version": "1.0", "action_id": "A"})

    def test_a_format_this_build_cannot_render_is_unreplayable_with_its_reason(self) -> None:
        """A stored action version with no renderer raises Unreplayable naming the version and
        the versions this build renders."""
        with pytest.raises(Unreplayable, match=r"action format version '0\.9' of A cannot be "
                                               r"rendered.*renders 1\.0, 2\.0"):
            render_action(REPLAYED, {"schema_version": "0.9", "action_id": "A"})


class TestRenderTarget:
    def test_a_stored_1_0_target_is_compared_as_it_is(self) -> None:
        """Targets are still at 1.0: the replayed target is compared unchanged."""
        replayed = {"schema_version": "1.0", "action_id": "A", "target_position": 1.0}

        assert render_target(replayed, {"schema_version": "1.0", "action_id": "A"}) == replayed

    def test_a_target_in_the_actions_version_is_unreplayable(self) -> None:
        """The actions' 2.0 is not a target version: each topic has its own."""
        with pytest.raises(Unreplayable, match=r"target format version '2\.0'.*renders 1\.0"):
            render_target({"schema_version": "1.0"}, {"schema_version": "2.0", "action_id": "A"})
