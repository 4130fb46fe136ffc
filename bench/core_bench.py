"""Micro-benchmark of the risk core: microseconds per decision for the full chain with trace.

Prints JSON. Importable: ``measure(...)`` returns the numbers for one book size and
``main()`` runs the default sizes. It never asserts on time.

    .venv/bin/python bench/core_bench.py [--decisions N] [--rounds R] [--positions 10 100 ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from riskgate.core import (
    Environment,
    MarketData,
    Portfolio,
    PortfolioBook,
    Proposal,
    assess,
    assess_batch,
    chain_for,
    resolve_limits,
)

NOW = 1_800_000_000.0
SECTORS = ("TECH", "ENERGY", "HEALTH", "FIN", "UTIL")
COUNTRIES = ("US", "DE", "JP")
LIMIT_OVERLAY = {
    "position_size_cap": 50_000.0, "per_name_weight_cap": 0.05, "sector_cap": 0.60,
    "country_cap": 0.90, "cluster_cap": 0.40, "factor_caps": {"momentum": 0.5},
    "gross_cap": 3.0, "net_cap": 1.5, "max_adv_participation": 0.05, "max_spread_bps": 30.0,
    "price_collar": 0.05, "fat_finger_notional": 200_000.0, "strategy_budget": 2.0,
}  # fmt: skip


def _market(i: int) -> MarketData:
    price = 20.0 + (i * 37) % 480
    return MarketData(
        ticker=f"T{i:05d}", price=price, adv=200_000.0 + (i * 7919) % 5_000_000,
        spread_bps=1.0 + i % 9, atr=price * 0.02, tick_size=0.01, lot_size=1.0,
        sector=SECTORS[i % len(SECTORS)], country=COUNTRIES[i % len(COUNTRIES)],
        cluster=f"C{i % 40}", factors=(("momentum", ((i % 11) - 5) / 10.0),),
        as_of=NOW - 1.0, version=1,
    )


def scenario(positions: int, decisions: int, all_caps: bool = True
             ) -> tuple[PortfolioBook, dict[str, MarketData], list[Proposal], Environment]:
    """A deterministic book of ``positions`` names and ``decisions`` proposals on them.

    ``all_caps`` enables every cap of the chain (LIMIT_OVERLAY); else the NORMAL profile."""
    universe = max(positions, 50)
    markets = {m.ticker: m for m in map(_market, range(universe))}
    holdings = {f"T{i:05d}": float((-1) ** i * (10 + i % 50)) for i in range(positions)}
    portfolio = Portfolio("bench", equity=10_000_000.0, pnl_today=-1_000.0,
                          peak_equity=10_200_000.0, positions=holdings, as_of=NOW - 5.0,
                          snapshot_version=1)
    book = PortfolioBook(portfolio, markets)
    limits = resolve_limits("NORMAL", LIMIT_OVERLAY if all_caps else None)
    env = Environment(now=NOW, limits=limits, config_version=1)
    proposals = []
    for k in range(decisions):
        ticker = f"T{(k * 7) % universe:05d}"
        qty = float(((k * 13) % 400) - 150)
        proposals.append(Proposal(
            decision_id=f"bench-{k}", strategy_id=f"s{k % 3}", portfolio_id="bench",
            ticker=ticker, target_quantity=qty, confidence=0.6 + (k % 5) * 0.08,
            created_at=NOW - 2.0, reference_price=markets[ticker].price,
        ))  # fmt: skip
    return book, markets, proposals, env


def _round(book, markets, proposals, env) -> float:
    start = time.perf_counter()
    for proposal in proposals:
        assess(proposal, book, markets[proposal.ticker], env)
    return (time.perf_counter() - start) / len(proposals) * 1e6


def measure(positions: int = 10, decisions: int = 2000, rounds: int = 7,
            all_caps: bool = True) -> dict[str, Any]:
    """Median microseconds per decision over ``rounds`` (chain with trace; batch with
    incremental book updates; the lazily built audit dict on top)."""
    book, markets, proposals, env = scenario(positions, decisions, all_caps)
    _round(book, markets, proposals, env)  # warm caches
    chain = statistics.median(_round(book, markets, proposals, env) for _ in range(rounds))
    batch_times, detail_times = [], []
    for _ in range(rounds):
        copy = book.copy()
        start = time.perf_counter()
        outcomes = assess_batch(proposals, copy, markets, env)
        batch_times.append((time.perf_counter() - start) / decisions * 1e6)
        start = time.perf_counter()
        for outcome in outcomes:
            outcome.details()
        detail_times.append((time.perf_counter() - start) / decisions * 1e6)
    kinds: dict[str, int] = {}
    for outcome in outcomes:
        kinds[outcome.action_type.value] = kinds.get(outcome.action_type.value, 0) + 1
    return {
        "limits": "every cap enabled" if all_caps else "NORMAL profile",
        "constraints_in_chain": len(chain_for(env.limits).names),
        "positions": positions, "decisions": decisions, "rounds": rounds,
        "us_per_decision_chain_with_trace": round(chain, 3),
        "us_per_decision_batch_with_book_updates": round(statistics.median(batch_times), 3),
        "us_per_details_dict": round(statistics.median(detail_times), 3),
        "action_types": dict(sorted(kinds.items())),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark for each book size and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--positions", type=int, nargs="+", default=[10, 100, 1000, 10000])
    args = parser.parse_args(argv)
    result = {
        "python": sys.version.split()[0],
        "results": [measure(n, args.decisions, args.rounds, all_caps)
                    for all_caps in (True, False) for n in args.positions],
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
