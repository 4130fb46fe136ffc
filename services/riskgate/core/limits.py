"""Risk limits: one frozen value, loaded from a mapping, refused when inconsistent.

Fractions are of equity (a weight), money is base currency, ``None`` disables a cap.
The defaults are the NORMAL profile of seed 003.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

_NO_FACTORS: Mapping[str, float] = MappingProxyType({})


class LimitsError(ValueError):
    """Limits that are unknown, mistyped or inconsistent; the last good limits stay in force."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Every risk limit the chain enforces. See docs/core.md for the meaning of each."""

    max_leverage: float = 5.0
    max_risk_per_trade: float = 0.015
    daily_loss_limit: float = 0.05
    emergency_drawdown: float = 0.08
    max_drawdown: float | None = None
    max_open_positions: int = 30
    position_size_cap: float | None = 1000.0
    min_confidence: float = 0.65
    per_name_weight_cap: float | None = None
    per_name_notional_cap: float | None = None
    strategy_budget: float | None = None
    sector_cap: float | None = None
    country_cap: float | None = None
    cluster_cap: float | None = None
    factor_caps: Mapping[str, float] = field(default_factory=lambda: _NO_FACTORS)
    gross_cap: float | None = None
    net_cap: float | None = None
    max_adv_participation: float | None = None
    max_spread_bps: float | None = None
    price_collar: float | None = None
    fat_finger_notional: float | None = 1_000_000.0
    max_order_quantity: float | None = 20_000_000.0
    long_only: bool = False
    restricted: frozenset[str] = frozenset()
    stop_atr_multiple: float = 2.0
    take_profit_atr_multiple: float = 4.0
    base_stop_pct: float = 0.02
    base_take_profit_pct: float = 0.04
    kelly_cap: float = 0.25

    def __post_init__(self) -> None:
        validate(self)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every limit."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["factor_caps"] = dict(self.factor_caps)
        out["restricted"] = sorted(self.restricted)
        return out


LIMIT_NAMES = frozenset(f.name for f in fields(Limits))
#: Caps where a smaller number is tighter (None means no cap).
UPPER_CAPS = (
    "max_leverage", "max_risk_per_trade", "daily_loss_limit", "emergency_drawdown",
    "max_drawdown", "max_open_positions", "position_size_cap", "per_name_weight_cap",
    "per_name_notional_cap", "strategy_budget", "sector_cap", "country_cap", "cluster_cap",
    "gross_cap", "net_cap", "max_adv_participation", "max_spread_bps", "price_collar",
    "fat_finger_notional", "max_order_quantity",
)  # fmt: skip
_FRACTIONS = ("max_risk_per_trade", "daily_loss_limit", "emergency_drawdown", "max_drawdown",
              "min_confidence", "price_collar", "base_stop_pct", "base_take_profit_pct",
              "kelly_cap")  # fmt: skip
_POSITIVE = ("max_leverage", "stop_atr_multiple", "take_profit_atr_multiple")


def _number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitsError(f"limit {name!r} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise LimitsError(f"limit {name!r} must be finite, got {value!r}")
    if value < 0:
        raise LimitsError(f"limit {name!r} must not be negative, got {value!r}")


def validate(limits: Limits) -> None:
    """Raise LimitsError when a limit is mistyped, negative, non-finite or inconsistent."""
    for name in UPPER_CAPS + _FRACTIONS + _POSITIVE:
        value = getattr(limits, name)
        if value is not None:
            _number(name, value)
    for name in _FRACTIONS:
        value = getattr(limits, name)
        if value is not None and value > 1:
            raise LimitsError(f"limit {name!r} is a fraction in [0, 1], got {value!r}")
    for name in _POSITIVE:
        if getattr(limits, name) <= 0:
            raise LimitsError(f"limit {name!r} must be positive")
    if isinstance(limits.max_open_positions, float) and not limits.max_open_positions.is_integer():
        raise LimitsError("limit 'max_open_positions' must be a whole number")
    for factor, cap in limits.factor_caps.items():
        _number(f"factor_caps.{factor}", cap)
    if not isinstance(limits.long_only, bool):
        raise LimitsError("limit 'long_only' must be a boolean")
    _check_consistency(limits)


def _check_consistency(limits: Limits) -> None:
    net, gross = limits.net_cap, limits.gross_cap
    if net is not None and gross is not None and net > gross:
        raise LimitsError(f"net_cap {net} is above gross_cap {gross}")
    if limits.take_profit_atr_multiple <= limits.stop_atr_multiple:
        raise LimitsError("take_profit_atr_multiple must be beyond stop_atr_multiple")
    if limits.base_take_profit_pct <= limits.base_stop_pct:
        raise LimitsError("base_take_profit_pct must be beyond base_stop_pct")
    if limits.max_drawdown is not None and limits.max_drawdown > limits.emergency_drawdown:
        raise LimitsError("max_drawdown is above emergency_drawdown")


def _coerce(name: str, value: Any) -> Any:
    if name == "restricted":
        if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
            raise LimitsError("limit 'restricted' must be a list of tickers")
        return frozenset(str(t) for t in value)
    if name == "factor_caps":
        if not isinstance(value, Mapping):
            raise LimitsError("limit 'factor_caps' must be a mapping of factor to cap")
        return MappingProxyType(dict(value))
    return value


def load_limits(source: Mapping[str, Any] | str, base: Limits | None = None) -> Limits:
    """Limits from a mapping (parsed YAML or JSON) or JSON text, over ``base`` (NORMAL).

    Unknown keys and inconsistent values raise LimitsError.
    """
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except ValueError as exc:
            raise LimitsError(f"limits are not valid JSON: {exc}") from exc
    if not isinstance(source, Mapping):
        raise LimitsError("limits must be a mapping")
    unknown = sorted(set(source) - LIMIT_NAMES)
    if unknown:
        raise LimitsError(f"unknown limit keys: {', '.join(map(str, unknown))}")
    changes = {name: _coerce(name, value) for name, value in source.items()}
    try:
        return replace(base or Limits(), **changes)
    except TypeError as exc:
        raise LimitsError(str(exc)) from exc


def at_least_as_tight(tight: Limits, loose: Limits) -> bool:
    """True when ``tight`` is at least as strict as ``loose`` on every enforced limit."""
    for name in UPPER_CAPS:
        a, b = getattr(tight, name), getattr(loose, name)
        if b is not None and (a is None or a > b):
            return False
    for factor, cap in loose.factor_caps.items():
        if tight.factor_caps.get(factor, math.inf) > cap:
            return False
    return (
        tight.min_confidence >= loose.min_confidence
        and (tight.long_only or not loose.long_only)
        and tight.restricted >= loose.restricted
        and tight.stop_atr_multiple >= loose.stop_atr_multiple
        and tight.base_stop_pct >= loose.base_stop_pct
    )
