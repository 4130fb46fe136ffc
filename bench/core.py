"""In-process numbers: µs per decision for the chain, bytes to bytes, the worker's handler,
and how they grow with positions per portfolio and with the number of portfolios.

Each figure is the median of ``rounds`` timed passes after one warm-up pass.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import pipeline
from bench import workload as w
from riskgate.contracts.decode import decode_proposed
from riskgate.core import assess
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.store.state import PortfolioRow
from riskgate.worker import codec
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler, expected_partition

NOW = 1_800_000_000.0


def _median_us(fn: Callable[[], int], rounds: int) -> float:
    """Median µs per item; ``fn`` runs one pass and returns how many items it did."""
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        count = fn()
        times.append((time.perf_counter() - start) / count * 1e6)
    return round(statistics.median(times), 3)


def chain_and_bytes(decisions: int = 2000, rounds: int = 7, positions: int = 10) -> dict[str, Any]:
    """The chain alone, and bytes -> decode -> chain -> encode, on one book of ``positions``."""
    markets = w.markets(NOW - 1, positions)
    env = w.environment(NOW)
    book = w.book("bench-P0", positions, markets, NOW - 5)
    raws = [w.proposal_bytes(k, "bench-P0", NOW - 2) for k in range(decisions)]
    proposals = [codec.proposal(decode_proposed(r, max_bytes=pipeline.MAX_BYTES))
                 for r in raws]
    now_text = pipeline.rfc3339(NOW)

    def chain() -> int:
        for p in proposals:
            assess(p, book, markets[p.ticker], env)
        return len(proposals)

    def bytes_to_bytes() -> int:
        for raw in raws:
            pipeline.decide(raw, book, markets, env, now_text)
        return len(raws)

    kinds: dict[str, int] = {}
    for p in proposals:
        kind = assess(p, book, markets[p.ticker], env).action_type.value
        kinds[kind] = kinds.get(kind, 0) + 1
    return {"positions": positions, "decisions": decisions, "rounds": rounds,
            "chain_us": _median_us(chain, rounds), "bytes_to_bytes_us": _median_us(bytes_to_bytes, rounds),
            "action_types": dict(sorted(kinds.items()))}


def core_bench_chain(decisions: int, rounds: int, positions: Sequence[int]) -> dict[str, Any]:
    """The core owner's own figure (bench/core_bench.py), when its ``measure`` is importable."""
    try:
        from bench.core_bench import measure
    except Exception as exc:  # noqa: BLE001 - another engineer's file: report, never crash
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        return {"available": True,
                "results": [measure(n, decisions, rounds) for n in positions]}
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}


def handler(decisions: int = 2000, rounds: int = 7, portfolios: int = 64) -> dict[str, Any]:
    """The worker's own synchronous part per decision: ``DecisionHandler.decode`` + ``handle``
    (codec, chain, action and target dicts, payloads, stored rows, metrics), without I/O."""
    settings = Settings()
    world = GlobalState(snapshot_ttl_s=86_400, **w.AGES)
    world.market.update(w.markets(NOW - 1))
    world.config.apply(1, "GLOBAL", None, w.PROFILE, w.LIMITS, None)
    ids = [f"bench-P{j:04d}" for j in range(portfolios)]
    # Each on its portfolio's own partition, as the worker receives them (a misrouted record
    # costs a warning and a metric that the worker would not pay).
    records = [InRecord("bench", expected_partition(ids[k % portfolios].encode(), settings.partitions),
                        k, ids[k % portfolios].encode(), w.proposal_bytes(k, ids[k % portfolios], NOW - 2))
               for k in range(decisions)]
    h = DecisionHandler(settings, world)

    def rows() -> dict[str, PortfolioRow]:
        return {pid: PortfolioRow(pid, 1, NOW - 5, w.EQUITY, w.EQUITY, -1_000.0, w.EQUITY,
                                  w.holdings(10)) for pid in ids}

    def one_batch() -> int:
        items = [h.decode(r) for r in records]
        h.handle(items, rows(), set(), NOW)
        return len(records)

    return {"decisions": decisions, "portfolios": portfolios,
            "handler_us": _median_us(one_batch, rounds)}


def growth_positions(sizes: Sequence[int], decisions: int, rounds: int) -> list[dict[str, Any]]:
    return [chain_and_bytes(decisions, rounds, n) for n in sizes]


def growth_portfolios(counts: Sequence[int], decisions: int, rounds: int,
                      positions: int = 10) -> list[dict[str, Any]]:
    """Chain µs when decisions are spread over ``count`` books (cache locality, dict sizes)."""
    markets = w.markets(NOW - 1)
    env = w.environment(NOW)
    out = []
    for count in counts:
        books = [w.book(f"bench-P{j}", positions, markets, NOW - 5) for j in range(count)]
        n = max(decisions, count)
        proposals = [codec.proposal(decode_proposed(
            w.proposal_bytes(k, f"bench-P{k % count}", NOW - 2), max_bytes=pipeline.MAX_BYTES))
            for k in range(n)]
        pairs = [(p, books[k % count], markets[p.ticker]) for k, p in enumerate(proposals)]

        def chain(pairs=pairs) -> int:
            for p, book, market in pairs:
                assess(p, book, market, env)
            return len(pairs)

        out.append({"portfolios": count, "decisions": n, "chain_us": _median_us(chain, rounds)})
    return out
