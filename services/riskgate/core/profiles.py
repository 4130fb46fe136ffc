"""Risk profiles (seed 003), overlays, emergency tightening and regime multipliers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from riskgate.core.domain import EmergencyLevel, Regime
from riskgate.core.limits import UPPER_CAPS, Limits, LimitsError, load_limits


def _profile(leverage: float, risk_pct: float, daily_dd_pct: float, emergency_dd_pct: float,
             positions: int, cap_usd: float, confidence: float, max_order_usd: float,
             max_order_units: float) -> Limits:
    # The seed states percentages; the core stores fractions of equity.
    return Limits(
        max_leverage=leverage, max_risk_per_trade=risk_pct / 100,
        daily_loss_limit=daily_dd_pct / 100, emergency_drawdown=emergency_dd_pct / 100,
        max_open_positions=positions, position_size_cap=cap_usd, min_confidence=confidence,
        fat_finger_notional=max_order_usd, max_order_quantity=max_order_units,
    )


#: Seed 003's table, exactly: leverage, risk/trade %, daily DD %, emergency DD %, max
#: positions, position cap (USD), min confidence. Then the order-size checks of MiFID II
#: RTS 6 Art. 15(1), which the seed lacks: max order value (USD, 1,000 x the position cap)
#: and max order volume (units, a flip from -cap to +cap at a unit value of $0.0001).
#: Neither binds before the position cap on an order the caps allow (docs/core.md).
PROFILES: Mapping[str, Limits] = MappingProxyType({
    "AGGRESSIVE_SMALL_ACCOUNT": _profile(7.0, 3.0, 6.0, 9.6, 15, 300.0, 0.60,
                                         300_000.0, 6_000_000.0),
    "NORMAL": _profile(5.0, 1.5, 5.0, 8.0, 30, 1000.0, 0.65, 1_000_000.0, 20_000_000.0),
    "DEFENSIVE": _profile(3.0, 0.75, 3.0, 4.8, 10, 500.0, 0.75, 500_000.0, 10_000_000.0),
})  # fmt: skip

#: Emergency overlays: (multiplier on every upper cap, floor on min_confidence).
EMERGENCY_OVERLAYS: Mapping[EmergencyLevel, tuple[float, float]] = MappingProxyType({
    EmergencyLevel.ELEVATED: (0.5, 0.75),
    EmergencyLevel.EMERGENCY: (0.25, 0.90),
})  # fmt: skip

#: Per-regime multipliers on the size limits (never above 1, so a regime only tightens).
REGIME_MULTIPLIERS: Mapping[Regime, float] = MappingProxyType({
    Regime.TRENDING_UP: 1.0,
    Regime.RANGING: 1.0,
    Regime.TRENDING_DOWN: 0.75,
    Regime.VOLATILE: 0.5,
    Regime.LIQUIDATION_EVENT: 0.25,
})  # fmt: skip

#: The limits a regime multiplier scales.
SIZE_LIMITS = ("max_risk_per_trade", "position_size_cap", "per_name_weight_cap",
               "per_name_notional_cap", "strategy_budget", "max_adv_participation")


def profile(name: str) -> Limits:
    """The limits of a named profile; an unknown name raises LimitsError."""
    try:
        return PROFILES[name]
    except KeyError:
        raise LimitsError(
            f"unknown risk profile {name!r}; known: {', '.join(PROFILES)}"
        ) from None


def resolve_limits(base: Limits | str, *overlays: Mapping[str, Any] | None) -> Limits:
    """A profile (or limits) with overlays applied in order, e.g. strategy then portfolio."""
    limits = profile(base) if isinstance(base, str) else base
    for overlay in overlays:
        if overlay:
            limits = load_limits(overlay, base=limits)
    return limits


def _scale(limits: Limits, names: tuple[str, ...], factor: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(limits, name)
        if value is not None:
            scaled = value * factor
            out[name] = math.floor(scaled) if name == "max_open_positions" else scaled
    return out


def tighten(limits: Limits, level: EmergencyLevel) -> Limits:
    """Limits under an emergency level: every upper cap scaled down, confidence floored."""
    overlay = EMERGENCY_OVERLAYS.get(level)
    if overlay is None:
        return limits
    factor, confidence_floor = overlay
    changes = _scale(limits, UPPER_CAPS, factor)
    changes["factor_caps"] = MappingProxyType(
        {k: v * factor for k, v in limits.factor_caps.items()})
    changes["min_confidence"] = max(limits.min_confidence, confidence_floor)
    return replace(limits, **changes)


def for_regime(limits: Limits, regime: Regime | None) -> Limits:
    """Limits with the regime's multiplier applied to the size limits."""
    factor = REGIME_MULTIPLIERS.get(regime, 1.0) if regime is not None else 1.0
    return limits if factor == 1.0 else replace(limits, **_scale(limits, SIZE_LIMITS, factor))


_EFFECTIVE: dict[tuple[int, int, int], tuple[Limits, Limits]] = {}


def effective_limits(limits: Limits, level: EmergencyLevel, regime: Regime | None) -> Limits:
    """``limits`` tightened for the emergency level and the regime (memoised per object)."""
    key = (id(limits), id(level), id(regime))  # enum hashing is slow; members are singletons
    hit = _EFFECTIVE.get(key)
    if hit is not None and hit[0] is limits:
        return hit[1]
    if len(_EFFECTIVE) > 4096:
        _EFFECTIVE.clear()
    result = for_regime(tighten(limits, level), regime)
    _EFFECTIVE[key] = (limits, result)
    return result
