"""riskgate.core: the pure risk core (standard library only, no clock, no I/O).

``assess`` folds a proposal through the constraint chain (docs/core.md) and returns an
Outcome; ``assess_batch`` does it for many, applying each approved target to the book.
"""

from riskgate.core.assessment import assess, assess_batch
from riskgate.core.book import PortfolioBook
from riskgate.core.calendar import trading_day_start
from riskgate.core.chain import CHAIN_ORDER, Chain, build_chain, chain_for
from riskgate.core.context import Context, is_derisk
from riskgate.core.derisk import plan_forced_derisk
from riskgate.core.domain import (
    ActionType,
    EmergencyLevel,
    Environment,
    MarketData,
    Portfolio,
    Proposal,
    Regime,
    RiskLevel,
    TradingState,
)
from riskgate.core.limits import Limits, LimitsError, at_least_as_tight, load_limits
from riskgate.core.outcome import RISKGATE_NAMESPACE, Outcome, action_id
from riskgate.core.profiles import (
    EMERGENCY_OVERLAYS,
    PROFILES,
    REGIME_MULTIPLIERS,
    effective_limits,
    profile,
    resolve_limits,
)
from riskgate.core.verdict import Verdict

__all__ = [
    "CHAIN_ORDER", "EMERGENCY_OVERLAYS", "PROFILES", "REGIME_MULTIPLIERS",
    "RISKGATE_NAMESPACE", "ActionType", "Chain", "Context", "EmergencyLevel", "Environment",
    "Limits", "LimitsError", "MarketData", "Outcome", "Portfolio", "PortfolioBook",
    "Proposal", "Regime", "RiskLevel", "TradingState", "Verdict", "action_id", "assess",
    "assess_batch", "at_least_as_tight", "build_chain", "chain_for", "effective_limits",
    "is_derisk", "load_limits", "plan_forced_derisk", "profile", "resolve_limits",
    "trading_day_start",
]
