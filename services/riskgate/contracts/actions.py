"""The risk action, ``risk.actions`` 2.0: the compact audit record (docs/contracts.md).

It carries what decided the outcome, not the whole trace: the binding verdicts with their
numbers, the market values used for the traded ticker, the limits by reference (the config
version and a digest; the limits themselves live once, in the config history) and the build
identity. ``riskgate audit why`` rebuilds the full per-constraint trace by replaying the
decision from its stored witness.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, ConfigDict, Field

from riskgate.contracts.base import (
    Count,
    DecisionOutput,
    InputVersion,
    Positive,
    WireModel,
    schema_version_type,
)
from riskgate.contracts.enums import ActionType, ProfileName, ReasonCode, Regime
from riskgate.contracts.versions import ACTIONS_VERSION, ContractVersion

Number = float | None
"""A verdict's number in the constraint's own unit; null when the check has none."""


class _Part(WireModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class BindingVerdict(_Part):
    """One verdict that decided the outcome: it capped, scaled or rejected the target, or it
    passed while adjusting it (lot rounding)."""

    verdict: ActionType = Field(description="OK (an adjustment), CAPPED, SCALED_DOWN or REJECTED.")
    reason: ReasonCode = Field(description="The stable code of the check (it names the limit).")
    limit: Number = Field(description="The limit in force.")
    value: Number = Field(description="The value the constraint measured.")
    headroom: Number = Field(description="How far the value is from binding; negative beyond.")
    bound: Number = Field(description="The target quantity the constraint allowed.")


class MarketUsed(_Part):
    """The market values the decision used for its ticker (version: ``market_version``)."""

    price: Positive
    adv: float | None = Field(description="Average daily volume, instrument units.")
    spread_bps: float
    atr: float | None
    volatility: float | None
    tick_size: float
    lot_size: float
    multiplier: float
    fx_to_base: float
    currency: str
    sector: str
    country: str
    cluster: str
    factors: dict[str, float] = Field(description="Factor loadings by factor name.")
    regime: Regime | None
    as_of: AwareDatetime = Field(description="The market record's as_of.")


class BuildIdentity(_Part):
    """Which riskgate decided: its version and a fingerprint of the pure core."""

    version: str = Field(min_length=1, max_length=64)
    core: str = Field(min_length=1, max_length=64)


class ActionDetails(_Part):
    """What decided the action; the full trace is ``riskgate audit why``'s."""

    verdicts: tuple[BindingVerdict, ...] = Field(
        description="The binding verdicts in chain order: those that capped, scaled or "
        "rejected, and those that passed while adjusting the target (lot rounding). Empty for "
        "an OK within all limits and for a decision answered without the chain."
    )
    market: MarketUsed | None = Field(description="Null when the ticker had no market data.")
    limits_digest: str | None = Field(
        pattern=r"^[0-9a-f]{16}$",
        description="Digest of the effective limits of config_version for this portfolio and "
        "strategy (the witness's); the worker always writes it, a library caller without a "
        "config book may not.",
    )
    current_position: float = Field(description="The projected position before the decision.")
    note: str | None = Field(description="Why the inputs were unusable (stale, invalid), if so.")
    build: BuildIdentity


class RiskAction(DecisionOutput):
    """The audit record of what riskgate did with a decision, on risk.actions."""

    contract_version: ClassVar[ContractVersion] = ACTIONS_VERSION
    schema_version: schema_version_type(ACTIONS_VERSION) = ACTIONS_VERSION.text  # type: ignore[valid-type]

    timestamp: AwareDatetime = Field(description="Processing time (the core's now).")
    action_type: ActionType
    reason_codes: tuple[ReasonCode, ...] = Field(description="Codes of every binding verdict.")
    risk_reasoning_summary: str
    proposed_position: float
    approved_position: float
    max_passing_position: float | None = Field(
        description="Largest size that would have passed; null when nothing was cut."
    )
    details: ActionDetails
    config_version: InputVersion
    snapshot_version: InputVersion
    market_version: InputVersion
    emergency_version: InputVersion
    profile: ProfileName = Field(description="The profile in force.")
    source_partition: Count = Field(description="Partition the decision was read from.")
    source_offset: Count = Field(description="Offset the decision was read at.")
