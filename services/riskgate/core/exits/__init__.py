"""Exit rules for event-driven backtests (seed 004): a RiskManager over an immutable
RiskContext, returning RiskDecision values."""

from riskgate.core.exits.manager import RiskManager
from riskgate.core.exits.model import (
    ExitType,
    Fill,
    MarketBar,
    Order,
    PositionState,
    RiskContext,
    RiskDecision,
    RiskRule,
)
from riskgate.core.exits.rules import (
    DynamicTrailingStop,
    MaxDailyLossRule,
    RegimeDependentRule,
    TimeBasedExit,
    VolatilityScaledStopLoss,
)

__all__ = [
    "DynamicTrailingStop", "ExitType", "Fill", "MarketBar", "MaxDailyLossRule", "Order",
    "PositionState", "RegimeDependentRule", "RiskContext", "RiskDecision", "RiskManager",
    "RiskRule", "TimeBasedExit", "VolatilityScaledStopLoss",
]
