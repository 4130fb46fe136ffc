"""Messages riskgate writes (docs/contracts.md, "Outputs")."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field
from pydantic_core import PydanticCustomError

from riskgate.contracts.actions import RiskAction  # re-exported: outputs holds every output
from riskgate.contracts.base import (
    Count,
    DecisionOutput,
    Id,
    InputVersion,
    OutputMessage,
    WireModel,
)
from riskgate.contracts.enums import ActionType, ErrorCode, ProfileName

__all__ = ["DLQ_KEY_MAX_BYTES", "MAX_ERROR_CHARS", "SHADOW_COMPARED", "DeadLetter",
           "DecisionOutput", "OverrideCount", "OverrideStats", "RiskAction", "ShadowOutcome",
           "ShadowRecord", "TargetPosition", "dlq_key"]

MAX_ERROR_CHARS = 1000
"""A DLQ reason is cut to this many characters."""


class TargetPosition(DecisionOutput):
    """The final target position for one ticker, on risk.targets."""

    target_position: float = Field(description="Final target quantity after risk.")
    delta_position: float = Field(description="target_position minus the projected position.")
    target_notional: float = Field(description="Notional of the target, base currency.")
    target_weight: float = Field(description="Notional of the target over equity.")
    priority: Count = Field(
        description="0 forced de-risk, 1 other de-risking, 2 risk-increasing; lower goes first."
    )
    action_type: ActionType
    risk_reasoning_summary: str = Field(description="One readable line.")
    timestamp: AwareDatetime = Field(description="Processing time.")
    decision_created_at: AwareDatetime = Field(description="The decision's created_at.")


ComparedField = Literal["action_type", "reason_codes", "target_position", "delta_position",
                        "target_notional", "max_passing_position"]
SHADOW_COMPARED: tuple[str, ...] = get_args(ComparedField)
"""The outcome fields a shadow record compares, in order; ``differs`` names the unequal ones."""


class ShadowOutcome(WireModel):
    """One side of a shadow record: what a config decided for the decision."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    action_type: ActionType
    reason_codes: tuple[Id, ...] = Field(description="Stable codes of every binding verdict.")
    target_position: float = Field(description="Target quantity under this config.")
    delta_position: float = Field(description="target_position minus the projected position.")
    target_notional: float = Field(description="Notional of the target, base currency.")
    target_weight: float = Field(description="Notional of the target over equity.")
    max_passing_position: float | None = Field(
        description="Largest size that would have passed; null when nothing was cut."
    )
    profile: ProfileName = Field(description="The profile this config puts in force.")


class ShadowRecord(OutputMessage):
    """The live and the candidate outcome of one decision, on risk.shadow (never applied)."""

    action_id: UUID = Field(description="The live risk action's action_id.")
    decision_id: Id
    portfolio_id: Id
    strategy_id: Id
    ticker: Id
    candidate: str = Field(
        min_length=1, max_length=256, description="The candidate's name: a profile or a file name."
    )
    config_version: InputVersion = Field(
        description="The live config version the candidate was applied on top of."
    )
    live: ShadowOutcome = Field(description="What the live config decided (and published).")
    shadow: ShadowOutcome = Field(description="What the candidate config would have decided.")
    differs: tuple[ComparedField, ...] = Field(
        description="The compared outcome fields that differ, in a fixed order (action_type, "
        "reason_codes, target_position, delta_position, target_notional, max_passing_position); "
        "empty when the two agree."
    )
    timestamp: AwareDatetime = Field(description="Processing time.")
    source_partition: Count = Field(description="Partition the decision was read from.")
    source_offset: Count = Field(description="Offset the decision was read at.")


