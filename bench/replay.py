"""Replay speed and memory (issue 9): seed a scratch database through the worker's own commit
step, then time ``replay_window`` over the whole window in a child process and read its peak RSS.

The evidence is what a worker writes: market, config, emergency and snapshot records through the
worker service's own appliers (those its compacted reader calls), decisions through
``BatchCommitter.persist`` in batches of 500 of one partition, on a simulated clock. No Kafka.

    python -m bench.replay [--decisions 20000] [--portfolios 64] [--rounds 3] [--keep]
                           [--profile bench/results/replay-profile.txt]

Standalone, it merges its section into ``bench/results/latest.json``. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from tests.support import builders as b
from tests.support.databases import scratch_database

from bench import workload
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.store import state as db
from riskgate.store.connect import create_pool
from riskgate.store.migrate import migrate_settings
from riskgate.worker.batch import BatchCommitter
from riskgate.worker.handler import DecisionHandler, expected_partition
from riskgate.worker.service import WorkerService

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS, BATCH = 8, 500
STEP_S = 1.0  # simulated seconds between two batches
MARKET_EVERY, SNAPSHOT_EVERY = 5, 4  # batches between market updates; a partition's batches
# between the snapshots of its portfolios


@dataclass(frozen=True, slots=True)
class Plan:
    decisions: int = 20_000
    portfolios: int = 64
    rounds: int = 3
    keep: bool = False
    profile: Path | None = None
    run: str = field(default_factory=lambda: secrets.token_hex(3))


def settings_for(database_url: str) -> Settings:
    """The seeding worker's settings and the replay's: the workload's input ages."""
    return Settings().model_copy(update={"database_url": database_url, "partitions": PARTITIONS,
                                         **workload.AGES})


@contextlib.asynccontextmanager
async def bench_database(base: Settings, keep: bool):
    """A migrated database of its own in the same cluster, dropped afterwards unless ``keep``."""
    name = f"riskgate_bench_{secrets.token_hex(4)}"
    async with scratch_database(base, name, keep=keep) as url:
        await migrate_settings(settings_for(url))
        yield name, url


