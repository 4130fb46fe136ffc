"""Backward compatibility of the models' schemas against the committed baseline."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import create_model

from riskgate.contracts import TargetPosition
from riskgate.contracts.evolution import baseline_problems, compatibility_problems, read_baseline
from riskgate.contracts.export import schema_file, topic_schema
from riskgate.contracts.topics import TOPICS, TopicContract
from riskgate.contracts.versions import TOPIC_VERSIONS

pytestmark = pytest.mark.unit

# One frozen baseline per topic and major: v<major>/<topic>.schema.json (schemas/baseline/README.md).
BASELINES = Path(__file__).resolve().parents[3] / "schemas" / "baseline"


def baseline(name: str, major: int = 1) -> dict[str, Any]:
    found = read_baseline(BASELINES / f"v{major}", name)
    assert found is not None, f"no frozen baseline for {name} in {BASELINES}/v{major}"
    return found


def actions_topic() -> TopicContract:
    return next(topic for topic in TOPICS if topic.setting == "actions")


def proposal_schema() -> dict[str, Any]:
    return copy.deepcopy(baseline("decisions.proposed.schema.json"))


def proposal_def(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["ProposedDecision"]


class TestAgainstCommittedBaseline:
    @pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
    def test_models_are_compatible_with_the_baseline(self, topic: TopicContract) -> None:
        """Each topic's current schema breaks nothing in the frozen baseline of its own major,
        and passes every older major's only by its bumped major."""
        assert baseline_problems(BASELINES, schema_file(topic), topic_schema(topic)) == []

    @pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
    def test_each_topic_is_compared_with_its_own_major(self, topic: TopicContract) -> None:
        """A topic's schema says its own major, and that major's baseline is frozen."""
        schema = topic_schema(topic)
        major = TOPIC_VERSIONS[topic.setting].major

        assert schema["x-schema-major"] == major
        assert baseline(schema_file(topic), major)["x-schema-major"] == major


class TestPerTopicVersions:
    def test_only_the_actions_topic_is_at_major_2(self) -> None:
        """risk.actions went to 2.0; every other topic, the inputs first, stays at 1."""
        majors = {topic.address: topic_schema(topic)["x-schema-major"] for topic in TOPICS}

        assert majors.pop("risk.actions") == 2
        assert set(majors.values()) == {1}

    def test_the_compact_action_would_break_v1_without_its_bump(self) -> None:
        """Left at major 1, the 2.0 action fails against the v1 baseline: details_json removed,
        reason_codes narrowed to the reason-code enum, details newly required."""
        unbumped = copy.deepcopy(topic_schema(actions_topic()))
        unbumped["x-schema-major"] = 1

        problems = baseline_problems(BASELINES, "risk.actions.schema.json", unbumped)

        assert "v1: details_json: removed" in problems
        assert "v1: reason_codes[]: now restricted to" in " ".join(problems)
        assert "v1: details: newly required" not in problems  # an output may grow
        assert "v2: x-schema-major went down from 2 to 1" in problems

    def test_a_field_removed_from_actions_2_fails_against_the_v2_baseline(self) -> None:
        """Within major 2, removing a field of the compact details is reported."""
        new = copy.deepcopy(topic_schema(actions_topic()))
        del new["$defs"]["ActionDetails"]["properties"]["limits_digest"]

        assert baseline_problems(BASELINES, "risk.actions.schema.json", new) == [
            "v2: details.limits_digest: removed"
        ]

    def test_a_retyped_field_of_actions_2_fails_against_the_v2_baseline(self) -> None:
        """Within major 2, retyping a binding verdict's number is reported."""
        new = copy.deepcopy(topic_schema(actions_topic()))
        new["$defs"]["BindingVerdict"]["properties"]["limit"] = {"type": "string"}

        problems = baseline_problems(BASELINES, "risk.actions.schema.json", new)

        assert problems and all(p.startswith("v2: details.verdicts[].limit: type changed")
                                for p in problems)

    def test_a_major_bump_without_a_frozen_baseline_is_reported(self) -> None:
        """A topic whose major went up must freeze that major's baseline."""
        targets = next(topic for topic in TOPICS if topic.setting == "targets")
        bumped = copy.deepcopy(topic_schema(targets))
        bumped["x-schema-major"] = 2

        assert baseline_problems(BASELINES, "risk.targets.schema.json", bumped) == [
            "no frozen baseline v2/risk.targets.schema.json"
        ]


