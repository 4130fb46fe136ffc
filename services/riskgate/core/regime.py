"""Market regime from a price series (seed 002): TRENDING_UP, TRENDING_DOWN, RANGING,
VOLATILE or LIQUIDATION_EVENT."""

from __future__ import annotations

import math
from collections.abc import Sequence

from riskgate.core.domain import Regime


def returns(prices: Sequence[float]) -> list[float]:
    """Simple returns p[i] / p[i-1] - 1; raises ValueError on a non-positive or non-finite
    price."""
    for p in prices:
        if not 0.0 < p < math.inf:
            raise ValueError(f"prices must be positive and finite, got {p!r}")
    return [b / a - 1.0 for a, b in zip(prices, prices[1:], strict=False)]


def max_drawdown(prices: Sequence[float]) -> float:
    """Largest peak-to-trough fall in the series, a fraction."""
    peak, worst = -math.inf, 0.0
    for p in prices:
        peak = max(peak, p)
        worst = max(worst, (peak - p) / peak)
    return worst


def fastest_drop(prices: Sequence[float], bars: int = 3) -> float:
    """The worst fall over at most ``bars`` consecutive bars, a fraction (0 if none)."""
    worst = 0.0
    for i in range(1, len(prices)):
        window = prices[max(0, i - bars):i]
        worst = max(worst, (max(window) - prices[i]) / max(window))
    return worst


def classify_regime(prices: Sequence[float], *, volatile_sigma: float = 0.04,
                    crash_return: float = -0.10, crash_drop: float = 0.15,
                    trend_t: float = 2.0) -> Regime:
    """Classify the series, checked in this order:

    - LIQUIDATION_EVENT: one return at or below ``crash_return``, or a fall of at least
      ``crash_drop`` within three bars (speed, not a slow trend, makes a liquidation);
    - VOLATILE: the standard deviation of returns is above ``volatile_sigma``;
    - TRENDING_UP / TRENDING_DOWN: the mean return's t-statistic is beyond +/- ``trend_t``;
    - RANGING otherwise, and for fewer than three prices.
    """
    r = returns(prices)
    if len(r) < 2:
        return Regime.RANGING
    if min(r) <= crash_return or fastest_drop(prices) >= crash_drop:
        return Regime.LIQUIDATION_EVENT
    mean = math.fsum(r) / len(r)
    sigma = math.sqrt(math.fsum((x - mean) ** 2 for x in r) / (len(r) - 1))
    if sigma > volatile_sigma:
        return Regime.VOLATILE
    if sigma == 0.0:
        return Regime.RANGING if mean == 0.0 else (
            Regime.TRENDING_UP if mean > 0 else Regime.TRENDING_DOWN)
    t_stat = mean / (sigma / math.sqrt(len(r)))
    if t_stat >= trend_t:
        return Regime.TRENDING_UP
    if t_stat <= -trend_t:
        return Regime.TRENDING_DOWN
    return Regime.RANGING
