"""Wire models to core domain values: the one place the two meet."""

from __future__ import annotations

from riskgate.contracts.inputs import MarketMetrics, ProposedDecision
from riskgate.core import MarketData, Proposal, Regime


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
