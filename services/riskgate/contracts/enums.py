"""Closed value sets used on the wire. Adding a value is a minor change; removing one is major."""

from __future__ import annotations

from enum import StrEnum

from riskgate.core.domain import ActionType, EmergencyLevel, Regime, TradingState

# The domain's closed sets are the wire's: one definition, in the pure core.
__all__ = ["ActionType", "ConfigScope", "EmergencyLevel", "ErrorCode", "ProfileName", "Regime",
           "TradingState"]


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