class OverrideCount(WireModel):
    """How many of a window's actions of one type carried one reason code."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    action_type: ActionType = Field(description="Any action type but OK.")
    reason_code: Id | None = Field(
        description="A stable reason code; null for the actions that carried none."
    )
    count: int = Field(ge=1, description="Actions of this type that carried this code.")


WINDOW_MAX_S = 86_400
"""The longest override-statistics window: one UTC day."""


class OverrideStats(OutputMessage):
    """One strategy's risk actions counted in one tumbling UTC window, on risk.override_stats.

    Emitted when the window closes (``revision`` 0) and again, with the next revision, whenever a
    late action changes its counts within the grace period. The highest revision of a
    ``window_id`` is the answer; ``(window_id, revision)`` is never written twice.
    """

    window_id: UUID = Field(
        description="uuid5 of the strategy, window size and window start (docs/contracts.md)."
    )
    revision: Count = Field(description="0 when the window closes; each correction adds 1.")
    strategy_id: Id
    window_size_s: int = Field(ge=1, le=WINDOW_MAX_S, description="Window length in seconds.")
    window_start: AwareDatetime = Field(description="Inclusive, UTC, a multiple of the size.")
    window_end: AwareDatetime = Field(description="Exclusive: window_start + window_size_s.")
    decisions: Count = Field(description="Actions in the window, DUPLICATE excepted.")
    overridden: Count = Field(description="Actions in the window neither OK nor DUPLICATE.")
    counts: tuple[OverrideCount, ...] = Field(
        description="Per action type (OK excepted) and reason code, ordered by both; an action "
        "with several codes counts once under each."
    )
    corrections_until: AwareDatetime = Field(
        description="window_end + the grace period: actions written to risk.actions after this "
        "never change the window."
    )
    timestamp: AwareDatetime = Field(description="Processing time: when this revision was made.")

    def _check(self) -> None:
        if (self.window_end - self.window_start).total_seconds() != self.window_size_s:
            raise PydanticCustomError(
                "window_bounds", "window_end: must be window_start + window_size_s", {})
        if self.overridden > self.decisions:
            raise PydanticCustomError(
                "override_count", "overridden: cannot exceed decisions", {})


DLQ_KEY_MAX_BYTES = 1024
"""A dead letter's Kafka key and ``key_b64`` keep at most this many bytes of the original key."""


class DeadLetter(OutputMessage):
    """The envelope of a record that can never be processed, on decisions.proposed.dlq.

    It always fits its topic: when the raw value would make it too large, ``value_b64`` holds only
    a prefix and ``value_truncated`` says so. The full bytes are kept in PostgreSQL
    (``dead_letters.value``), and ``value_sha256`` identifies them.
    """

    error_code: ErrorCode
    error: str = Field(
        max_length=MAX_ERROR_CHARS, description="A readable reason naming the field."
    )
    source_topic: Id
    partition: Count
    offset: Count
    key_b64: str | None = Field(
        description="The raw key, base64 (its first 1024 bytes); null when there was none."
    )
    value_b64: str | None = Field(
        description="The raw value, base64, or a prefix of it when value_truncated; null when "
        "there was none."
    )
    received_at: AwareDatetime = Field(description="Processing time.")
    key_truncated: bool = Field(
        default=False, description="True when key_b64 holds only the key's first 1024 bytes."
    )
    value_truncated: bool = Field(
        default=False,
        description="True when value_b64 holds only a prefix, so that the envelope fits the "
        "topic; the full value is kept in PostgreSQL.",
    )
    value_length: Count | None = Field(
        default=None, description="Length of the full raw value in bytes; null when there was none."
    )
    value_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the full raw value, hex; null when there was none.",
    )

    @classmethod
    def for_record(
        cls,
        *,
        code: str,
        reason: str,
        source_topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        received_at: datetime,
        max_bytes: int | None = None,
    ) -> DeadLetter:
        """The envelope of a refused record; encoded, it is at most ``max_bytes`` long.

        Only ``value_b64`` is ever cut, to a prefix of whole base64 quanta; every other field is
        bounded already (the error text, the key prefix).
        """
        kept_key = dlq_key(key)
        envelope = cls(
            error_code=ErrorCode(code),
            error=reason[:MAX_ERROR_CHARS],
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key_b64=_b64(kept_key),
            value_b64=_b64(value),
            received_at=received_at,
            key_truncated=kept_key is not None and len(kept_key) < len(key or b""),
            value_length=None if value is None else len(value),
            value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        )
        encoded = _encoded(envelope)
        if max_bytes is None or len(encoded) <= max_bytes or value is None:
            return envelope
        kept = len(value)
        while len(encoded) > max_bytes:
            if kept == 0:
                raise ValueError(f"a dead-letter envelope cannot fit in {max_bytes} bytes")
            excess_chars = len(encoded) - max_bytes
            kept = max(0, min(kept - 3, (len(_b64(value[:kept]) or "") - excess_chars) // 4 * 3))
            envelope = envelope.model_copy(
                update={"value_b64": _b64(value[:kept]), "value_truncated": True}
            )
            encoded = _encoded(envelope)
        return envelope


def dlq_key(key: bytes | None) -> bytes | None:
    """The Kafka key of a dead letter: the original key, cut to its first 1024 bytes."""
    return key if key is None or len(key) <= DLQ_KEY_MAX_BYTES else key[:DLQ_KEY_MAX_BYTES]


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def _encoded(message: OutputMessage) -> bytes:
    return message.__pydantic_serializer__.to_json(message)
