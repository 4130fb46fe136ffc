"""Contract versions, one per topic: the one place that says which "MAJOR.MINOR" each topic
speaks. A breaking change bumps the major of its topic alone (docs/contracts.md, "How the
contracts may change"), so the inputs keep reading 1.x while ``risk.actions`` writes 2.0."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """The major a topic's readers accept and the minor its writers write."""

    major: int
    minor: int = 0

    @property
    def text(self) -> str:
        """``"MAJOR.MINOR"``, as written in ``schema_version``."""
        return f"{self.major}.{self.minor}"

    @property
    def pattern(self) -> str:
        """Any minor of this major: what a message's ``schema_version`` must match."""
        return rf"^{self.major}\.(0|[1-9][0-9]*)$"


V1 = ContractVersion(1, 0)

TOPIC_VERSIONS: dict[str, ContractVersion] = {
    "proposed": V1,
    "black_swan": V1,
    "snapshots": V1,
    "market": V1,
    "config": V1,
    "targets": V1,
    "actions": ContractVersion(2, 0),  # 2.0: the compact audit record (docs/contracts.md)
    "dlq": V1,
    "shadow": V1,
    "override_stats": V1,
}
"""Each topic's version, keyed by its ``riskgate.settings.Topics`` attribute."""

ACTIONS_VERSION = TOPIC_VERSIONS["actions"]
TARGETS_VERSION = TOPIC_VERSIONS["targets"]

SCHEMA_MAJOR = V1.major
"""The major of every topic still at 1 (all but ``risk.actions``): the inputs, targets, DLQ,
shadow and override statistics."""

SCHEMA_MINOR = V1.minor

SCHEMA_VERSION = V1.text

VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
"""Any well-formed ``"MAJOR.MINOR"``."""

SUPPORTED_VERSION_PATTERN = V1.pattern
"""A version of major 1; what every input's ``schema_version`` must match."""

_VERSION = re.compile(VERSION_PATTERN)


def parse_version(text: object) -> tuple[int, int] | None:
    """Return ``(major, minor)`` of a well-formed ``"MAJOR.MINOR"`` string, else None."""
    if not isinstance(text, str) or not _VERSION.match(text):
        return None
    major, minor = text.split(".")
    return int(major), int(minor)
