"""The committed files in schemas/ against the models: drift, the AsyncAPI document, and the
examples held to both the models and the schemas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from riskgate.contracts import export
from riskgate.contracts.examples import EXAMPLES
from riskgate.contracts.topics import TOPICS
from riskgate.contracts.versions import TOPIC_VERSIONS
from riskgate.settings import Topics

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def committed(name: str) -> Any:
    text = (SCHEMAS / name).read_text(encoding="utf-8")
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def validator_for(topic_file: str) -> jsonschema.Draft202012Validator:
    schema = committed(topic_file)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class TestDrift:
    def test_committed_schemas_match_the_models(self) -> None:
        """Regenerating from the models gives exactly the committed files (run make schemas)."""
        assert export.differences(SCHEMAS) == []

    def test_check_fails_and_names_a_changed_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--check`` exits 1 and lists the file when a committed schema was edited."""
        shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
        path = tmp_path / "risk.targets.schema.json"
        path.write_text(path.read_text().replace('"priority"', '"urgency"'))

        assert export.main(["--check", "--out", str(tmp_path)]) == 1
        assert "differs: risk.targets.schema.json" in capsys.readouterr().out

    def test_check_reports_missing_and_stale_files(self, tmp_path: Path) -> None:
        """A missing schema and one no topic generates are both reported."""
        shutil.copytree(SCHEMAS, tmp_path, dirs_exist_ok=True)
        (tmp_path / "market.metrics.schema.json").unlink()
        (tmp_path / "old.topic.schema.json").write_text("{}\n")

        found = export.differences(tmp_path)

        assert "missing: market.metrics.schema.json" in found
        assert any(line.startswith("stale: old.topic.schema.json") for line in found)

    def test_write_then_check_passes(self, tmp_path: Path) -> None:
        """Writing into an empty directory produces files that then pass ``--check``."""
        assert export.main(["--out", str(tmp_path)]) == 0
        assert export.main(["--check", "--out", str(tmp_path)]) == 0

    def test_output_is_deterministic_sorted_and_newline_terminated(self) -> None:
        """Two renders are identical; JSON has sorted keys and every file ends in a newline."""
        first, second = export.render_all(), export.render_all()

        assert first == second
        for name, text in first.items():
            assert text.endswith("\n")
            if name.endswith(".json"):
                assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"

    def test_one_schema_file_per_topic(self) -> None:
        """There is a schema file for every topic in the settings, named after its default name."""
        names = {f"{address}.schema.json" for address in Topics().model_dump().values()}

        assert names == {export.schema_file(topic) for topic in TOPICS}
        assert names | {"asyncapi.yaml"} == {path.name for path in SCHEMAS.iterdir() if path.is_file()}

    def test_schemas_declare_their_major(self) -> None:
        """Every schema file carries its own topic's x-schema-major and x-schema-version."""
        for topic in TOPICS:
            schema = committed(export.schema_file(topic))
            version = TOPIC_VERSIONS[topic.setting]
            assert (schema["x-schema-major"], schema["x-schema-version"]) == (
                version.major, version.text)

    def test_asyncapi_messages_say_their_topic_version(self) -> None:
        """Each AsyncAPI message carries its topic's version; the document the highest."""
        doc = committed("asyncapi.yaml")
        messages = doc["components"]["messages"]

        assert messages["RiskAction"]["x-schema-version"] == "2.0"
        assert messages["TargetPosition"]["x-schema-version"] == "1.0"
        assert messages["ProposedDecision"]["x-schema-version"] == "1.0"
        assert doc["info"]["version"] == "2.0"

    def test_proposed_topic_is_one_of_two_kinds(self) -> None:
        """decisions.proposed is a oneOf of a proposal and a forced de-risk command."""
        schema = committed("decisions.proposed.schema.json")

        assert schema["oneOf"] == [
            {"$ref": "#/$defs/ProposedDecision"},
            {"$ref": "#/$defs/ForcedDeriskCommand"},
        ]


class TestAsyncApi:
    def test_document_is_asyncapi_3(self) -> None:
        """The document declares AsyncAPI 3.0.0 and one channel per topic at its default name."""
        document = committed("asyncapi.yaml")

        assert document["asyncapi"] == "3.0.0"
        addresses = {channel["address"] for channel in document["channels"].values()}
        assert addresses == set(Topics().model_dump().values())

    def test_every_reference_resolves(self) -> None:
        """Every $ref, inside the document or into a schema file, points at something."""
        document = committed("asyncapi.yaml")
        for ref in _refs(document):
            file_part, _, pointer = ref.partition("#")
            root = committed(file_part.removeprefix("./")) if file_part else document
            assert _follow(root, pointer) is not None, ref

    def test_operations_receive_inputs_and_send_outputs(self) -> None:
        """riskgate receives the five input topics and sends targets, actions, DLQ, shadow
        records, override statistics and commands."""
        document = committed("asyncapi.yaml")
        by_action: dict[str, set[str]] = {"receive": set(), "send": set()}
        for operation in document["operations"].values():
            channel = _follow(document, operation["channel"]["$ref"].removeprefix("#"))
            by_action[operation["action"]].add(channel["address"])

        assert by_action["receive"] == {
            "decisions.proposed",
            "risk.black_swan_state",
            "portfolio.snapshots",
            "market.metrics",
            "risk.config",
        }
        assert by_action["send"] == {
            "decisions.proposed",
            "risk.targets",
            "risk.actions",
            "decisions.proposed.dlq",
            "risk.shadow",
            "risk.override_stats",
        }

    def test_every_message_declares_its_key(self) -> None:
        """Each message has a Kafka binding with a key schema."""
        for name, message in committed("asyncapi.yaml")["components"]["messages"].items():
            assert message["bindings"]["kafka"]["key"]["type"] == "string", name


class TestExamples:
    @pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
    def test_examples_satisfy_model_and_schema(self, topic: Any) -> None:
        """Each example decodes with its model and validates against the committed schema."""
        validator = validator_for(export.schema_file(topic))
        for model in topic.messages:
            example = EXAMPLES[model.__name__]
            model.model_validate_json(json.dumps(example))
            validator.validate(example)

    @pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.address)
    def test_encoded_models_satisfy_the_schema(self, topic: Any) -> None:
        """What encode writes for every message validates against its topic's schema."""
        from riskgate.contracts import encode

        validator = validator_for(export.schema_file(topic))
        for model in topic.messages:
            validator.validate(
                json.loads(encode(model.model_validate_json(json.dumps(EXAMPLES[model.__name__]))))
            )

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("target_quantity", "150"),
            ("confidence", 2),
            ("ticker", "A B"),
            ("schema_version", "2.0"),
            ("decision_id", None),
        ],
    )
    def test_schema_refuses_what_the_model_refuses(self, field: str, value: Any) -> None:
        """The proposal schema and the model agree on a few refusals."""
        body = dict(EXAMPLES["ProposedDecision"], **{field: value})

        assert not validator_for("decisions.proposed.schema.json").is_valid(body)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _follow(root: Any, pointer: str) -> Any:
    node = root
    for part in filter(None, pointer.split("/")):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
