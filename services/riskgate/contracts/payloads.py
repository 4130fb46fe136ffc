"""The plain-dict shapes the worker builds for every decision, typed after the output models.

Building a pydantic model per decision costs more than the decision's chain, so the hot path
builds these dicts and orjson encodes them. A test checks, key for key, that each one names
exactly its model's fields, and that what the handler builds validates against the models
(tests/service/test_action_records.py, TestThePayloadShapes).
"""

from __future__ import annotations

from typing import TypedDict


class VerdictPayload(TypedDict):
    """``riskgate.contracts.actions.BindingVerdict``."""

    verdict: str
    reason: str
    limit: float | None
    value: float | None
    headroom: float | None
    bound: float | None


class MarketPayload(TypedDict):
    """``riskgate.contracts.actions.MarketUsed``."""

    price: float
    adv: float | None
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
    factors: dict[str, float]
    regime: str | None
    as_of: str


class BuildPayload(TypedDict):
    """``riskgate.contracts.actions.BuildIdentity``."""

    version: str
    core: str


class DetailsPayload(TypedDict):
    """``riskgate.contracts.actions.ActionDetails``."""

    verdicts: list[VerdictPayload]
    market: MarketPayload | None
    limits_digest: str | None
    current_position: float
    note: str | None
    build: BuildPayload


class _Identity(TypedDict):
    schema_version: str
    action_id: str
    decision_id: str
    portfolio_id: str
    strategy_id: str
    ticker: str
    timestamp: str


class ActionPayload(_Identity):
    """``riskgate.contracts.actions.RiskAction`` (risk.actions)."""

    action_type: str
    reason_codes: list[str]
    risk_reasoning_summary: str
    proposed_position: float
    approved_position: float
    max_passing_position: float | None
    details: DetailsPayload
    config_version: int
    snapshot_version: int
    market_version: int
    emergency_version: int
    profile: str
    source_partition: int
    source_offset: int


class TargetPayload(_Identity):
    """``riskgate.contracts.outputs.TargetPosition`` (risk.targets)."""

    target_position: float
    delta_position: float
    target_notional: float
    target_weight: float
    priority: int
    action_type: str
    risk_reasoning_summary: str
    decision_created_at: str
