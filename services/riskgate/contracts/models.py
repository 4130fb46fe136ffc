"""Every wire model in one import: ``from riskgate.contracts.models import ProposedDecision``.

The classes live in ``inputs``, ``outputs``, ``enums`` and ``base``; this module is the stable
name the rest of riskgate imports them by.
"""

from __future__ import annotations

from riskgate.contracts.base import (
    Id,
    InputMessage,
    InputPart,
    OutputMessage,
    WireModel,
    non_finite_path,
    unknown_fields,
)
from riskgate.contracts.enums import (
    ActionType,
    ConfigScope,
    EmergencyLevel,
    ErrorCode,
    ProfileName,
    Regime,
    TradingState,
)
from riskgate.contracts.inputs import (
    BlackSwanState,
    DeriskSop,
    ForcedDeriskCommand,
    MarketMetrics,
    PortfolioSnapshot,
    ProposedDecision,
    RiskConfigEvent,
    SnapshotPosition,
    derisk_decision_id,
)
from riskgate.contracts.outputs import DeadLetter, DecisionOutput, RiskAction, TargetPosition
from riskgate.contracts.versions import SCHEMA_MAJOR, SCHEMA_MINOR, SCHEMA_VERSION

__all__ = [
    "SCHEMA_MAJOR",
    "SCHEMA_MINOR",
    "SCHEMA_VERSION",
    "ActionType",
    "BlackSwanState",
    "ConfigScope",
    "DeadLetter",
    "DecisionOutput",
    "DeriskSop",
    "EmergencyLevel",
    "ErrorCode",
    "ForcedDeriskCommand",
    "Id",
    "InputMessage",
    "InputPart",
    "MarketMetrics",
    "OutputMessage",
    "PortfolioSnapshot",
    "ProfileName",
    "ProposedDecision",
    "Regime",
    "RiskAction",
    "RiskConfigEvent",
    "SnapshotPosition",
    "TargetPosition",
    "TradingState",
    "WireModel",
    "derisk_decision_id",
    "non_finite_path",
    "unknown_fields",
]