class TestCompatibilityRules:
    def test_identical_schemas_have_no_problems(self) -> None:
        """A schema is compatible with itself."""
        assert compatibility_problems(proposal_schema(), proposal_schema()) == []

    def test_removed_field_is_a_problem(self) -> None:
        """Removing a property is reported with its path."""
        new = proposal_schema()
        del proposal_def(new)["properties"]["horizon"]

        assert compatibility_problems(proposal_schema(), new) == [
            "ProposedDecision.horizon: removed"
        ]

    def test_retyped_field_is_a_problem(self) -> None:
        """Changing a property's type is reported."""
        new = proposal_schema()
        proposal_def(new)["properties"]["confidence"] = {"type": "string"}

        problems = compatibility_problems(proposal_schema(), new)

        assert any(
            p.startswith("ProposedDecision.confidence: type changed from number to string")
            for p in problems
        )

    def test_newly_required_field_is_a_problem(self) -> None:
        """Adding a required property is reported."""
        new = proposal_schema()
        proposal_def(new)["properties"]["venue"] = {"type": "string"}
        proposal_def(new)["required"].append("venue")

        assert compatibility_problems(proposal_schema(), new) == [
            "ProposedDecision.venue: newly required"
        ]

    def test_optional_field_becoming_required_is_a_problem(self) -> None:
        """Making an existing optional property required is reported."""
        new = proposal_schema()
        proposal_def(new)["required"].append("horizon")

        assert compatibility_problems(proposal_schema(), new) == [
            "ProposedDecision.horizon: newly required"
        ]

    def test_narrowed_enum_is_a_problem(self) -> None:
        """Removing an enum value is reported, adding one is not."""
        old = copy.deepcopy(baseline("risk.actions.schema.json"))
        narrowed, widened = copy.deepcopy(old), copy.deepcopy(old)
        narrowed["$defs"]["ActionType"]["enum"].remove("DUPLICATE")
        widened["$defs"]["ActionType"]["enum"].append("DEFERRED")

        assert compatibility_problems(old, narrowed) == [
            'action_type: enum narrowed, removed "DUPLICATE"'
        ]
        assert compatibility_problems(old, widened) == []

    def test_narrowed_range_is_a_problem(self) -> None:
        """Tightening a bound is reported, loosening it is not."""
        tighter, looser = proposal_schema(), proposal_schema()
        proposal_def(tighter)["properties"]["confidence"]["maximum"] = 0.5
        del proposal_def(looser)["properties"]["confidence"]["maximum"]

        assert compatibility_problems(proposal_schema(), tighter) == [
            "ProposedDecision.confidence: maximum narrowed to 0.5"
        ]
        assert compatibility_problems(proposal_schema(), looser) == []

    def test_refusing_unknown_properties_is_a_problem(self) -> None:
        """An input that starts refusing unknown fields breaks tolerant producers."""
        new = proposal_schema()
        proposal_def(new)["additionalProperties"] = False

        assert compatibility_problems(proposal_schema(), new) == [
            "ProposedDecision: unknown properties now refused"
        ]

    def test_removed_variant_is_a_problem(self) -> None:
        """Dropping one kind of the decisions.proposed oneOf is reported."""
        new = proposal_schema()
        new["oneOf"] = new["oneOf"][:1]

        assert compatibility_problems(proposal_schema(), new) == [
            "(root): variant ForcedDeriskCommand removed"
        ]

    def test_change_inside_an_optional_object_is_a_problem(self) -> None:
        """A field removed from a nullable nested object (the black swan SOP) is reported."""
        old = copy.deepcopy(baseline("risk.black_swan_state.schema.json"))
        new = copy.deepcopy(old)
        del new["$defs"]["DeriskSop"]["properties"]["order"]

        assert compatibility_problems(old, new) == ["sop.order: removed"]

    def test_dropping_null_from_a_field_is_a_problem(self) -> None:
        """An optional field that stops accepting null has changed type."""
        old = copy.deepcopy(baseline("portfolio.snapshots.schema.json"))
        new = copy.deepcopy(old)
        new["properties"]["nav"] = {"type": "number", "exclusiveMinimum": 0}

        assert compatibility_problems(old, new) == ["nav: type changed from null|number to number"]

    def test_adding_an_optional_field_is_fine(self) -> None:
        """A new optional property is a minor change."""
        new = proposal_schema()
        proposal_def(new)["properties"]["venue"] = {"type": "string"}

        assert compatibility_problems(proposal_schema(), new) == []

    def test_bumping_the_major_clears_every_problem(self) -> None:
        """With x-schema-major raised, breaking changes are allowed."""
        new = proposal_schema()
        del proposal_def(new)["properties"]["horizon"]
        proposal_def(new)["properties"]["confidence"] = {"type": "string"}
        proposal_def(new)["required"].append("venue")
        assert compatibility_problems(proposal_schema(), new) != []

        new["x-schema-major"] = 2

        assert compatibility_problems(proposal_schema(), new) == []

    def test_lowering_the_major_is_a_problem(self) -> None:
        """The major version never goes down."""
        old = proposal_schema()
        old["x-schema-major"] = 2

        assert compatibility_problems(old, proposal_schema()) == [
            "x-schema-major went down from 2 to 1"
        ]

    def test_a_retyped_model_field_is_caught_end_to_end(self) -> None:
        """Changing a model field's type shows up when its generated schema is compared."""
        retyped = create_model("TargetPosition", __base__=TargetPosition, priority=(str, ...))
        targets = next(topic for topic in TOPICS if topic.setting == "targets")
        changed = TopicContract(
            setting=targets.setting,
            summary=targets.summary,
            key=targets.key,
            cleanup=targets.cleanup,
            sends=(retyped,),
        )

        problems = compatibility_problems(baseline(schema_file(targets)), topic_schema(changed))

        assert problems == ["priority: type changed from integer to string"]


