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

from bench import footprint as bytes_written
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


async def fresh_run(plan: Plan, partitions: int, base: Settings | None = None
                    ) -> tuple[str, Settings, list[str]]:
    """A run id, its settings (own topics, group, transactional ids) and its seeded portfolios."""
    run = uuid.uuid4().hex[:8]
    s = kio.run_settings(base or Settings(), run, partitions)
    portfolio_ids = w.portfolio_ids(run, plan.portfolios)
    await kio.prepare(s, portfolio_ids, plan.positions)
    return run, s, portfolio_ids


async def saturate(system: str, plan: Plan, workers: int = 1, partitions: int | None = None,
                   on_start: Callable[[list], None] | None = None, base: Settings | None = None,
                   footprint: bool = False) -> dict[str, Any]:
    """Pre-load ``plan.decisions``, start the system, time until every target is visible.
    ``on_start`` gets the started processes (the profiler attaches there); ``base`` has the
    connection settings (default ``Settings()``); ``footprint`` adds the bytes per decision
    written to Kafka and PostgreSQL (bench/footprint.py)."""
    partitions = partitions or plan.partitions
    run, s, portfolio_ids = await fresh_run(plan, partitions, base)
    n = plan.decisions
    await kio.preload(s, kio.decisions(run, portfolio_ids, n))
    collector = kio.Collector(s, s.topics.targets, partitions)
    await collector.start()
    before = await bytes_written.pg_mark(s) if footprint else None
    started = time.time()
    children = procs.start(system, s, workers, plan.log_dir)
    probe = procs.CpuProbe([p.pid for p in children])
    if on_start is not None:
        on_start(children)
    marks = window_marks(collector, n, probe, children)
    extra: dict[str, Any] = {}
    try:
        complete = await collector.until(n, plan.deadline_s, alive=procs.alive(children))
    finally:
        codes = await asyncio.to_thread(procs.stop, children)
        await collector.stop()
        if before is not None:
            extra["bytes"] = await _footprint(s, run, n, before)
        await kio.drop_run(s, run)
    result: dict[str, Any] = {"system": system, "workers": workers, "partitions": partitions,
                              "decisions": n, "complete": complete, "exit_codes": codes,
                              "seen": collector.count, "disturbed": probe.disturbed(), **extra,
                              **throughput_window(marks)}
    if complete:
        result["wall_s_incl_startup"] = round(collector.time_at(n) - started, 2)
    return result


def window_marks(collector: kio.Collector, n: int, probe: procs.CpuProbe,
                 children: list) -> dict[str, Any]:
    """Filled when 10% and 90% of ``n`` targets have been seen: time, count, CPU, memory."""
    marks: dict[str, Any] = {}

    def mark(name: str) -> None:
        marks[name] = (time.time(), collector.count, probe.sample(),
                       [procs.rss_mib(p.pid) for p in children])

    collector.at(max(1, n // 10), lambda: mark("lo"))
    collector.at(n * 9 // 10, lambda: mark("hi"))
    return marks


def throughput_window(marks: dict[str, Any]) -> dict[str, Any]:
    """Rate, CPU shares and memory between the 10% and the 90% marks (none if not reached)."""
    if "lo" not in marks or "hi" not in marks:
        return {}
    (t0, c0, cpu0, _), (t1, c1, cpu1, rss) = marks["lo"], marks["hi"]
    return {"rate_per_s": round((c1 - c0) / max(t1 - t0, 1e-9), 1), "window_s": round(t1 - t0, 2),
            "cpu_pct": procs.CpuProbe.shares(cpu0, cpu1, t1 - t0), "rss_mib": rss}


async def _footprint(s: Settings, run: str, n: int, before: dict[str, Any]) -> dict[str, Any]:
    try:
        return await bytes_written.measure(s, run, n, before)
    except Exception as exc:  # noqa: BLE001 - recorded, the run's throughput still counts
        return {"error": f"{type(exc).__name__}: {exc}"}


async def paced(system: str, plan: Plan, max_rate: float, workers: int = 1) -> list[dict[str, Any]]:
    """Start the system, warm it up, then send at each level of ``max_rate`` for
    ``plan.paced_seconds``; the latency of every decision, per level."""
    rates = [max(1.0, level * max_rate) for level in plan.levels]
    runs = await paced_at(system, plan, rates, workers)
    return [{"level": level, **run} for level, run in zip(plan.levels, runs, strict=True)]


async def paced_at(system: str, plan: Plan, rates: list[float], workers: int = 1,
                   base: Settings | None = None, drain_s: float = 60.0) -> list[dict[str, Any]]:
    """Start the system, warm it up, then send at each of ``rates`` (per second) for
    ``plan.paced_seconds``, waiting at most ``drain_s`` more for the last target; the latency
    of every decision, per rate."""
    run, s, portfolio_ids = await fresh_run(plan, plan.partitions, base)
    collector = kio.Collector(s, s.topics.targets, plan.partitions)
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
        for rate in rates:
            results.append(await paced_level(s, collector, run, portfolio_ids, first, rate,
                                             plan, drain_s, procs.alive(children)))
            first += results[-1]["decisions"]
    finally:
        await asyncio.to_thread(procs.stop, children)
        await collector.stop()
        await kio.drop_run(s, run)
    disturbed = probe.disturbed()
    return [{**level, "disturbed": disturbed} for level in results]


async def paced_level(s: Settings, collector: kio.Collector, run: str, portfolio_ids: list[str],
                      first: int, rate: float, plan: Plan, drain_s: float,
                      alive: Callable[[], bool]) -> dict[str, Any]:
    """Send decisions ``first``.. at ``rate`` for ``plan.paced_seconds`` to a running system;
    their latencies, and the rates sent, delivered and kept."""
    payloads = kio.decisions(run, portfolio_ids, max(10, int(rate * plan.paced_seconds)), first)
    sent: dict[str, float] = {}
    expected = collector.count + len(payloads)
    sender = asyncio.create_task(kio.paced_send(s, payloads, rate, sent))
    complete = await collector.until(expected, plan.paced_seconds + drain_s, track_ids=True,
                                     alive=alive)
    achieved = await sender
    latencies = [(collector.seen_at[d] - t) * 1000 for d, t in sent.items() if d in collector.seen_at]
    last_seen = max((collector.seen_at.get(d, 0.0) for d in sent), default=0.0)
    first_sent = min(sent.values())
    p50 = percentile(latencies, 0.50)
    # The typical latency taken off the window: a system that keeps up comes out at the paced
    # rate, one that falls behind at about what it can do (its late tail stretches the window).
    kept = len(latencies) / max(last_seen - first_sent - (p50 or 0.0) / 1000, 1e-9)
    return {
        "target_rate": round(rate, 1), "sent_rate": round(achieved, 1),
        "delivered_rate": round(len(latencies) / max(last_seen - first_sent, 1e-9), 1),
        "kept_rate": round(kept, 1),
        "decisions": len(payloads), "delivered": len(latencies), "complete": complete,
        "p50_ms": _round(p50), "p99_ms": _round(percentile(latencies, 0.99)),
        "max_ms": _round(max(latencies, default=None)),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
