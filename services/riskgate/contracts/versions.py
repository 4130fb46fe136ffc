"""The contract version: the one place that says which major version riskgate speaks."""

from __future__ import annotations

import re

SCHEMA_MAJOR = 1
"""The only major ``schema_version`` this build reads and writes. Bump it for a breaking change."""

SCHEMA_MINOR = 0
"""The minor version this build writes; readers accept any minor within ``SCHEMA_MAJOR``."""

SCHEMA_VERSION = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"

VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$"
"""Any well-formed ``"MAJOR.MINOR"``."""

SUPPORTED_VERSION_PATTERN = rf"^{SCHEMA_MAJOR}\.(0|[1-9][0-9]*)$"
"""A well-formed version of the supported major; what every message's ``schema_version`` must match."""

_VERSION = re.compile(VERSION_PATTERN)


def parse_version(text: object) -> tuple[int, int] | None:
    """Return ``(major, minor)`` of a well-formed ``"MAJOR.MINOR"`` string, else None."""
    if not isinstance(text, str) or not _VERSION.match(text):
        return None
    major, minor = text.split(".")
    return int(major), int(minor)
