"""The seeds' own integration APIs on top of riskgate.core (standard library only; what each
seed is: docs/seeds.md).

- seed 000: ``RiskOrchestrator``, ``TradingSignal``, ``PortfolioState``, ``SignalType``,
  ``RiskLevel``, ``RiskAssessment``;
- seed 001: ``apply_risk_constraints``;
- seed 003: ``RiskGuard``.
"""

from riskgate.compat.engine import RiskResult, apply_risk_constraints
from riskgate.compat.orchestrator import (
    PortfolioState,
    RiskAssessment,
    RiskLevel,
    RiskOrchestrator,
    SignalType,
    TradingSignal,
)
from riskgate.compat.risk_guard import RiskGuard

__all__ = [
    "PortfolioState", "RiskAssessment", "RiskGuard", "RiskLevel", "RiskOrchestrator",
    "RiskResult", "SignalType", "TradingSignal", "apply_risk_constraints",
]
