"""Seed 003's API: RiskGuard(profile_name).can_execute(...) -> (allowed, reason).

Units are the seed's: ``trade_risk_pct`` is a percent (notional / balance x 100), money in
USD, leverage a multiple. The profile numbers are the core's PROFILES.
"""

from __future__ import annotations

import math
from typing import Any

from riskgate.core import Limits, profile

_OPTIONAL_CHECKS = ("open_positions", "confidence", "daily_drawdown_pct", "drawdown_pct")


def _bad(value: Any) -> bool:
    return (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0)


class RiskGuard:
    """The profile's checks on one order; an unknown profile name raises LimitsError."""

    def __init__(self, profile_name: str) -> None:
        self.profile_name = profile_name
        self.limits: Limits = profile(profile_name)

    def can_execute(self, symbol: str, notional: float, price: float, leverage: float,
                    trade_risk_pct: float, position_size_usd: float, **extra: Any
                    ) -> tuple[bool, str]:
        """(True, "OK") or (False, reason). Extra keywords the seed passes are accepted;
        ``open_positions``, ``confidence``, ``daily_drawdown_pct`` and ``drawdown_pct`` are
        checked when given."""
        numbers = {"notional": notional, "price": price, "leverage": leverage,
                   "trade_risk_pct": trade_risk_pct, "position_size_usd": position_size_usd}
        numbers.update({k: extra[k] for k in _OPTIONAL_CHECKS if extra.get(k) is not None})
        for name, value in numbers.items():
            if _bad(value):
                return False, f"invalid_input: {name}={value!r} for {symbol}"
        if price <= 0:
            return False, f"invalid_input: price={price!r} for {symbol}"
        for check in (self._leverage, self._trade_risk, self._position_cap, self._extra):
            reason = check(numbers)
            if reason is not None:
                return False, f"{reason} ({self.profile_name}, {symbol})"
        return True, "OK"

    def _leverage(self, n: dict[str, float]) -> str | None:
        cap = self.limits.max_leverage
        return None if n["leverage"] <= cap else f"max_leverage: {n['leverage']} > {cap}"

    def _trade_risk(self, n: dict[str, float]) -> str | None:
        cap = self.limits.max_risk_per_trade * 100.0
        value = n["trade_risk_pct"]
        return None if value <= cap else f"max_risk_pct_per_trade: {value} > {cap:g}"

    def _position_cap(self, n: dict[str, float]) -> str | None:
        cap = self.limits.position_size_cap
        value = n["position_size_usd"]
        if cap is None or value <= cap:
            return None
        return f"position_size_cap_usd: {value} > {cap:g}"

    def _extra(self, n: dict[str, float]) -> str | None:
        lim = self.limits
        if "open_positions" in n and n["open_positions"] >= lim.max_open_positions:
            return f"max_open_positions: {n['open_positions']} >= {lim.max_open_positions}"
        if "confidence" in n and n["confidence"] < lim.min_confidence:
            return f"min_confidence: {n['confidence']} < {lim.min_confidence}"
        daily = lim.daily_loss_limit * 100.0
        if "daily_drawdown_pct" in n and n["daily_drawdown_pct"] >= daily:
            return f"max_daily_drawdown_pct: {n['daily_drawdown_pct']} >= {daily:g}"
        emergency = lim.emergency_drawdown * 100.0
        if "drawdown_pct" in n and n["drawdown_pct"] >= emergency:
            return f"emergency_drawdown_pct: {n['drawdown_pct']} >= {emergency:g}"
        return None
