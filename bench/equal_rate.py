"""Latency at equal absolute rates: every system paced at the same integer decisions/s.

The rates are 50% of faust's and 50% of riskgate's saturated max from the same run. A system
that delivers under 95% of a rate (``kept_rate``: decisions over first send to last target
seen, less the median latency) cannot keep up with it: it is recorded with ``complete: false``
and no latency, because a backlog's latency only says how long the run lasted. The systems
alternate in each round, who goes first rotating.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench import e2e
from bench.procs import SYSTEMS
from bench.sections import _retrying, rotated

KEEP_UP = 0.95  # of the paced rate


def drain_seconds(plan: e2e.Plan) -> float:
    """Enough for a system that keeps up to deliver its last targets; one that cannot is not
    waited for (its backlog would only make the run longer)."""
    return max(5.0, plan.paced_seconds)


def equal_rates(max_rate: dict[str, float | None]) -> list[int]:
    """50% of faust's max and 50% of riskgate's, as integers, lowest first."""
    rates = {int(0.5 * m) for s in ("faust", "riskgate") if (m := max_rate.get(s))}
    return sorted(r for r in rates if r > 0)


async def measure(plan: e2e.Plan, max_rate: dict[str, float | None], rounds: int,
                  log: Callable[[str], None]) -> dict[str, Any]:
    """Pace every system with a max at each equal rate, ``rounds`` alternated times."""
    rates = equal_rates(max_rate)
    systems = [s for s in SYSTEMS if max_rate.get(s)]
    runs: dict[str, list[Any]] = {s: [] for s in systems}
    if not rates:
        return {"rates": [], "runs": runs, "rows": []}
    drain_s = drain_seconds(plan)
    for r in range(rounds):
        for system in rotated(tuple(systems), r):
            levels, attempts = await _retrying(
                lambda s=system: e2e.paced_at(s, plan, [float(x) for x in rates], drain_s=drain_s),
                lambda res: isinstance(res, list) and not any(x["disturbed"] for x in res))
            runs[system].append(levels)
            log(f"equal rate {system} round {r} ({attempts} attempts): "
                f"{[(x['target_rate'], x['p99_ms']) for x in levels] if isinstance(levels, list) else levels}")
    return {"rates": rates, "drain_s": drain_s, "runs": runs, "rows": summary(runs, rates)}


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def summary(runs: dict[str, list[Any]], rates: list[int]) -> list[dict[str, Any]]:
    """One row per (rate, system): medians over the rounds, or why it has no latency."""
    rows = []
    for rate in rates:
        for system, system_runs in runs.items():
            levels = [lv for run in system_runs if isinstance(run, list)
                      for lv in run if int(lv["target_rate"]) == rate]
            delivered = _median([lv.get("kept_rate") for lv in levels])
            kept_up = bool(levels) and all(lv["complete"] for lv in levels) and \
                delivered is not None and delivered >= KEEP_UP * rate
            row = {"rate": rate, "system": system, "delivered_rate": delivered,
                   "complete": kept_up, "rounds": len(levels)}
            latency = {k: _median([lv.get(k) for lv in levels]) for k in ("p50_ms", "p99_ms", "max_ms")}
            row.update(latency if kept_up else dict.fromkeys(latency))
            if not kept_up:
                row["why"] = (f"delivered {delivered}/s, under {KEEP_UP:.0%} of {rate}/s: cannot "
                              "keep up, latency omitted" if levels else "not measured")
            rows.append(row)
    return rows


def row(rows: list[dict[str, Any]], rate: int | None, system: str) -> dict[str, Any]:
    return next((r for r in rows if r["rate"] == rate and r["system"] == system), {})


def table(rows: list[dict[str, Any]], fmt: Callable[[Any], str]) -> list[str]:
    """The latest.md lines."""
    if not rows:
        return []
    lines = ["### Latency at equal absolute rates (50% of faust's max, 50% of riskgate's max)", "",
             "| rate/s | system | delivered/s | p50 ms | p99 ms | max ms | kept up |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['rate']:,} | {r['system']} | {fmt(r['delivered_rate'])} | "
                     f"{fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | "
                     f"{'yes' if r['complete'] else 'no: omitted'} |")
    omitted = [r for r in rows if not r["complete"]]
    lines += [""] + [f"- {r['system']} at {r['rate']:,}/s omitted: {r['why']}." for r in omitted]
    return [*lines, ""]
