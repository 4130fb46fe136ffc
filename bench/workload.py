"""The one deterministic workload every benchmark uses: a market universe, portfolios with
positions, limits, and proposals as wire bytes and as core values.

The same numbers feed the in-process benches (core values), the compacted topics of the
end-to-end runs (wire payloads) and the faust pipeline, so every system decides the same thing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from tests.support import builders as b

from riskgate.core import Environment, MarketData, Portfolio, PortfolioBook, resolve_limits

SECTORS = ("TECH", "ENERGY", "HEALTH", "FIN", "UTIL")
COUNTRIES = ("US", "DE", "JP")
TICKERS = 50
EQUITY = 10_000_000.0
PROFILE = "NORMAL"
# Every cap of the chain switched on, so no constraint is skipped (JSON-safe: it also travels
# on the risk.config topic).
LIMITS: dict[str, Any] = {
    "position_size_cap": 500_000.0, "per_name_weight_cap": 0.05, "sector_cap": 0.60,
    "country_cap": 0.90, "cluster_cap": 0.40, "gross_cap": 3.0, "net_cap": 1.5,
    "max_adv_participation": 0.05, "max_spread_bps": 30.0, "price_collar": 0.05,
    "fat_finger_notional": 2_000_000.0, "max_open_positions": 100,
}  # fmt: skip
# Input ages as the chaos harness sets them: a long run must not turn into EXPIRED rejects.
AGES = {"max_snapshot_age_s": 86_400.0, "max_price_age_s": 86_400.0,
        "max_decision_age_s": 3_600.0, "max_emergency_age_s": None}


def ticker(i: int) -> str:
    return f"T{i:05d}"


def market_body(i: int, as_of: float) -> dict[str, Any]:
    """The market.metrics payload of ticker ``i``."""
    price = 20.0 + (i * 37) % 480
    return b.market(ticker(i), as_of=as_of, price=price, adv=200_000.0 + (i * 7919) % 5_000_000,
                    sector=SECTORS[i % len(SECTORS)], spread_bps=1.0 + i % 9,
                    country=COUNTRIES[i % len(COUNTRIES)], cluster=f"C{i % 20}")


def market_data(body: dict[str, Any], as_of: float) -> MarketData:
    """The core value of a market payload (what the worker's codec would build)."""
    return MarketData(
        ticker=body["ticker"], price=body["price"], adv=body["adv"], spread_bps=body["spread_bps"],
        atr=body["atr"], volatility=body["volatility"], sector=body["sector"],
        country=body["country"], cluster=body["cluster"], as_of=as_of, version=body["version"],
    )


def holdings(positions: int) -> dict[str, float]:
    """``positions`` signed holdings on tickers 0..positions-1. Quantities shrink as the book
    grows, so gross exposure stays about the same and the caps bind alike at every size."""
    scale = min(1.0, 10.0 / positions) if positions else 1.0
    return {ticker(i): (-1) ** i * (10 + i % 50) * scale for i in range(positions)}


def snapshot_body(portfolio_id: str, positions: int, as_of: float) -> dict[str, Any]:
    return b.snapshot(portfolio_id, as_of=as_of, equity=EQUITY,
                      positions=holdings(positions), pnl_today=-1_000.0)


def environment(now: float) -> Environment:
    return Environment(now=now, limits=resolve_limits(PROFILE, LIMITS), profile=PROFILE,
                       config_version=1, **AGES)


def with_now(env: Environment, now: float) -> Environment:
    return dataclasses.replace(env, now=now)


def book(portfolio_id: str, positions: int, markets: dict[str, MarketData], as_of: float
         ) -> PortfolioBook:
    portfolio = Portfolio(portfolio_id, equity=EQUITY, pnl_today=-1_000.0, peak_equity=EQUITY,
                          positions=holdings(positions), as_of=as_of, snapshot_version=1)
    return PortfolioBook(portfolio, markets)


def proposal_body(k: int, portfolio_id: str, created_at: float, run: str = "") -> dict[str, Any]:
    """Decision ``k``: a spread of sizes, so OK, CAPPED, SCALED_DOWN and REJECTED all occur."""
    i = (k * 7) % TICKERS
    price = 20.0 + (i * 37) % 480
    qty = float(((k * 13) % 400) - 150) * (1 + k % 5) * 2
    return b.proposal(f"bench{run}-{k}", portfolio_id, ticker(i), qty=qty,
                      created_at=created_at, strategy_id=f"s{k % 3}",
                      confidence=round(0.6 + (k % 5) * 0.08, 2), reference_price=price)


def proposal_bytes(k: int, portfolio_id: str, created_at: float, run: str = "") -> bytes:
    return orjson.dumps(proposal_body(k, portfolio_id, created_at, run))


def portfolio_ids(run: str, count: int) -> list[str]:
    return [f"bench{run}-P{j:04d}" for j in range(count)]


def markets(as_of: float, count: int = TICKERS) -> dict[str, MarketData]:
    """Market data of tickers 0..count-1 (at least the traded universe)."""
    return {ticker(i): market_data(market_body(i, as_of), as_of)
            for i in range(max(count, TICKERS))}