class Seeder:
    """Plays a day of inputs into the worker's code: its appliers record the global histories
    and the snapshots, ``persist`` decides and stores each batch with its witnesses."""

    def __init__(self, s: Settings, pool: asyncpg.Pool, plan: Plan) -> None:
        self.plan, self.pool, self.topic = plan, pool, s.topics.proposed
        self.worker = WorkerService(s)  # never run: only its appliers and its world are used
        self.worker.pool = pool
        self.committer = BatchCommitter(pool, DecisionHandler(s, self.worker.world))
        self.ids = workload.portfolio_ids(plan.run, plan.portfolios)
        groups: dict[int, list[str]] = defaultdict(list)
        for pid in self.ids:  # each portfolio on the partition its producer's murmur2 picks
            groups[expected_partition(pid.encode(), s.partitions)].append(pid)
        self.groups = dict(sorted(groups.items()))
        self.offsets = dict.fromkeys(self.groups, 0)
        self.recent: dict[int, deque] = {p: deque(maxlen=50) for p in self.groups}
        self.versions: Counter[Any] = Counter()  # market by ticker index, snapshot by portfolio
        self.batches: Counter[int] = Counter()
        self.k = 0
        self.counts: Counter[str] = Counter()

    async def _market(self, i: int, now: float) -> None:
        v = self.versions[i] = self.versions[i] + 1
        body = workload.market_body(i, now)
        drift = 1 + 0.005 * ((v * 7 + i) % 5 - 2)  # stays inside the 5% price collar
        body.update(version=v, price=round(body["price"] * drift, 4))
        await self.worker._on_market(body["ticker"].encode(), orjson.dumps(body))
        self.counts["market"] += 1

    async def _snapshot(self, pid: str, now: float, positions: dict[str, float],
                        reflects: list[str]) -> None:
        v = self.versions[pid] = self.versions[pid] + 1
        body = b.snapshot(pid, as_of=now, equity=workload.EQUITY, version=v,
                          positions=positions, pnl_today=-1_000.0 - v)
        body["reflects_action_ids"] = reflects
        await self.worker._on_snapshot(pid.encode(), orjson.dumps(body))
        self.counts["snapshot"] += 1

    async def _executed(self, pids: list[str], now: float) -> None:
        """The order system's next snapshots: every target in flight executed and reflected."""
        async with self.pool.acquire() as conn:
            rows = await db.load_portfolios(conn, pids)
        for pid, row in rows.items():
            await self._snapshot(pid, now, row.projected(now, self.worker.world.snapshot_ttl_s),
                                 [p[1] for p in row.pending.values()])

    async def _global(self, applier, body: dict[str, Any], kind: str) -> None:
        await applier(b"global", orjson.dumps(body))
        self.counts[kind] += 1

    async def _events(self, i: int, total: int, now: float) -> None:
        """Market updates all along; an ELEVATED spell, a portfolio override and a refused
        config in the middle of the day."""
        w, em = self.worker, f"bench{self.plan.run}-E"
        if i % MARKET_EVERY == 0:
            for t in range(10):
                await self._market((i // MARKET_EVERY * 10 + t) % workload.TICKERS, now)
        if i == total * 3 // 10:
            await self._global(w._on_emergency, b.emergency(em, "ELEVATED", version=1, as_of=now),
                               "emergency")
        if i == total * 4 // 10:
            await self._global(w._on_config, b.config(
                2, "PORTFOLIO", self.ids[0], as_of=now, limits={"per_name_weight_cap": 0.03}),
                "config")
        if i == total // 2:  # inconsistent on its own: recorded as refused, never applied
            await self._global(w._on_config, b.config(3, as_of=now, limits={
                "per_name_weight_cap": 2.0}), "config")
        if i == total * 7 // 10:
            await self._global(w._on_emergency, b.emergency(em, "NORMAL", version=2, as_of=now),
                               "emergency")

    def _batch(self, partition: int, size: int, now: float) -> list[InRecord]:
        """Fresh decisions, with an occasional redelivered one and an occasional bad record."""
        group, records = self.groups[partition], []
        for _ in range(size):
            k, offset = self.k, self.offsets[partition]
            self.k, self.offsets[partition] = k + 1, offset + 1
            pid = group[k % len(group)]
            if k % 997 == 500:
                value = b'{"schema_version": "1.0", "decision_'
                self.counts["poison"] += 1
            elif k % 211 == 100 and self.recent[partition]:
                pid, value = self.recent[partition][0]
                self.counts["redelivered"] += 1
            else:
                value = workload.proposal_bytes(k, pid, now - 0.25, self.plan.run)
                self.recent[partition].append((pid, value))
            records.append(InRecord(self.topic, partition, offset, pid.encode(), value))
        return records

    async def run(self, log) -> dict[str, Any]:
        # Partitions in proportion to their portfolios: every portfolio gets about as many.
        parts = [p for _, p in sorted((j / len(g), p) for p, g in self.groups.items()
                                      for j in range(len(g)))]
        total = -(-self.plan.decisions // BATCH)
        now = b.T0
        for i in range(workload.TICKERS):
            await self._market(i, now)
        await self._global(self.worker._on_config, b.config(
            1, as_of=now, profile=workload.PROFILE, limits=workload.LIMITS), "config")
        for pid in self.ids:
            await self._snapshot(pid, now, workload.holdings(10), [])
        started = time.perf_counter()
        for i in range(total):
            now, p = b.T0 + 60 + i * STEP_S, parts[i % len(parts)]
            await self._events(i, total, now)
            size = min(BATCH, self.plan.decisions - self.k)
            await self.committer.persist(self.topic, p, self._batch(p, size, now), now)
            self.batches[p] += 1
            if self.batches[p] % SNAPSHOT_EVERY == 0:
                await self._executed(self.groups[p], now)
            if (i + 1) % max(1, total // 10) == 0:
                log(f"replay seed: {self.k:,} records, "
                    f"{self.k / (time.perf_counter() - started):,.0f}/s")
        seconds = time.perf_counter() - started
        return {"records": self.k, "seconds": round(seconds, 2),
                "rate_per_s": round(self.k / seconds, 1), "batch": BATCH,
                "events": dict(self.counts), "window": [b.T0, now + 1.0],
                "middle": b.T0 + 60 + total // 2 * STEP_S}


# Inclusive time of each stage of a replay: (label, function, the end of its file's path).
STAGES = (
    ("load_globals (config, emergency histories)", "load_globals", "replay/evidence.py"),
    ("load_portfolio (SQL, rows, witness JSON)", "load_portfolio", "replay/evidence.py"),
    ("  asyncpg Connection.fetch (incl. waiting for PostgreSQL)", "fetch", "asyncpg/connection.py"),
    ("load_market (the market rows a portfolio needs)", "load_market", "replay/evidence.py"),
    ("Replayer.replay (in memory)", "replay", "replay/engine.py"),
    ("  snapshot applies (_apply_snapshot)", "_apply_snapshot", "replay/engine.py"),
    ("  market records decoded for each decision (Replayer._market)", "_market", "replay/engine.py"),
    ("  decision decode (DecisionHandler.decode)", "decode", "worker/handler.py"),
    ("  handler (DecisionHandler.handle)", "handle", "worker/handler.py"),
    ("    book built from the row (BatchContext.book)", "book", "worker/outputs.py"),
    ("    witness (WitnessBuilder.witness)", "witness", "worker/witness.py"),
    ("    risk chain (core assess)", "assess", "core/assessment.py"),
    ("    audit details (Outcome.details)", "details", "core/outcome.py"),
    ("    payloads and rows (outputs.emit)", "emit", "worker/outputs.py"),
    ("  compare (_compare: orjson loads, _diff)", "_compare", "replay/engine.py"),
)


async def profiled(work, path: Path) -> tuple[Any, list[dict[str, Any]]]:
    """Await ``work`` under pyinstrument; write its call tree to ``path``; time each stage."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    try:
        result = await work
    finally:
        profiler.stop()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.output_text(unicode=True, color=False))
    root = profiler.last_session.root_frame()
    spent = [0.0] * len(STAGES)

    def walk(frame, inside: frozenset[int]) -> None:
        hits = frozenset(i for i, (_, fn, end) in enumerate(STAGES)
                         if frame.function == fn and (frame.file_path or "").endswith(end))
        for i in hits - inside:  # a stage nested in itself counts once
            spent[i] += frame.time
        for child in frame.children:
            walk(child, inside | hits)

    if root is not None:
        walk(root, frozenset())
    total = root.time if root is not None else 0.0
    return result, [{"stage": label, "seconds": round(t, 3),
                     "pct": round(100 * t / total, 1) if total else None}
                    for (label, _, _), t in zip(STAGES, spent, strict=True)]


def _status_mib(name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _deep_bytes(roots: list) -> int:
    """Bytes held by ``roots`` and all they reach through containers and slots, each once."""
    seen, stack, total = set(), list(roots), 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack += [*o.keys(), *o.values()]
        elif isinstance(o, list | tuple | set):
            stack += o
        elif hasattr(o, "__slots__"):
            stack += [getattr(o, a) for a in o.__slots__ if hasattr(o, a)]
    return total


def _verdict_bytes(verdicts: list) -> dict[str, int]:
    """Mean bytes a kept verdict holds, by status, from a sample of about 2,000 of each."""
    by_status: dict[str, list] = defaultdict(list)
    for v in verdicts:
        by_status[v.status].append(v)
    sample = {k: vs[:: max(1, len(vs) // 2000)] for k, vs in by_status.items()}
    return {k: _deep_bytes(vs) // len(vs) for k, vs in sample.items()}


async def _child(url: str, start: float, end: float, profile: str | None) -> dict[str, Any]:
    """One replay of [start, end] in this process, as ``riskgate replay`` runs it."""
    from riskgate.admin_errors import connect_postgres
    from riskgate.replay.run import replay_window

    s = settings_for(url)
    conn = await connect_postgres(s)
    t1, t2 = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    before, stages = _status_mib("VmRSS"), None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        if profile:
            report, stages = await profiled(replay_window(conn, s, t1, t2), Path(profile))
        else:
            report = await replay_window(conn, s, t1, t2)
    finally:
        await conn.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _status_mib("VmHWM")  # before the measuring below allocates
    sizes = _verdict_bytes(report.verdicts)  # the findings: identical ones are only counted
    odd = report.verdicts[:5]
    return {"decisions": report.decisions, "portfolios": len(report.portfolios),
            "max_per_portfolio": max((c.total() for c in report.by_portfolio.values()), default=0),
            "counts": dict(report.counts), "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
            "rss_before_mib": before, "peak_rss_mib": peak, "verdict_bytes": sizes,
            "verdicts_mib": round(sum(sizes.get(k, 0) * n for k, n in report.counts.items())
                                  / 2**20, 1),
            "stages": stages, "problems": [[v.decision_id, v.status, v.reason,
                                            [_shown(d) for d in v.differences[:3]]] for v in odd]}


def _shown(d: Any) -> list[Any]:
    """A difference, with only the differing items of two lists of the same length."""
    if isinstance(d.stored, list) and isinstance(d.replayed, list) and len(d.stored) == len(d.replayed):
        return [d.field, "differing items", [[a, b] for a, b in zip(d.stored, d.replayed, strict=True)
                                             if a != b][:3]]
    return [d.field, d.stored, d.replayed]


def replay_once(url: str, start: float, end: float, profile: Path | None = None) -> dict[str, Any]:
    """Run the replay in a fresh interpreter, so that its peak RSS is the replay's own."""
    argv = [sys.executable, "-m", "bench.replay", "--child", url, str(start), str(end)]
    argv += ["--profile", str(profile)] if profile else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services")])}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"replay child exited {done.returncode}: {done.stderr[-2000:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    run["decisions_per_s"] = round(run["decisions"] / run["seconds"], 1)
    run["us_per_decision"] = round(1e6 * run["seconds"] / max(run["decisions"], 1), 2)
    return run


async def section(plan: Plan, log) -> dict[str, Any]:
    """Seed; replay the whole window ``plan.rounds`` times and its first half once; profile."""
    async with bench_database(Settings(), plan.keep) as (name, url):
        pool = await create_pool(settings_for(url), min_size=1, max_size=2,
                                 init=db.init_connection)
        try:
            log(f"replay: seeding {plan.decisions:,} records into {name} ...")
            seed = await Seeder(settings_for(url), pool, plan).run(log)
            size = await pool.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await pool.close()
        start, end = seed["window"]
        full = []
        for r in range(plan.rounds):
            full.append(replay_once(url, start, end))
            log(f"replay round {r}: {full[-1]['decisions_per_s']:,.0f} decisions/s, "
                f"peak RSS {full[-1]['peak_rss_mib']} MiB, {full[-1]['counts']}")
        half = replay_once(url, start, seed["middle"])
        profile = replay_once(url, start, end, plan.profile) if plan.profile else None
    return summarise(plan, name, size, seed, full, half, profile)


def _at_million(full: dict, half: dict) -> float:
    """Peak RSS at 1,000,000 decisions (same portfolio count): the line through two windows."""
    slope = (full["peak_rss_mib"] - half["peak_rss_mib"]) / max(full["decisions"] - half["decisions"], 1)
    return round(full["peak_rss_mib"] + slope * (1_000_000 - full["decisions"]), 1)


def summarise(plan: Plan, name: str, size: int, seed: dict, full: list[dict], half: dict,
              profile: dict | None) -> dict[str, Any]:
    """Medians of the rounds, the verdict counts, and the peak RSS measured and projected."""
    last, counts = full[-1], [r["counts"] for r in full]
    return {
        "plan": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan).items()},
        "database": {"name": name, "kept": plan.keep, "size_mib": round(size / 2**20, 1)},
        "seed": seed, "runs": full, "half_window": half, "profile": profile,
        "decisions": last["decisions"],
        "decisions_per_portfolio": round(last["decisions"] / max(last["portfolios"], 1)),
        "max_decisions_per_portfolio": last["max_per_portfolio"],
        "decisions_per_s": statistics.median(r["decisions_per_s"] for r in full),
        "us_per_decision": statistics.median(r["us_per_decision"] for r in full),
        "cpu_share": round(statistics.median(r["cpu_seconds"] / r["seconds"] for r in full), 3),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in full),
        "verdict_bytes": last["verdict_bytes"], "verdicts_mib": last["verdicts_mib"],
        "peak_rss_mib_at_1m": _at_million(last, half) if last["decisions"] < 1_000_000 else None,
        "counts": counts[-1], "counts_stable": all(c == counts[0] for c in counts),
        "all_identical": all(c.get("identical", 0) == r["decisions"]
                             for c, r in zip(counts, full, strict=True)),
    }


def replay_goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's replay goals, in the shape of ``report.goals`` rows."""
    if not r:
        return []
    rss, label = r["peak_rss_mib"], f"measured at {r['decisions']:,} decisions"
    if r.get("peak_rss_mib_at_1m"):
        rss, label = r["peak_rss_mib_at_1m"], f"projected from {r['decisions']:,}"
    rows = [("replay >= 20,000 decisions/s", r["decisions_per_s"], 20_000.0, True),
            (f"replay peak RSS <= 300 MiB for 1,000,000 decisions ({label})", rss, 300.0, False),
            ("replay: every stored decision identical (share)",
             r["counts"].get("identical", 0) / max(r["decisions"], 1), 1.0, True)]
    return [{"goal": name, "value": round(value, 3),
             "met": value >= limit if higher else value <= limit,
             "gap": f"{value / limit:.2f}x of the goal"} for name, value, limit, higher in rows]


def replay_table(r: dict[str, Any]) -> list[str]:
    """The markdown rows of ``latest.md`` for this section."""
    if not r:
        return []
    seed, at = r["seed"], r.get("peak_rss_mib_at_1m")
    lines = [f"## Replay ({r['decisions']:,} decisions, {r['runs'][0]['portfolios']} portfolios, "
             f"up to {r['max_decisions_per_portfolio']:,} per portfolio; child process, "
             f"median of {len(r['runs'])})", "",
             "| measure | value |", "|---|---|",
             f"| seeding through BatchCommitter.persist | {seed['rate_per_s']:,.0f} records/s |",
             f"| replay_window | {r['decisions_per_s']:,.0f} decisions/s, "
             f"{r['us_per_decision']:,.0f} µs per decision (CPU share {r['cpu_share']}) |",
             f"| peak RSS | {r['peak_rss_mib']:,} MiB |",
             f"| kept verdicts (deep size; bytes each by status) | {r['verdicts_mib']:,} MiB; "
             f"{r['verdict_bytes']} |",
             f"| verdicts | {r['counts']} (all identical: {r['all_identical']}) |"]
    if at is not None:
        lines.append(f"| peak RSS at 1,000,000 (line through the whole and the half window) "
                     f"| {at:,} MiB |")
    stages = (r.get("profile") or {}).get("stages") or []
    if stages:
        lines += ["", "| replay stage (pyinstrument, inclusive) | s | % |", "|---|---|---|"]
        lines += [f"| {x['stage']} | {x['seconds']} | {x['pct']} |" for x in stages]
    return [*lines, ""]


def merge_into_latest(result: dict[str, Any], out: Path) -> None:
    """Put the section into ``latest.json`` beside the other sections' results; re-render."""
    from bench import run

    path = out / "latest.json"
    results = json.loads(path.read_text()) if path.exists() else {"meta": {}, "errors": []}
    results["replay"] = result
    run.write(results, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Plan()
    parser.add_argument("--child", nargs=3, metavar=("URL", "START", "END"), help=argparse.SUPPRESS)
    parser.add_argument("--decisions", type=int, default=default.decisions)
    parser.add_argument("--portfolios", type=int, default=default.portfolios)
    parser.add_argument("--rounds", type=int, default=default.rounds)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", type=Path, help="also profile one replay (pyinstrument) here")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.child:
        url, start, end = args.child
        profile = str(args.profile) if args.profile else None
        print(json.dumps(asyncio.run(_child(url, float(start), float(end), profile))))
        return
    from bench.run import _ensure_infra, log

    _ensure_infra()
    plan = Plan(args.decisions, args.portfolios, args.rounds, args.keep, args.profile)
    result = asyncio.run(section(plan, log))
    merge_into_latest(result, args.out)
    skip = ("runs", "seed", "half_window", "profile")
    print(json.dumps({k: v for k, v in result.items() if k not in skip}, indent=1))


if __name__ == "__main__":
    main()
