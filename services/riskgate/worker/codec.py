"""Wire models to core domain values: the one place the two meet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from riskgate.contracts.inputs import (
    BlackSwanState,
    MarketMetrics,
    PortfolioSnapshot,
    ProposedDecision,
    RiskConfigEvent,
)
from riskgate.core import EmergencyLevel, MarketData, Proposal, Regime
from riskgate.worker.globals import EmergencyState, next_emergency


def market(m: MarketMetrics) -> MarketData:
    return MarketData(
        ticker=m.ticker, price=m.price, adv=m.adv, spread_bps=m.spread_bps, atr=m.atr,
        volatility=m.volatility, tick_size=m.tick_size, lot_size=m.lot_size,
        multiplier=m.multiplier, fx_to_base=m.fx_to_base, currency=m.currency, sector=m.sector,
        country=m.country, cluster=m.cluster, factors=tuple(sorted(m.factors.items())),
        regime=Regime(m.regime.value) if m.regime is not None else None,
        as_of=m.as_of.timestamp(), version=m.version,
    )


def proposal(m: ProposedDecision) -> Proposal:
    return Proposal(
        decision_id=m.decision_id, strategy_id=m.strategy_id, portfolio_id=m.portfolio_id,
        ticker=m.ticker, target_quantity=m.target_quantity, target_weight=m.target_weight,
        confidence=m.confidence, created_at=m.created_at.timestamp(),
        reference_price=m.reference_price, stop_loss=m.stop_loss, take_profit=m.take_profit,
        horizon=m.horizon, metadata=m.metadata or {},
    )


def config_change(m: RiskConfigEvent) -> tuple[int, str, str | None, str | None,
                                              dict[str, Any] | None, str | None, bool, str | None]:
    """The arguments of ``ConfigBook.apply`` / ``trial`` for one config event."""
    return (m.version, m.scope.value, m.scope_id, m.profile.value if m.profile else None,
            m.limits, m.trading_state.value if m.trading_state else None, m.full_state,
            m.rearm_event_id)


def emergency(m: BlackSwanState) -> tuple[EmergencyLevel, int, str, float, float]:
    """(level, version, event id, as_of, gross cut) of an emergency record; its ``rearm`` flag
    goes to ``next_emergency`` beside it."""
    cut = m.sop.gross_cut_pct if m.sop is not None else 0.5
    return EmergencyLevel(m.level.value), m.version, m.event_id, m.as_of.timestamp(), cut


def after_emergency(current: EmergencyState, m: BlackSwanState) -> EmergencyState:
    """The emergency state once record ``m`` is read: the one rule the worker, the API's live
    view and replay all fold the black-swan topic with (``next_emergency``)."""
    return next_emergency(current, EmergencyState(*emergency(m)), m.rearm)


@dataclass(frozen=True, slots=True)
class SnapshotFields:
    """A snapshot as ``store.state.upsert_snapshot`` applies it."""

    portfolio_id: str
    version: int
    as_of: float
    equity: float
    nav: float
    pnl_today: float
    peak_equity: float
    positions: dict[str, float]
    reflects: list[str]


def snapshot(m: PortfolioSnapshot) -> SnapshotFields:
    return SnapshotFields(m.portfolio_id, m.version, m.as_of.timestamp(), m.equity, m.nav or m.equity,
                          m.pnl_today, m.peak_equity, {p.ticker: p.quantity for p in m.positions},
                          list(m.reflects_action_ids))
