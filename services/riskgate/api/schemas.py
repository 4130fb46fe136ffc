"""Request and response bodies of the assessment routes (POST /assess-risk, POST /v1/what-if).

Requests reuse the topic contracts' strict rules (``riskgate.contracts.base.WireModel``): no
strings for numbers, no NaN or infinity, positive prices. Bodies are validated from the raw
JSON bytes, in pydantic's JSON mode (``riskgate.api.routing.JsonBodyRoute``), so RFC 3339
timestamps are accepted under strict mode.

The API also bounds magnitudes, which the topic contracts leave open: a finite number can
still overflow to infinity in quantity x price x multiplier x FX, or in a distance over a
tick. Every price lies in [MIN_PRICE, MAX_PRICE], every quantity within MAX_QUANTITY, every
amount of money within MAX_MONEY, every multiplier and FX rate in [MIN_RATIO, MAX_RATIO].
Then every product or ratio the core forms stays below about 1e60, far from the float
maximum of 1.8e308 (docs/core.md, "Bounds at the HTTP API"). The bounds live here, on the API's models, not on the contracts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from riskgate.contracts.base import Fraction, Id, InputPart, WireModel
from riskgate.contracts.enums import ProfileName
from riskgate.contracts.inputs import (
    MarketMetrics,
    PortfolioSnapshot,
    ProposedDecision,
    SnapshotPosition,
)

#: Larger than one topic record (a what-if carries a whole portfolio and its market data).
MAX_BODY_BYTES = 1024 * 1024
MAX_MARKET_RECORDS = 10_000

#: The price floor: one satoshi (1e-8), the smallest price step any venue quotes. Below it a
#: price is a units mistake, and an order's notional vanishes under every money cap.
MIN_PRICE = 1e-8
#: Far above any instrument's price per unit (the dearest share trades below 1e6).
MAX_PRICE = 1e9
#: Instrument units: a position, a target, a lot, a day's volume. The smallest lot is one
#: satoshi's worth of a coin.
MAX_QUANTITY = 1e12
MIN_LOT = 1e-8
#: Money in the base currency: equity, P&L. Ten times the world's yearly output.
MAX_MONEY = 1e15
#: Contract multipliers and FX rates to the base currency (both ways round).
MIN_RATIO, MAX_RATIO = 1e-8, 1e8
#: Factor loadings, in either direction.
MAX_LOADING = 1e6

Price = Annotated[float, Field(ge=MIN_PRICE, le=MAX_PRICE)]
Quantity = Annotated[float, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
Lot = Annotated[float, Field(ge=MIN_LOT, le=MAX_QUANTITY)]
Money = Annotated[float, Field(ge=MIN_PRICE, le=MAX_MONEY)]
Pnl = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)]
Ratio = Annotated[float, Field(ge=MIN_RATIO, le=MAX_RATIO)]
Loading = Annotated[float, Field(ge=-MAX_LOADING, le=MAX_LOADING)]

_PRICE = f"in [{MIN_PRICE:g}, {MAX_PRICE:g}]"
_QUANTITY = f"|x| <= {MAX_QUANTITY:g}"
_MONEY = f"in [{MIN_PRICE:g}, {MAX_MONEY:g}]"

# --- seed 000: POST /assess-risk -------------------------------------------------------


class SeedSignal(InputPart):
    """Seed 000's trading signal; signal_type is LONG, SHORT, CLOSE or HOLD (any case)."""

    signal_id: Id
    asset: Id
    signal_type: Literal["LONG", "SHORT", "CLOSE", "HOLD"]
    price: Price = Field(description=f"Price of the asset, {_PRICE}.")
    confidence: Fraction

    @field_validator("signal_type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class SeedPortfolioState(InputPart):
    """Seed 000's portfolio state: drawdown a fraction in [0, 1), P&L in account currency."""

    total_equity: Money = Field(description=f"Account equity, {_MONEY}.")
    current_drawdown: Annotated[float, Field(ge=0, lt=1)]
    daily_pnl: Pnl = Field(description=f"Today's P&L, |x| <= {MAX_MONEY:g}.")


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


class WhatIfDecision(ProposedDecision):
    """The decision as on decisions.proposed, with the API's bounds on its numbers."""

    target_quantity: Quantity | None = Field(
        None, description=f"Desired final position in instrument units, signed, {_QUANTITY}.")
    reference_price: Price | None = Field(None, description=f"The price seen, {_PRICE}.")
    stop_loss: Price | None = Field(None, description=f"Stop price, {_PRICE}.")
    take_profit: Price | None = Field(None, description=f"Take-profit price, {_PRICE}.")


class WhatIfPosition(SnapshotPosition):
    """One holding, with the API's bound on its quantity."""

    quantity: Quantity = Field(description=f"Instrument units, signed, {_QUANTITY}.")


class WhatIfPortfolio(PortfolioSnapshot):
    """The portfolio as on portfolio.snapshots, with the API's bounds on its numbers."""

    equity: Money = Field(description=f"Equity, {_MONEY}.")
    nav: Money | None = Field(None, description=f"Defaults to equity; {_MONEY}.")
    pnl_today: Pnl = Field(description=f"P&L since the trading-day boundary, |x| <= {MAX_MONEY:g}.")
    peak_equity: Money = Field(description=f"For drawdown, {_MONEY}.")
    positions: tuple[WhatIfPosition, ...]


class WhatIfMarket(MarketMetrics):
    """Market data as on market.metrics, with the API's bounds on its numbers."""

    price: Price = Field(description=f"Reference price, {_PRICE}.")
    adv: Annotated[float, Field(ge=0, le=MAX_QUANTITY)] = Field(
        description=f"Average daily volume in instrument units, at most {MAX_QUANTITY:g}.")
    atr: Price | None = Field(None, description=f"Average true range, {_PRICE}.")
    tick_size: Price = Field(0.01, description=f"Price step, {_PRICE}.")
    lot_size: Lot = Field(1.0, description=f"Instrument units, in [{MIN_LOT:g}, {MAX_QUANTITY:g}].")
    multiplier: Ratio = Field(1.0, description=f"In [{MIN_RATIO:g}, {MAX_RATIO:g}].")
    fx_to_base: Ratio = Field(1.0, description=f"In [{MIN_RATIO:g}, {MAX_RATIO:g}].")
    factors: dict[str, Loading] = Field(
        default_factory=dict, description=f"Factor loadings, |x| <= {MAX_LOADING:g}.")


class WhatIfRequest(WireModel):
    """A proposal, and either the portfolio and market data as on the topics, or the
    ``portfolio_id`` of a live portfolio; optionally a profile and limits to try instead."""

    model_config = ConfigDict(extra="forbid")

    decision: WhatIfDecision
    portfolio: WhatIfPortfolio | None = Field(
        None, description="The book to assess against; not with portfolio_id.")
    portfolio_id: Id | None = Field(
        None, description="Assess against this portfolio's live projected state (PostgreSQL), "
                          "the live market data and the live limits; not with portfolio.")
    market: tuple[WhatIfMarket, ...] = Field(
        (), max_length=MAX_MARKET_RECORDS, description="With portfolio only.")
    profile: ProfileName | None = Field(None, description="Default: the live config's.")
    limits: dict[str, Any] | None = Field(
        None, description="Overrides by riskgate.core.limits.Limits name, over the profile."
    )

    free_form_fields = ("limits",)

    def _check(self) -> None:
        if (self.portfolio is None) == (self.portfolio_id is None):
            raise PydanticCustomError(
                "value_error", "portfolio, portfolio_id: give exactly one of them")
        if self.portfolio_id is not None and self.market:
            raise PydanticCustomError(
                "value_error", "market: not with portfolio_id (the live market data is used)")
        book = self.portfolio_id or (self.portfolio.portfolio_id if self.portfolio else None)
        if self.decision.portfolio_id != book:
            raise PydanticCustomError(
                "value_error", "decision.portfolio_id: must equal the portfolio's id")
        tickers = [m.ticker for m in self.market]
        if len(set(tickers)) != len(tickers):
            raise PydanticCustomError(
                "value_error", "market: each ticker may appear only once")


class WhatIfResponse(BaseModel):
    """What the gate would decide; ``details`` is the full per-constraint trace (the stored
    risk.actions 2.0 record keeps only the binding verdicts; docs/contracts.md)."""

    decision_id: str
    portfolio_id: str
    ticker: str
    book: Literal["request", "live"] = Field(description="Whose book was assessed.")
    profile: str
    config_version: int = Field(description="The live config version the limits come from.")
    emergency_level: str
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
