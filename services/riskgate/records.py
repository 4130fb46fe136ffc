"""Plain record values passed between the Kafka shell, the handler and the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InRecord:
    """One consumed record, as the handler sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to publish inside a batch's transaction."""

    topic: str
    key: bytes | None
    value: bytes
