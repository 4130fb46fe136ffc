"""Write the topic contracts to ``schemas/``: one JSON Schema per topic and an AsyncAPI 3.0
document. ``python -m riskgate.contracts.export --check`` exits 1 when the files and the models
differ; ``--compat REF`` lists breaking changes against the files committed at git ``REF``."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from riskgate.contracts.base import OutputMessage
from riskgate.contracts.evolution import (
    DIRECTION_KEY,
    MAJOR_KEY,
    compatibility_problems,
    read_baseline,
)
from riskgate.contracts.examples import EXAMPLES
from riskgate.contracts.topics import TOPICS, TopicContract
from riskgate.contracts.versions import TOPIC_VERSIONS, ContractVersion

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.yaml"
SCHEMA_SUFFIX = ".schema.json"
KAFKA_BINDING_VERSION = "0.5.0"
REF_TEMPLATE = "#/$defs/{model}"

_CONVENTIONS = (
    'Every record value is one UTF-8 JSON object carrying schema_version ("MAJOR.MINOR"); each '
    "topic has its own version (x-schema-version on each message), and info.version is the "
    "highest of them. "
    "Timestamps are RFC 3339 with an offset; numbers are JSON numbers, never strings, NaN or "
    "Infinity; ids are non-empty, at most 128 characters, without whitespace. Within a supported "
    "major version unknown fields are ignored and counted; an unsupported major, like any record "
    "riskgate cannot read, goes to decisions.proposed.dlq. The contract is docs/contracts.md."
)


def schema_file(topic: TopicContract) -> str:
    """The file name of a topic's JSON Schema, e.g. ``risk.targets.schema.json``."""
    return f"{topic.address}{SCHEMA_SUFFIX}"


def topic_version(topic: TopicContract) -> ContractVersion:
    """The topic's own version (contracts/versions.py), which each of its models speaks."""
    version = TOPIC_VERSIONS[topic.setting]
    wrong = [m.__name__ for m in topic.messages
             if getattr(m, "contract_version", version) != version]
    if wrong:
        raise ValueError(f"{topic.address} is at {version.text}; {', '.join(wrong)} is not")
    return version


def document_version() -> str:
    """The AsyncAPI document's version: the highest topic version."""
    return max(TOPIC_VERSIONS.values(), key=lambda v: (v.major, v.minor)).text


def topic_schema(topic: TopicContract) -> dict[str, Any]:
    """The JSON Schema of every value on a topic; a ``oneOf`` when it carries several kinds."""
    output = all(issubclass(m, OutputMessage) for m in topic.messages)
    mode: JsonSchemaMode = "serialization" if output else "validation"
    if len(topic.messages) == 1:
        body = topic.messages[0].model_json_schema(mode=mode, ref_template=REF_TEMPLATE)
    else:
        _, defs = models_json_schema(
            [(model, mode) for model in topic.messages], ref_template=REF_TEMPLATE
        )
        body = {"oneOf": [{"$ref": REF_TEMPLATE.format(model=m.__name__)} for m in topic.messages]}
        body.update(defs)
    return {
        "$schema": SCHEMA_DIALECT,
        **body,
        "title": topic.address,
        "description": topic.summary,
        "x-topic": topic.address,
        "x-key": topic.key,
        MAJOR_KEY: topic_version(topic).major,
        DIRECTION_KEY: "output" if output else "input",
        "x-schema-version": topic_version(topic).text,
    }


def _payload_ref(topic: TopicContract, model: type[BaseModel]) -> str:
    if len(topic.messages) == 1:
        return f"./{schema_file(topic)}"
    return f"./{schema_file(topic)}#/$defs/{model.__name__}"


def _channel_id(topic: TopicContract) -> str:
    words = topic.address.replace("_", ".").split(".")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _message(topic: TopicContract, model: type[BaseModel]) -> dict[str, Any]:
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {"$ref": _payload_ref(topic, model)},
        "bindings": {"kafka": {"key": topic.key, "bindingVersion": KAFKA_BINDING_VERSION}},
        "examples": [{"name": "example", "payload": EXAMPLES[model.__name__]}],
        "x-schema-version": topic_version(topic).text,
    }


