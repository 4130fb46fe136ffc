"""End-to-end runs on the real broker: saturate one system, or pace it and measure latency.

Every run has its own topics, consumer group and transactional ids, and is torn down after.
Throughput is taken over the window in which 10% to 90% of the targets became visible to a
read_committed reader, so start-up, group join and the tail do not count; latency is from the
producer's send timestamp to that reader seeing the target.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import kafka_io as kio
from bench import procs
from bench import workload as w
from riskgate.settings import Settings


@dataclass(frozen=True)
class Plan:
    decisions: int = 20_000  # pre-loaded per saturate run
    portfolios: int = 64
    positions: int = 10
    partitions: int = 8
    paced_seconds: float = 8.0
    levels: tuple[float, ...] = (0.25, 0.5, 0.9)
    rounds: int = 3
    deadline_s: float = 300.0
    log_dir: Path = field(default=Path("/tmp/riskgate-bench"))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _fresh(plan: Plan, partitions: int) -> tuple[str, Settings, list[str]]:
    run = uuid.uuid4().hex[:8]
    s = kio.run_settings(Settings(), run, partitions)
    portfolio_ids = w.portfolio_ids(run, plan.portfolios)
    await kio.prepare(s, portfolio_ids, plan.positions)
    return run, s, portfolio_ids


async def saturate(system: str, plan: Plan, workers: int = 1, partitions: int | None = None,
                   on_start: Callable[[list], None] | None = None) -> dict[str, Any]:
    """Pre-load ``plan.decisions``, start the system, time until every target is visible.
    ``on_start`` gets the started processes (the profiler attaches there)."""
    partitions = partitions or plan.partitions
    run, s, portfolio_ids = await _fresh(plan, partitions)
    n = plan.decisions
    await kio.preload(s, kio.decisions(run, portfolio_ids, n))
    collector = kio.Collector(s.bootstrap_servers, s.topics.targets, partitions)
    await collector.start()
    started = time.time()
    children = procs.start(system, s, workers, plan.log_dir)
    probe = procs.CpuProbe([p.pid for p in children])
    if on_start is not None:
        on_start(children)
    marks: dict[str, Any] = {}

    def mark(name: str) -> None:
        marks[name] = (time.time(), collector.count, probe.sample(),
                       [procs.rss_mib(p.pid) for p in children])

    collector.at(max(1, n // 10), lambda: mark("lo"))
    collector.at(n * 9 // 10, lambda: mark("hi"))
    try:
        complete = await collector.until(n, plan.deadline_s, alive=procs.alive(children))
    finally:
        codes = await asyncio.to_thread(procs.stop, children)
        await collector.stop()
        await kio.drop_run(s, run)
    result: dict[str, Any] = {"system": system, "workers": workers, "partitions": partitions,
                              "decisions": n, "complete": complete, "exit_codes": codes,
                              "seen": collector.count, "disturbed": probe.disturbed()}
    if "lo" in marks and "hi" in marks:
        (t0, c0, cpu0, _), (t1, c1, cpu1, rss) = marks["lo"], marks["hi"]
        result.update(rate_per_s=round((c1 - c0) / max(t1 - t0, 1e-9), 1),
                      window_s=round(t1 - t0, 2), cpu_pct=procs.CpuProbe.shares(cpu0, cpu1, t1 - t0),
                      rss_mib=rss)
    if complete:
        result["wall_s_incl_startup"] = round(collector.time_at(n) - started, 2)
    return result


async def paced(system: str, plan: Plan, max_rate: float, workers: int = 1) -> list[dict[str, Any]]:
    """Start the system, warm it up, then send at each level of ``max_rate`` for
    ``plan.paced_seconds``; the latency of every decision, per level."""
    run, s, portfolio_ids = await _fresh(plan, plan.partitions)
    collector = kio.Collector(s.bootstrap_servers, s.topics.targets, plan.partitions)
    await collector.start()
    children = procs.start(system, s, workers, plan.log_dir)
    probe = procs.CpuProbe([p.pid for p in children])
    results = []
    try:
        warm = kio.decisions(run, portfolio_ids, plan.partitions * 25)
        await kio.preload(s, warm)
        if not await collector.until(len(warm), 180, track_ids=True, alive=procs.alive(children)):
            raise RuntimeError(f"{system} did not answer the warm-up within 180 s")
        first = len(warm)
        for level in plan.levels:
            results.append(await _level(s, collector, run, portfolio_ids, first, level,
                                        max_rate, plan, procs.alive(children)))
            first += results[-1]["decisions"]
    finally:
        await asyncio.to_thread(procs.stop, children)
        await collector.stop()
        await kio.drop_run(s, run)
    disturbed = probe.disturbed()
    return [{**level, "disturbed": disturbed} for level in results]


async def _level(s: Settings, collector: kio.Collector, run: str, portfolio_ids: list[str],
                 first: int, level: float, max_rate: float, plan: Plan,
                 alive: Callable[[], bool]) -> dict[str, Any]:
    rate = max(1.0, level * max_rate)
    payloads = kio.decisions(run, portfolio_ids, max(10, int(rate * plan.paced_seconds)), first)
    sent: dict[str, float] = {}
    expected = collector.count + len(payloads)
    sender = asyncio.create_task(kio.paced_send(s, payloads, rate, sent))
    complete = await collector.until(expected, plan.paced_seconds + 60, track_ids=True,
                                     alive=alive)
    achieved = await sender
    latencies = [(collector.seen_at[d] - t) * 1000 for d, t in sent.items() if d in collector.seen_at]
    last_seen = max((collector.seen_at.get(d, 0.0) for d in sent), default=0.0)
    first_sent = min(sent.values())
    return {
        "level": level, "target_rate": round(rate, 1), "sent_rate": round(achieved, 1),
        "delivered_rate": round(len(latencies) / max(last_seen - first_sent, 1e-9), 1),
        "decisions": len(payloads), "complete": complete,
        "p50_ms": _round(percentile(latencies, 0.50)), "p99_ms": _round(percentile(latencies, 0.99)),
        "max_ms": _round(max(latencies, default=None)),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