def dlq_schema() -> dict[str, Any]:
    return copy.deepcopy(baseline("decisions.proposed.dlq.schema.json"))


class TestOutputsMayGrow:
    def test_output_may_gain_an_always_written_field(self) -> None:
        """An output schema may add a new required property within its major version."""
        new = dlq_schema()
        new["x-direction"] = "output"
        new["properties"]["venue"] = {"type": "string"}
        new["required"].append("venue")

        assert compatibility_problems(dlq_schema(), new) == []

    def test_output_may_not_make_an_existing_optional_field_required_by_growth_rule(self) -> None:
        """The growth rule covers new fields only: an old optional field made required is reported."""
        old = dlq_schema()
        old["required"].remove("key_b64")
        new = dlq_schema()
        new["x-direction"] = "output"

        assert compatibility_problems(old, new) == ["key_b64: newly required"]

    def test_output_still_may_not_drop_a_field(self) -> None:
        """Growth does not excuse removal."""
        new = dlq_schema()
        new["x-direction"] = "output"
        del new["properties"]["error"]

        assert "error: removed" in compatibility_problems(dlq_schema(), new)

    def test_input_may_not_gain_a_required_field(self) -> None:
        """An input keeps the strict rule even when marked as an input."""
        new = proposal_schema()
        new["x-direction"] = "input"
        proposal_def(new)["properties"]["venue"] = {"type": "string"}
        proposal_def(new)["required"].append("venue")

        assert compatibility_problems(proposal_schema(), new) == [
            "ProposedDecision.venue: newly required"
        ]

    @pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
    def test_every_schema_says_its_direction(self, topic: TopicContract) -> None:
        """A topic riskgate only writes is an output; one it reads is an input."""
        expected = "input" if topic.receives else "output"

        assert topic_schema(topic)["x-direction"] == expected