def _operation(action: str, channel: str, models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in models],
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of riskgate: a channel per topic, riskgate's operations."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        channel = _channel_id(topic)
        channels[channel] = {
            "address": topic.address,
            "title": topic.address,
            "description": topic.summary,
            "messages": {
                m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in topic.messages
            },
            "bindings": {
                "kafka": {
                    "topic": topic.address,
                    "topicConfiguration": {"cleanup.policy": [topic.cleanup]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        name = channel[0].upper() + channel[1:]
        if topic.receives:
            operations[f"receive{name}"] = _operation("receive", channel, topic.receives)
        if topic.sends:
            operations[f"send{name}"] = _operation("send", channel, topic.sends)
        messages.update({m.__name__: _message(topic, m) for m in topic.messages})
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "riskgate", "version": document_version(), "description": _CONVENTIONS},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render_all() -> dict[str, str]:
    """Every generated file's name and exact text."""
    files = {
        schema_file(topic): json.dumps(topic_schema(topic), indent=2, sort_keys=True) + "\n"
        for topic in TOPICS
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(
        asyncapi_document(), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def differences(out_dir: Path) -> list[str]:
    """How the files in ``out_dir`` differ from what the models generate; empty when equal."""
    rendered = render_all()
    found: list[str] = []
    for name, text in rendered.items():
        path = out_dir / name
        if not path.is_file():
            found.append(f"missing: {name}")
            continue
        current = path.read_text(encoding="utf-8")
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(),
                text.splitlines(),
                f"{name} (committed)",
                f"{name} (models)",
                lineterm="",
                n=1,
            )
            found.append(f"differs: {name}\n" + "\n".join(list(diff)[:40]))
    for path in sorted(out_dir.glob(f"*{SCHEMA_SUFFIX}")):
        if path.name not in rendered:
            found.append(f"stale: {path.name} (no topic generates it)")
    return found


def write(out_dir: Path) -> list[str]:
    """Write the generated files into ``out_dir``, remove stale schemas, return what changed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    rendered = render_all()
    for name, text in rendered.items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    for path in sorted(out_dir.glob(f"*{SCHEMA_SUFFIX}")):
        if path.name not in rendered:
            path.unlink()
            changed.append(path.name)
    return changed


def breaking_changes(out_dir: Path, ref: str | None) -> tuple[list[str], int]:
    """Breaking changes of the models' schemas against the baseline at git ``ref`` (or on disk),
    and how many schema files had a baseline to compare with."""
    found: list[str] = []
    compared = 0
    for topic in TOPICS:
        baseline = read_baseline(out_dir, schema_file(topic), ref)
        if baseline is not None:
            compared += 1
            problems = compatibility_problems(baseline, topic_schema(topic))
            found.extend(f"{schema_file(topic)}: {problem}" for problem in problems)
    return found, compared


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m riskgate.contracts.export``."""
    parser = argparse.ArgumentParser(
        prog="python -m riskgate.contracts.export", description=__doc__
    )
    parser.add_argument("--out", type=Path, default=Path("schemas"), help="default: ./schemas")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are out of date")
    parser.add_argument("--compat", metavar="REF", help="exit 1 on breaking changes since git REF")
    args = parser.parse_args(argv)
    if args.compat:
        problems, compared = breaking_changes(args.out, args.compat)
        print(f"compared {compared} of {len(TOPICS)} topic schemas with {args.compat}")
        print("\n".join(problems) or "no breaking changes")
        return 1 if problems else 0
    if args.check:
        found = differences(args.out)
        print("\n".join(found) or f"{args.out} is up to date")
        return 1 if found else 0
    changed = write(args.out)
    print("\n".join(f"wrote {args.out / name}" for name in changed) or f"{args.out} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
