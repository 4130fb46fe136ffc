"""Domain types of the risk core: what a decision, a market record and an environment are.

Times are float epoch seconds (UTC), ids are ``str``, quantities are signed floats
(long > 0, short < 0). Money is the portfolio's base currency; a weight is notional / equity.
These are plain values: the core never reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from riskgate.core.limits import Limits

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ActionType(StrEnum):
    """The closed set of risk action types (docs/contracts.md)."""

    OK = "OK"
    CAPPED = "CAPPED"
    SCALED_DOWN = "SCALED_DOWN"
    REJECTED = "REJECTED"
    FORCED_DERISK = "FORCED_DERISK"
    EXPIRED = "EXPIRED"
    DUPLICATE = "DUPLICATE"


class TradingState(StrEnum):
    """Trading state of a scope; the most restrictive of global, strategy and portfolio wins."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class EmergencyLevel(StrEnum):
    """The black swan engine's emergency level."""

    NORMAL = "NORMAL"
    ELEVATED = "ELEVATED"
    EMERGENCY = "EMERGENCY"


class Regime(StrEnum):
    """Market regime of one instrument (seed 002)."""

    TRENDING_UP = "TRENDING_UP"
    TRENDING_DOWN = "TRENDING_DOWN"
    RANGING = "RANGING"
    VOLATILE = "VOLATILE"
    LIQUIDATION_EVENT = "LIQUIDATION_EVENT"


class RiskLevel(StrEnum):
    """Risk level bands of the 0-100 risk score (seed 002)."""

    MINIMAL = "MINIMAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


_STATE_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def most_restrictive(*states: TradingState) -> TradingState:
    """The most restrictive of the given trading states (ACTIVE < REDUCING < HALTED)."""
    return max(states, key=_STATE_RANK.__getitem__, default=TradingState.ACTIVE)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed decision: the desired final position for one ticker in one portfolio.

    Exactly one of ``target_quantity`` (instrument units) and ``target_weight`` (signed
    fraction of equity) is set. ``created_at`` is the event time in epoch seconds.
    """

    decision_id: str
    strategy_id: str
    portfolio_id: str
    ticker: str
    target_quantity: float | None = None
    target_weight: float | None = None
    confidence: float = 1.0
    created_at: float = 0.0
    reference_price: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    horizon: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class MarketData:
    """Market metrics of one ticker. ``factors`` is a tuple of (name, loading) pairs."""

    ticker: str
    price: float
    adv: float | None = None
    spread_bps: float = 0.0
    atr: float | None = None
    volatility: float | None = None
    tick_size: float = 0.01
    lot_size: float = 1.0
    multiplier: float = 1.0
    fx_to_base: float = 1.0
    currency: str = "USD"
    sector: str = "UNKNOWN"
    country: str = "UNKNOWN"
    cluster: str = "UNKNOWN"
    factors: tuple[tuple[str, float], ...] = ()
    regime: Regime | None = None
    as_of: float = 0.0
    version: int = -1

    def __post_init__(self) -> None:
        if isinstance(self.factors, Mapping):  # accept a mapping, store pairs
            object.__setattr__(self, "factors", tuple(sorted(self.factors.items())))

    @property
    def unit_value(self) -> float:
        """Base-currency value of one instrument unit: price x multiplier x FX."""
        return self.price * self.multiplier * self.fx_to_base


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A portfolio snapshot; ``positions`` maps ticker to projected quantity.

    "Projected" means the snapshot overridden by riskgate targets still in flight; the
    worker supplies it, the core treats these positions as current.
    ``position_strategies`` optionally attributes tickers to strategies for strategy budgets.
    """

    portfolio_id: str
    equity: float
    pnl_today: float = 0.0
    peak_equity: float | None = None
    nav: float | None = None
    positions: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    as_of: float = 0.0
    snapshot_version: int = -1
    position_strategies: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Environment:
    """Everything around a decision that is not the proposal, the portfolio or the market.

    ``limits`` are the resolved limits of the portfolio; ``strategy_limits`` holds resolved
    limits per strategy where an overlay exists. Staleness bounds are seconds (``None``
    disables the check). ``trading_day_boundary_s`` is seconds after local midnight in
    ``trading_day_tz`` at which the daily P&L resets.
    """

    now: float
    limits: Limits = field(default_factory=Limits)
    strategy_limits: Mapping[str, Limits] = field(default_factory=lambda: _EMPTY)
    profile: str = "NORMAL"
    config_version: int = -1
    global_state: TradingState = TradingState.ACTIVE
    strategy_states: Mapping[str, TradingState] = field(default_factory=lambda: _EMPTY)
    portfolio_states: Mapping[str, TradingState] = field(default_factory=lambda: _EMPTY)
    emergency_level: EmergencyLevel = EmergencyLevel.NORMAL
    emergency_as_of: float | None = None
    emergency_version: int = -1
    max_snapshot_age_s: float | None = 300.0
    max_price_age_s: float | None = 120.0
    max_emergency_age_s: float | None = 3600.0
    max_decision_age_s: float | None = 60.0
    trading_day_boundary_s: float = 0.0
    trading_day_tz: str = "UTC"

    def limits_for(self, strategy_id: str) -> Limits:
        """The resolved limits for a strategy: its overlay if any, else the portfolio's."""
        return self.strategy_limits.get(strategy_id, self.limits)

    def trading_state(self, strategy_id: str, portfolio_id: str) -> TradingState:
        """The most restrictive configured state of the global, strategy and portfolio scopes."""
        states = (self.global_state,
                  self.strategy_states.get(strategy_id, TradingState.ACTIVE),
                  self.portfolio_states.get(portfolio_id, TradingState.ACTIVE))
        if TradingState.HALTED in states:
            return TradingState.HALTED
        return TradingState.REDUCING if TradingState.REDUCING in states else TradingState.ACTIVE
