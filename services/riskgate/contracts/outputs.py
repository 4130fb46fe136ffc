"""Messages riskgate writes (docs/contracts.md, "Outputs")."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field

from riskgate.contracts.base import Count, Id, OutputMessage
from riskgate.contracts.enums import ActionType, ErrorCode, ProfileName

InputVersion = Annotated[
    int, Field(ge=-1, description="Version of the input used; -1 when absent.")
]

MAX_ERROR_CHARS = 1000
"""A DLQ reason is cut to this many characters."""


class DecisionOutput(OutputMessage):
    """The identity every target and risk action carries."""

    action_id: UUID = Field(description="uuid5 of the decision, see docs/contracts.md.")
    decision_id: Id
    portfolio_id: Id
    strategy_id: Id
    ticker: Id


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


class RiskAction(DecisionOutput):
    """The audit record of what riskgate did with a decision, on risk.actions."""

    timestamp: AwareDatetime = Field(description="Processing time (the core's now).")
    action_type: ActionType
    reason_codes: tuple[Id, ...] = Field(description="Stable codes of every binding verdict.")
    risk_reasoning_summary: str
    proposed_position: float
    approved_position: float
    max_passing_position: float | None = Field(
        description="Largest size that would have passed; null when nothing was cut."
    )
    details_json: dict[str, Any] = Field(
        description="Every verdict, the market values used and the limits in force."
    )
    config_version: InputVersion
    snapshot_version: InputVersion
    market_version: InputVersion
    emergency_version: InputVersion
    profile: ProfileName = Field(description="The profile in force.")
    source_partition: Count = Field(description="Partition the decision was read from.")
    source_offset: Count = Field(description="Offset the decision was read at.")

    free_form_fields = ("details_json",)


class DeadLetter(OutputMessage):
    """The envelope of a record that can never be processed, on decisions.proposed.dlq."""

    error_code: ErrorCode
    error: str = Field(
        max_length=MAX_ERROR_CHARS, description="A readable reason naming the field."
    )
    source_topic: Id
    partition: Count
    offset: Count
    key_b64: str | None = Field(description="The raw key, base64; null when there was none.")
    value_b64: str | None = Field(description="The raw value, base64; null when there was none.")
    received_at: AwareDatetime = Field(description="Processing time.")

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
    ) -> DeadLetter:
        """Build the envelope from a refused record's raw bytes and its ``PoisonMessage``."""
        return cls(
            error_code=ErrorCode(code),
            error=reason[:MAX_ERROR_CHARS],
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key_b64=_b64(key),
            value_b64=_b64(value),
            received_at=received_at,
        )


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")
