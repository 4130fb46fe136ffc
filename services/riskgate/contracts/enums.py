"""Closed value sets used on the wire. Adding a value is a minor change; removing one is major."""

from __future__ import annotations

from enum import StrEnum

from riskgate.core import reasons
from riskgate.core.domain import ActionType, EmergencyLevel, Regime, TradingState

# The domain's closed sets are the wire's: one definition, in the pure core.
__all__ = ["ActionType", "ConfigScope", "EmergencyLevel", "ErrorCode", "ProfileName",
           "ReasonCode", "RefusalCode", "Regime", "TradingState"]


class RefusalCode(StrEnum):
    """Why the worker answered a decision without running the chain."""

    NO_SNAPSHOT = "NO_SNAPSHOT"
    NOTHING_TO_CUT = "NOTHING_TO_CUT"
    DUPLICATE_DECISION = "DUPLICATE_DECISION"
    INTERNAL_ERROR = "INTERNAL_ERROR"


def _chain_codes() -> dict[str, str]:
    return {name: value for name, value in vars(reasons).items()
            if name.isupper() and isinstance(value, str)}


# Every reason code a risk action can carry: the chain's (riskgate.core.reasons, their one
# definition) and the worker's refusals. Adding a code is a minor change; removing one is major.
ReasonCode = StrEnum("ReasonCode", {**_chain_codes(), **{c.name: c.value for c in RefusalCode}})
ReasonCode.__doc__ = "A stable reason code: the chain's (riskgate.core.reasons) or a refusal's."


class ConfigScope(StrEnum):
    """What a ``risk.config`` record applies to."""

    GLOBAL = "GLOBAL"
    STRATEGY = "STRATEGY"
    PORTFOLIO = "PORTFOLIO"


class ProfileName(StrEnum):
    """The base risk profiles (numbers from seed 003)."""

    AGGRESSIVE_SMALL_ACCOUNT = "AGGRESSIVE_SMALL_ACCOUNT"
    NORMAL = "NORMAL"
    DEFENSIVE = "DEFENSIVE"


class ErrorCode(StrEnum):
    """Why a record was dead-lettered; the ``code`` of a ``PoisonMessage``."""

    EMPTY = "EMPTY"
    OVERSIZE = "OVERSIZE"
    NOT_UTF8 = "NOT_UTF8"
    NOT_JSON = "NOT_JSON"
    NOT_OBJECT = "NOT_OBJECT"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    NON_FINITE = "NON_FINITE"
    KEY_MISMATCH = "KEY_MISMATCH"
