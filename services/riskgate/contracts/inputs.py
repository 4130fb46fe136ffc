"""Messages riskgate reads, one class per message kind (docs/contracts.md, "Inputs")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field
from pydantic_core import PydanticCustomError

from riskgate.contracts.base import (
    Count,
    CutFraction,
    Fraction,
    Id,
    InputMessage,
    InputPart,
    NonNegative,
    Positive,
)
from riskgate.contracts.enums import ConfigScope, EmergencyLevel, ProfileName, Regime, TradingState

Weight = Annotated[float, Field(ge=-10, le=10)]


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("value_error", message)


def derisk_decision_id(emergency_event_id: str, portfolio_id: str) -> str:
    """The decision_id of the forced de-risk command for one emergency and one portfolio."""
    return f"derisk:{emergency_event_id}:{portfolio_id}"


class ProposedDecision(InputMessage):
    """A strategy's proposal; exactly one of target_quantity and target_weight is present."""

    kind: Literal["PROPOSAL"] = Field("PROPOSAL", description="Tells a proposal from a command.")
    decision_id: Id = Field(description="Unique per decision; the dedup key.")
    strategy_id: Id = Field(description="The proposing strategy.")
    portfolio_id: Id = Field(description="Must equal the record key.")
    ticker: Id = Field(description="The instrument; needs market data.")
    target_quantity: float | None = Field(
        None, description="Desired final position in instrument units, signed."
    )
    target_weight: Weight | None = Field(
        None, description="Desired final position as a signed fraction of equity."
    )
    confidence: Fraction = Field(description="Conviction in [0, 1].")
    created_at: AwareDatetime = Field(description="Event time of the decision.")
    reference_price: Positive | None = Field(None, description="The price the strategy saw.")
    stop_loss: Positive | None = Field(None, description="Stop price for the risk per trade.")
    take_profit: Positive | None = Field(
        None, description="Informative; on the profit side of the stop."
    )
    horizon: str | None = Field(None, max_length=64, description='Free text such as "5d".')
    metadata: dict[str, Any] | None = Field(
        None, description="Carried into the audit, never interpreted."
    )

    free_form_fields = ("metadata",)

    def _check(self) -> None:
        if (self.target_quantity is None) == (self.target_weight is None):
            got = "neither" if self.target_quantity is None else "both"
            raise _invalid(f"target_quantity, target_weight: exactly one is required (got {got})")
        stop, profit, ref = self.stop_loss, self.take_profit, self.reference_price
        if stop is not None and profit is not None:
            # With a reference price the side is known; without one they only must differ.
            wrong_side = (stop - ref) * (profit - ref) >= 0 if ref is not None else stop == profit
            if wrong_side:
                raise _invalid("take_profit: must be on the profit side of stop_loss")


class ForcedDeriskCommand(InputMessage):
    """A forced de-risk command riskgate writes to decisions.proposed on EMERGENCY."""

    kind: Literal["FORCED_DERISK"] = Field(description="Tells a command from a proposal.")
    decision_id: Id = Field(description="derisk:<emergency_event_id>:<portfolio_id>.")
    strategy_id: Id = Field(description="riskgate itself.")
    portfolio_id: Id = Field(description="The portfolio to cut.")
    emergency_event_id: Id = Field(description="The black swan event that caused it.")
    gross_cut_pct: CutFraction = Field(description="Cut gross exposure by this fraction, (0, 1].")
    created_at: AwareDatetime = Field(description="The emergency event's time.")

    def _check(self) -> None:
        expected = derisk_decision_id(self.emergency_event_id, self.portfolio_id)
        if self.decision_id != expected:
            raise _invalid(f"decision_id: must be {expected!r}")


class DeriskSop(InputPart):
    """The standard operating procedure an EMERGENCY applies."""

    gross_cut_pct: CutFraction = Field(description="Cut gross exposure by this fraction, (0, 1].")
    order: Literal["least_liquid_first"] = Field(
        "least_liquid_first", description="Which names are cut first."
    )


class BlackSwanState(InputMessage):
    """The emergency state for a scope, on risk.black_swan_state."""

    event_id: Id = Field(description="The black swan event.")
    scope: Id = Field(description="global is the only scope acted on in 1.0.")
    level: EmergencyLevel
    version: Count = Field(description="Monotonic per scope; an older version is ignored.")
    as_of: AwareDatetime = Field(description="Staleness is measured from it.")
    rearm: bool = Field(False, description="Required to leave EMERGENCY.")
    sop: DeriskSop | None = None


class SnapshotPosition(InputPart):
    """One holding in a portfolio snapshot."""

    ticker: Id
    quantity: float = Field(description="Instrument units, signed.")


