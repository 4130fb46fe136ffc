"""Request and response bodies of the HTTP surface, and the one place request bodies are read.

Requests reuse the topic contracts' strict rules (``riskgate.contracts.base.WireModel``): no
strings for numbers, no NaN or infinity, positive prices. Bodies are validated from the raw
JSON bytes, in pydantic's JSON mode, so RFC 3339 timestamps are accepted under strict mode.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from riskgate.contracts.base import Fraction, Id, InputPart, Positive, WireModel
from riskgate.contracts.enums import ProfileName
from riskgate.contracts.inputs import MarketMetrics, PortfolioSnapshot, ProposedDecision

#: Larger than one topic record (a what-if carries a whole portfolio and its market data).
MAX_BODY_BYTES = 1024 * 1024
MAX_MARKET_RECORDS = 10_000

M = TypeVar("M", bound=BaseModel)


# --- seed 000: POST /assess-risk -------------------------------------------------------


class SeedSignal(InputPart):
    """Seed 000's trading signal; signal_type is LONG, SHORT, CLOSE or HOLD (any case)."""

    signal_id: Id
    asset: Id
    signal_type: Literal["LONG", "SHORT", "CLOSE", "HOLD"]
    price: Positive
    confidence: Fraction

    @field_validator("signal_type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SeedPortfolioState(InputPart):
    """Seed 000's portfolio state: drawdown a fraction in [0, 1), P&L in account currency."""

    total_equity: Positive
    current_drawdown: Annotated[float, Field(ge=0, lt=1)]
    daily_pnl: float


class AssessRiskRequest(InputPart):
    """Seed 000's request body; unknown top-level fields are ignored, as on the topics."""

    signal: SeedSignal
    portfolio_state: SeedPortfolioState


class Assessment(BaseModel):
    """Seed 000's assessment fields."""

    signal_id: str
    is_approved: bool
    recommended_position_size: float
    stop_loss_price: float | None
    take_profit_price: float | None
    risk_level: str
    rejection_reason: str | None


class AssessRiskResponse(BaseModel):
    """Seed 000's response body."""

    assessment: Assessment


# --- native: POST /v1/what-if ----------------------------------------------------------


class WhatIfRequest(WireModel):
    """A proposal, the portfolio and market data as on the topics, plus optional limits."""

    model_config = ConfigDict(extra="forbid")

    decision: ProposedDecision
    portfolio: PortfolioSnapshot
    market: tuple[MarketMetrics, ...] = Field((), max_length=MAX_MARKET_RECORDS)
    profile: ProfileName | None = Field(None, description="Default: the active profile.")
    limits: dict[str, Any] | None = Field(
        None, description="Overrides by riskgate.core.limits.Limits name, over the profile."
    )

    free_form_fields = ("limits",)

    def _check(self) -> None:
        if self.decision.portfolio_id != self.portfolio.portfolio_id:
            raise PydanticCustomError(
                "value_error", "decision.portfolio_id: must equal portfolio.portfolio_id")
        tickers = [m.ticker for m in self.market]
        if len(set(tickers)) != len(tickers):
            raise PydanticCustomError(
                "value_error", "market: each ticker may appear only once")


class WhatIfResponse(BaseModel):
    """What the gate would decide; ``details`` is the audit record the worker would store."""

    decision_id: str
    portfolio_id: str
    ticker: str
    profile: str
    action_type: str
    approved: bool
    target_position: float
    delta_position: float
    target_notional: float | None
    target_weight: float | None
    priority: int
    reason_codes: list[str]
    risk_reasoning_summary: str
    max_passing_position: float | None
    details: dict[str, Any]


# --- profiles ----------------------------------------------------------------------------


class ProfileSwitch(WireModel):
    """Body of PUT /v1/profiles/active."""

    model_config = ConfigDict(extra="forbid")

    profile: ProfileName


class ProfileView(BaseModel):
    """One profile and its limits."""

    name: str
    active: bool
    limits: dict[str, Any]


class ProfilesResponse(BaseModel):
    """Every profile, and the one this API process uses."""

    active: str
    scope: Literal["api-process"] = "api-process"
    profiles: list[ProfileView]


class ActiveProfileResponse(BaseModel):
    """The active profile of this API process."""

    profile: str
    previous: str | None = None
    switched_at: float | None
    scope: Literal["api-process"] = "api-process"
    limits: dict[str, Any]


# --- reading a body ----------------------------------------------------------------------


async def read_json(request: Request, model: type[M], max_bytes: int = MAX_BODY_BYTES) -> M:
    """The request body validated as ``model``: 413 when too large, 422 when invalid."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"request body over {max_bytes} bytes")
    body = await request.body()
    if len(body) > max_bytes:
        raise HTTPException(413, f"request body over {max_bytes} bytes")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
