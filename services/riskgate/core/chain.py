"""The constraint chain: an explicit ordered tuple, built per set of effective limits.

Only enabled constraints are in a chain (a disabled cap costs nothing). The order is the
documented one (docs/core.md); a cap or scale changes what the constraints after it see.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import NamedTuple

from riskgate.core import reasons as r
from riskgate.core.constraints.exposure import (
    ClusterCap,
    CountryCap,
    FactorCap,
    GrossExposureCap,
    MaxOpenPositions,
    NetExposureCap,
    SectorCap,
)  # fmt: skip
from riskgate.core.constraints.gates import (
    decision_age,
    input_validity,
    long_only,
    market_data_present,
    restricted_list,
    stale_input,
)  # fmt: skip
from riskgate.core.constraints.halts import (
    DailyLossHalt,
    DrawdownHalt,
    emergency_state,
    trading_state,
)  # fmt: skip
from riskgate.core.constraints.liquidity import AdvParticipation, lot_rounding
from riskgate.core.constraints.quality import (
    FatFinger,
    MaxOrderQuantity,
    MaxRiskPerTrade,
    MaxSpread,
    MinConfidence,
    PriceCollar,
    protective_levels,
)  # fmt: skip
from riskgate.core.constraints.size import PerNameCap, PositionSizeCap, StrategyBudget
from riskgate.core.limits import Limits
from riskgate.core.verdict import Verdict

Constraint = Callable[..., Verdict]


class Chain(NamedTuple):
    """Constraint names and the constraints themselves, in order. ``calls`` holds what the
    fold invokes: the function, or the bound ``__call__`` of a constraint object (calling a
    bound method is about twice as fast as calling the instance)."""

    names: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    calls: tuple[Constraint, ...]


def _links(lim: Limits) -> list[tuple[str, Constraint | None]]:
    return [
        ("DecisionAge", decision_age),
        ("InputValidity", input_validity),
        ("MarketData", market_data_present),
        ("StaleInput", stale_input),
        ("TradingState", trading_state),
        ("EmergencyState", emergency_state),
        ("DailyLossHalt", DailyLossHalt(lim.daily_loss_limit)),
        ("MaxDrawdownHalt",
         None if lim.max_drawdown is None else DrawdownHalt(lim.max_drawdown)),
        ("EmergencyDrawdownHalt", DrawdownHalt(lim.emergency_drawdown, r.EMERGENCY_DRAWDOWN)),
        ("RestrictedList", restricted_list if lim.restricted else None),
        ("MinConfidence", MinConfidence(lim.min_confidence)),
        ("PriceCollar", None if lim.price_collar is None else PriceCollar(lim.price_collar)),
        ("MaxSpread", None if lim.max_spread_bps is None else MaxSpread(lim.max_spread_bps)),
        ("FatFinger",
         None if lim.fat_finger_notional is None else FatFinger(lim.fat_finger_notional)),
        ("MaxOrderQuantity",
         None if lim.max_order_quantity is None else MaxOrderQuantity(lim.max_order_quantity)),
        ("ProtectiveLevels", protective_levels),
        ("LongOnly", long_only if lim.long_only else None),
        ("PerNameCap", None if lim.per_name_weight_cap is None
         and lim.per_name_notional_cap is None
         else PerNameCap(lim.per_name_weight_cap, lim.per_name_notional_cap)),
        ("PositionSizeCap",
         None if lim.position_size_cap is None else PositionSizeCap(lim.position_size_cap)),
        ("MaxRiskPerTrade", MaxRiskPerTrade(lim.max_risk_per_trade)),
        ("StrategyBudget",
         None if lim.strategy_budget is None else StrategyBudget(lim.strategy_budget)),
        ("SectorCap", None if lim.sector_cap is None else SectorCap(lim.sector_cap)),
        ("CountryCap", None if lim.country_cap is None else CountryCap(lim.country_cap)),
        ("FactorCap", FactorCap(lim.factor_caps) if lim.factor_caps else None),
        ("ClusterCap", None if lim.cluster_cap is None else ClusterCap(lim.cluster_cap)),
        ("GrossExposureCap", None if lim.gross_cap is None else GrossExposureCap(lim.gross_cap)),
        ("NetExposureCap", None if lim.net_cap is None else NetExposureCap(lim.net_cap)),
        ("LeverageCap", GrossExposureCap(lim.max_leverage, r.LEVERAGE_CAP)),
        ("MaxOpenPositions", MaxOpenPositions(int(lim.max_open_positions))),
        ("AdvParticipation", None if lim.max_adv_participation is None
         else AdvParticipation(lim.max_adv_participation)),
        ("LotRounding", lot_rounding),
    ]


#: Every constraint name, in chain order (disabled ones are skipped at build time).
CHAIN_ORDER: tuple[str, ...] = tuple(name for name, _ in _links(Limits()))


def build_chain(limits: Limits) -> Chain:
    """The chain of enabled constraints for these (effective) limits."""
    links = [(name, c) for name, c in _links(limits) if c is not None]
    constraints = tuple(c for _, c in links)
    calls = tuple(c if isinstance(c, FunctionType) else c.__call__ for c in constraints)
    return Chain(tuple(n for n, _ in links), constraints, calls)


_CHAINS: dict[int, tuple[Limits, Chain]] = {}


def chain_for(limits: Limits) -> Chain:
    """The chain for a limits object, memoised by identity (limits are immutable)."""
    hit = _CHAINS.get(id(limits))
    if hit is not None and hit[0] is limits:
        return hit[1]
    if len(_CHAINS) > 4096:
        _CHAINS.clear()
    chain = build_chain(limits)
    _CHAINS[id(limits)] = (limits, chain)
    return chain