class PortfolioSnapshot(InputMessage):
    """A portfolio's positions and P&L, on portfolio.snapshots."""

    portfolio_id: Id
    version: Count = Field(description="Monotonic; an older or equal version never wins.")
    as_of: AwareDatetime
    equity: Positive
    nav: Positive | None = Field(None, description="Defaults to equity.")
    pnl_today: float = Field(description="Realized plus open P&L since the trading-day boundary.")
    peak_equity: Positive = Field(description="For drawdown.")
    positions: tuple[SnapshotPosition, ...]
    reflects_action_ids: tuple[Id, ...] = Field(
        (), description="riskgate targets this snapshot already includes."
    )

    def _check(self) -> None:
        seen: set[str] = set()
        for position in self.positions:
            if position.ticker in seen:
                raise _invalid(f"positions: ticker {position.ticker!r} appears more than once")
            seen.add(position.ticker)


class MarketMetrics(InputMessage):
    """Reference data and liquidity of one instrument, on market.metrics."""

    ticker: Id
    version: Count = Field(description="Monotonic per ticker.")
    as_of: AwareDatetime
    price: Positive = Field(description="Reference price.")
    adv: NonNegative = Field(description="Average daily volume, instrument units.")
    spread_bps: NonNegative = Field(description="Quoted spread in basis points.")
    atr: Positive | None = Field(None, description="Average true range, price units.")
    volatility: Positive | None = Field(None, description="Daily return volatility, a fraction.")
    tick_size: Positive = 0.01
    lot_size: Positive = 1.0
    multiplier: Positive = 1.0
    fx_to_base: Positive = 1.0
    currency: str = Field("USD", min_length=1, max_length=16)
    sector: str = Field("UNKNOWN", min_length=1, max_length=128)
    country: str = Field("UNKNOWN", min_length=1, max_length=128)
    cluster: str = Field("UNKNOWN", min_length=1, max_length=128)
    factors: dict[str, float] = Field(
        default_factory=dict, description="Factor loadings by factor name."
    )
    regime: Regime | None = None


class RiskConfigEvent(InputMessage):
    """A profile, limit or trading-state change, or a re-arm, on risk.config.

    A ``full_state`` record carries the whole state of its scope (profile, limits overlay,
    trading state; an absent part is unset) and replaces it; without ``full_state`` the parts
    present are merged in. A re-arm record names only ``rearm_event_id`` and has its own key,
    ``rearm:<event_id>`` (docs/control-plane.md).
    """

    version: Count = Field(description="Monotonic across the whole topic.")
    scope: ConfigScope
    scope_id: Id | None = Field(None, description="Required unless scope is GLOBAL.")
    profile: ProfileName | None = Field(None, description="Switch the base profile for the scope.")
    limits: dict[str, Any] | None = Field(
        None, description="Limit overrides by riskgate.core.limits.Limits name."
    )
    trading_state: TradingState | None = Field(
        None, description="Global HALTED is the kill switch."
    )
    updated_at: AwareDatetime
    updated_by: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=1000, description="Why the change was made.")
    full_state: bool = Field(
        False, description="The record is the scope's whole state and replaces it.")
    rearm_event_id: Id | None = Field(
        None, description="Re-arm after this black swan event (GLOBAL, nothing else set).")
    authenticated: bool = Field(
        False, description="The writer authenticated updated_by (API key or SASL principal).")
    approved_by: str | None = Field(
        None, max_length=128, description="Under four-eyes, the second admin who approved it.")

    free_form_fields = ("limits",)

    def _check(self) -> None:
        if self.scope is ConfigScope.GLOBAL and self.scope_id is not None:
            raise _invalid("scope_id: must be absent when scope is GLOBAL")
        if self.scope is not ConfigScope.GLOBAL and self.scope_id is None:
            raise _invalid(f"scope_id: required when scope is {self.scope.value}")
        if self.rearm_event_id is not None:
            mixed = [name for name in ("profile", "limits", "trading_state")
                     if getattr(self, name) is not None] + (["full_state"] if self.full_state else [])
            if self.scope is not ConfigScope.GLOBAL or mixed:
                raise _invalid("rearm_event_id: a re-arm is a GLOBAL record carrying nothing "
                               f"else (got {', '.join(mixed) or self.scope.value})")

    def record_key(self) -> str:
        """The Kafka key this record belongs under: ``global``, ``<scope>:<scope_id>``, or
        ``rearm:<event_id>`` for a re-arm (never a scope's key, so compaction keeps both)."""
        if self.rearm_event_id is not None:
            return f"rearm:{self.rearm_event_id}"
        if self.scope is ConfigScope.GLOBAL:
            return "global"
        return f"{self.scope.value.lower()}:{self.scope_id}"
