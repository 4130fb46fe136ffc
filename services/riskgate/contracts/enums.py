"""Closed value sets used on the wire. Adding a value is a minor change; removing one is major."""

from __future__ import annotations

from enum import StrEnum


class ActionType(StrEnum):
    """What riskgate did with a decision (closed set, see docs/contracts.md)."""

    OK = "OK"
    CAPPED = "CAPPED"
    SCALED_DOWN = "SCALED_DOWN"
    REJECTED = "REJECTED"
    FORCED_DERISK = "FORCED_DERISK"
    EXPIRED = "EXPIRED"
    DUPLICATE = "DUPLICATE"


class TradingState(StrEnum):
    """Trading state of a portfolio, a strategy or the whole gate."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class EmergencyLevel(StrEnum):
    """Black swan level published on ``risk.black_swan_state``."""

    NORMAL = "NORMAL"
    ELEVATED = "ELEVATED"
    EMERGENCY = "EMERGENCY"


class Regime(StrEnum):
    """Market regime of an instrument, with per-regime limit multipliers in the core."""

    TRENDING_UP = "TRENDING_UP"
    TRENDING_DOWN = "TRENDING_DOWN"
    RANGING = "RANGING"
    VOLATILE = "VOLATILE"
    LIQUIDATION_EVENT = "LIQUIDATION_EVENT"


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
