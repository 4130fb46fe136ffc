"""Linger and batch tuning: the riskgate worker on each Kafka client at a few settings of
``publish_linger_ms``, ``batch_max_records`` and ``batch_timeout_ms``.

One worker process per configuration and round: ``decisions`` are pre-loaded, the worker is
started and its throughput taken over the 10%-90% window as in ``e2e.saturate``; then, warm,
it is paced at one fixed rate for ``plan.paced_seconds`` for p50 and p99. The configurations
alternate inside every round, the two clients interleaved and who goes first rotating, so
drift hits all alike. The summary takes medians over the rounds, and ratios to the client's
current default taken pair by pair within a round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple

from bench import e2e, procs
from bench import kafka_io as kio
from bench.equal_rate import KEEP_UP, drain_seconds
from bench.sections import _retrying, median, pair_ratios, rotated
from riskgate.settings import Settings

LINGER_MS = (0, 2, 5)
BATCH_MAX = (100, 500)
SHORT_TIMEOUT_MS = 10
CLIENTS = tuple(procs.WORKER_CLIENTS)  # riskgate (aiokafka), riskgate_confluent


class Config(NamedTuple):
    system: str
    linger_ms: int
    batch_max: int
    timeout_ms: int

    @property
    def key(self) -> str:
        return f"{self.system}/linger {self.linger_ms}/batch {self.batch_max}/timeout {self.timeout_ms}"

    def settings(self) -> Settings:
        return Settings().model_copy(update={"publish_linger_ms": self.linger_ms,
                                             "batch_max_records": self.batch_max,
                                             "batch_timeout_ms": self.timeout_ms})


def default(system: str) -> Config:
    """The configuration the code ships with (settings.py's defaults, not the environment's)."""
    fields = Settings.model_fields
    return Config(system, fields["publish_linger_ms"].default,
                  fields["batch_max_records"].default, fields["batch_timeout_ms"].default)


def grid() -> list[Config]:
    """Every linger x batch size at the default timeout, and the short timeout at the default
    linger and batch size; for each client, the clients interleaved."""
    out = []
    for system in CLIENTS:
        base = default(system)
        out += [base._replace(linger_ms=linger, batch_max=batch)
                for linger in LINGER_MS for batch in BATCH_MAX]
        out.append(base._replace(timeout_ms=SHORT_TIMEOUT_MS))
    return sorted(out, key=lambda c: (c[1:], c.system))


def paced_rate(max_rate: dict[str, float | None]) -> int:
    """50% of riskgate's saturated max from the e2e section (the higher equal rate), else 1000."""
    riskgate = max_rate.get("riskgate")
    return int(0.5 * riskgate) if riskgate else 1_000


async def _one(cfg: Config, plan: e2e.Plan, decisions: int, rate: float) -> dict[str, Any]:
    """Saturate one worker with ``decisions``, then pace it at ``rate``."""
    run, s, portfolio_ids = await e2e.fresh_run(plan, plan.partitions, cfg.settings())
    await kio.preload(s, kio.decisions(run, portfolio_ids, decisions))
    collector = kio.Collector(s, s.topics.targets, plan.partitions)
    await collector.start()
    children = procs.start(cfg.system, s, 1, plan.log_dir)
    probe = procs.CpuProbe([p.pid for p in children])
    marks = e2e.window_marks(collector, decisions, probe, children)
    alive = procs.alive(children)
    paced = None
    try:
        complete = await collector.until(decisions, plan.deadline_s, alive=alive)
        if complete:
            paced = await e2e.paced_level(s, collector, run, portfolio_ids, decisions, rate, plan,
                                          drain_seconds(plan), alive)
    finally:
        codes = await asyncio.to_thread(procs.stop, children)
        await collector.stop()
        await kio.drop_run(s, run)
    kept_up = bool(paced and paced["complete"] and paced["kept_rate"] >= KEEP_UP * rate)
    return {"config": cfg.key, "complete": complete, "exit_codes": codes,
            "disturbed": probe.disturbed(), **e2e.throughput_window(marks),
            "paced": paced, "kept_up": kept_up}


def _ok(run: dict[str, Any]) -> bool:
    return bool(run.get("complete")) and not run.get("disturbed") and "rate_per_s" in run


async def measure(plan: e2e.Plan, max_rate: dict[str, float | None], rounds: int,
                  decisions: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Every configuration of ``grid()``, ``rounds`` alternated times."""
    configs, rate = grid(), paced_rate(max_rate)
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in configs}
    for r in range(rounds):
        for cfg in rotated(tuple(configs), r):
            run, attempts = await _retrying(lambda c=cfg: _one(c, plan, decisions, rate), _ok)
            runs[cfg.key].append({**run, "attempts": attempts, "round": r})
            paced = run.get("paced") or {}
            log(f"tuning {cfg.key} round {r}: {run.get('rate_per_s')} decisions/s, "
                f"p50/p99 {paced.get('p50_ms')}/{paced.get('p99_ms')} ms at {rate}/s")
    return {"measured": True, "paced_rate": rate, "decisions": decisions, "rounds": rounds,
            "runs": runs, "summary": summary(configs, runs)}


def _column(runs: list[dict[str, Any]], key: str) -> list[float | None]:
    """``key`` of each round's paced run; none for a round that did not keep up."""
    return [(run["paced"] or {}).get(key) if run.get("kept_up") else None for run in runs]


def summary(configs: list[Config], runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per configuration: medians, and ratios to the same client's default."""
    rows = []
    for cfg in configs:
        mine, base = runs[cfg.key], runs.get(default(cfg.system).key, [])
        rates = [run.get("rate_per_s") for run in mine]
        rows.append({
            **cfg._asdict(), "is_default": cfg == default(cfg.system),
            "rate_per_s": median(rates),
            "window_s": median([run.get("window_s") for run in mine]),
            "rate_vs_default": pair_ratios(rates, [run.get("rate_per_s") for run in base]),
            "kept_up": bool(mine) and all(run.get("kept_up") for run in mine),
            **{k: median(_column(mine, k)) for k in ("p50_ms", "p99_ms", "max_ms")},
            "p99_vs_default": pair_ratios(_column(mine, "p99_ms"), _column(base, "p99_ms")),
        })
    return rows


def table(t: dict[str, Any], fmt: Callable[[Any, int], str]) -> list[str]:
    """The latest.md lines."""
    if not t:
        return []
    if not t.get("measured"):
        return ["## Linger and batch tuning", "", f"Not measured: {t.get('why')}", ""]
    lines = [f"## Linger and batch tuning (riskgate worker, each client; medians of "
             f"{t['rounds']} alternated rounds, {t['decisions']:,} decisions saturated, then "
             f"paced at {t['paced_rate']:,}/s)", "",
             "| client | linger ms | batch max | timeout ms | decisions/s | x default | window s "
             "| p50 ms | p99 ms | max ms | p99 x default | kept up |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in t["summary"]:
        mark = " (default)" if r["is_default"] else ""
        lines.append(
            f"| {procs.WORKER_CLIENTS[r['system']]}{mark} | {r['linger_ms']} | {r['batch_max']} | "
            f"{r['timeout_ms']} | {fmt(r['rate_per_s'], 0)} | {fmt(r['rate_vs_default']['median'], 2)} "
            f"| {fmt(r['window_s'], 2)} | {fmt(r['p50_ms'], 1)} | {fmt(r['p99_ms'], 1)} | "
            f"{fmt(r['max_ms'], 1)} | {fmt(r['p99_vs_default']['median'], 2)} | "
            f"{'yes' if r['kept_up'] else 'no'} |")
    return [*lines, ""]

