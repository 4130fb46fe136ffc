"""Request and response bodies of the control routes (seed 003's and the other writes).

Every write body carries a ``reason`` (recorded with the change) and is strict: unknown
fields, strings for numbers and a malformed scope are a 422 before the writer is called.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from riskgate.contracts.base import Id
from riskgate.contracts.enums import ProfileName, TradingState
from riskgate.control.model import parse_scope

Reason = Annotated[str, Field(min_length=3, max_length=1000,
                                description="Why; recorded with the change.")]
IfVersion = Annotated[int | None, Field(ge=-1, description="Refuse (409) unless the scope's "
                                        "current config version is this one (-1: never written).")]
SCOPE_DOC = "`global`, `strategy:ID` or `portfolio:ID`."


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ScopedWrite(_Write):
    scope: str = Field("global", max_length=140, description=SCOPE_DOC)
    reason: Reason
    if_version: IfVersion = None

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        parse_scope(value)
        return value


class RiskModeRequest(_ScopedWrite):
    """Seed 003's POST /api/v2/policy/risk-mode: switch a scope's base profile."""

    profile: ProfileName


class ActiveProfileRequest(_Write):
    """PUT /v1/profiles/active: switch the global profile (as risk-mode with scope global)."""

    profile: ProfileName
    reason: Reason
    if_version: IfVersion = None


class TradingStateRequest(_ScopedWrite):
    """Set a scope's trading state; HALTED on global is the kill switch."""

    state: TradingState


class HaltRequest(_Write):
    """The kill switch: global HALTED."""

    reason: Reason
    if_version: IfVersion = None


class RearmRequest(_Write):
    """Leave EMERGENCY for the named black-swan event, once its level is below EMERGENCY."""

    event_id: Id
    reason: Reason


class LimitsRequest(_ScopedWrite):
    """Merge ``limits`` into the scope's overlay (null: no cap); ``unset`` inherits again."""

    limits: dict[str, Any] = Field(default_factory=dict, max_length=200)
    unset: list[str] = Field(default_factory=list, max_length=200)


class WriteResponse(BaseModel):
    """What the writer did: published (with the version) or proposed for a second admin."""

    change_id: str
    status: Literal["published", "proposed"]
    version: int | None = Field(None, description="The published record's config version.")
    applied: bool = Field(description="wait=true saw at least one live worker, and every live "
                                      "worker, report the version applied.")
    applied_by: list[str] = Field(default_factory=list, description="After a wait.")
    not_applied_by: list[str] = Field(default_factory=list,
                                      description="Live workers that had not applied it in time.")
    previous: dict[str, Any] = Field(default_factory=dict, description="The scope before.")
    new: dict[str, Any] = Field(default_factory=dict, description="The scope after.")
    diff: list[str] = Field(default_factory=list, description="'name: old -> new' per part.")
    expires_at: datetime | None = Field(None, description="A proposal's expiry.")
    message: str


class ScopeView(BaseModel):
    """One configured scope as the live config has it (as `riskgate config show`)."""

    scope: str
    version: int = Field(description="The last applied record's version: the if_version to "
                                     "send for a change to this scope.")
    profile: str | None = Field(description="None: inherits (global: NORMAL).")
    trading_state: str
    limits: dict[str, Any] = Field(description="The scope's overlay; absent limits inherit.")


class EffectiveProfile(BaseModel):
    """The profile and limits a portfolio's (and strategy's) decisions are assessed with."""

    portfolio_id: str
    strategy_id: str
    profile: str
    limits: dict[str, Any] = Field(description="Before the emergency and regime tightening.")


class RiskProfileResponse(BaseModel):
    """Seed 003's GET /api/v2/policy/risk-profile: the active profile per scope."""

    config_version: int
    default_profile: str = Field(description="Where no scope names one.")
    global_profile: str
    emergency_level: str = Field(description="In force: EMERGENCY until re-armed.")
    rearmed_events: list[str] = Field(description="Black swan events re-armed on risk.config.")
    scopes: list[ScopeView]
    effective: EffectiveProfile | None = None


class RiskMode(BaseModel):
    """One base profile (seed 003) and its limits."""

    name: str
    description: str
    active_globally: bool
    limits: dict[str, Any]


class RiskModesResponse(BaseModel):
    """Seed 003's GET /api/v2/policy/risk-modes."""

    global_profile: str
    modes: list[RiskMode]
