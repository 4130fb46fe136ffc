"""Every wire model in one import: ``from riskgate.contracts.models import ProposedDecision``.

The classes live in ``inputs``, ``outputs``, ``enums`` and ``base``; this module is the stable
name the rest of riskgate imports them by.
"""

from __future__ import annotations

from riskgate.contracts.actions import ActionDetails, BindingVerdict, MarketUsed, RiskAction
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
    ReasonCode,
    RefusalCode,
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
from riskgate.contracts.outputs import DeadLetter, DecisionOutput, TargetPosition
from riskgate.contracts.versions import (
    ACTIONS_VERSION,
    SCHEMA_MAJOR,
    SCHEMA_MINOR,
    SCHEMA_VERSION,
    TOPIC_VERSIONS,
    ContractVersion,
)

__all__ = [
    "ACTIONS_VERSION",
    "SCHEMA_MAJOR",
    "SCHEMA_MINOR",
    "SCHEMA_VERSION",
    "TOPIC_VERSIONS",
    "ActionDetails",
    "ActionType",
    "BindingVerdict",
    "BlackSwanState",
    "ConfigScope",
    "ContractVersion",
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
    "MarketUsed",
    "OutputMessage",
    "PortfolioSnapshot",
    "ProfileName",
    "ProposedDecision",
    "ReasonCode",
    "RefusalCode",
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
