"""The issues' goals, each computed from this run: the measured value, met or not, by how much.

Goals of an earlier issue stay beside a later issue's tighter or looser version of them, so
the table shows both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.equal_rate import row as equal_row
from bench.replay import replay_goals

Goal = Callable[[str, float | None, float, bool], None]


def _level(latency: list[dict], level: float) -> dict:
    return next((row for row in latency if row["level"] == level), {})


def _at(rate: int | None) -> str:
    return f" ({rate}/s)" if rate else ""


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every goal, in the order of the issues."""
    out: list[dict[str, Any]] = []

    def goal(name: str, value: float | None, limit: float, higher_is_better: bool) -> None:
        if value is None:
            out.append({"goal": name, "value": None, "met": None, "gap": "not measured"})
            return
        met = value >= limit if higher_is_better else value <= limit
        gap = value / limit if limit else math.inf
        out.append({"goal": name, "value": round(value, 3), "met": met,
                    "gap": f"{gap:.2f}x of the goal"})

    _first_goals(results, goal)
    out += replay_goals(results.get("replay", {}))
    _issue11_goals(results, goal, out)
    return out


def _first_goals(results: dict[str, Any], goal: Goal) -> None:
    core = results.get("core", {}).get("median", {})
    chain = core.get("core_bench_chain_us") or core.get("chain_us")
    goal("full chain <= 8 µs per decision", chain, 8.0, False)
    goal("bytes to bytes <= 15 µs", core.get("bytes_to_bytes_us"), 15.0, False)
    e2e = results.get("e2e", {})
    goal("exactly-once throughput >= 0.8x bare pass-through",
         e2e.get("ratio_a_b", {}).get("median"), 0.8, True)
    goal("exactly-once throughput >= 5x faust", e2e.get("ratio_a_c", {}).get("median"), 5.0, True)
    half = _level(e2e.get("latency", {}).get("riskgate", []), 0.5)
    goal("p99 <= 50 ms at 50% of max", half.get("p99_ms"), 50.0, False)
    sizes = results.get("growth", {}).get("positions", [])
    if len(sizes) >= 2 and sizes[0]["chain_us"] and sizes[-1]["chain_us"]:
        lo, hi = sizes[0], sizes[-1]
        allowed = math.log(hi["positions"]) / math.log(max(lo["positions"], 2))
        goal(f"µs grows no faster than log(positions) ({lo['positions']} -> {hi['positions']}: "
             f"ratio <= {allowed:.1f})", hi["chain_us"] / lo["chain_us"], allowed, False)


# The worker under each of its Kafka clients: (system, goal name prefix, ratio keys a/b, a/c).
_WORKERS = (("riskgate", "issue 11", "ratio_a_b", "ratio_a_c"),
            ("riskgate_confluent", "issue 11 (riskgate_confluent)", "ratio_rc_b", "ratio_rc_c"))


def _issue11_goals(results: dict[str, Any], goal: Goal, out: list[dict[str, Any]]) -> None:
    """Issue 11: throughput against both baselines, latency at equal rates, the per-decision
    CPU budget. Latency goals are ratios riskgate / baseline, met at <= the factor. The
    throughput and latency goals come again for the worker on the confluent-kafka client."""
    e2e = results.get("e2e", {})
    rows = e2e.get("equal_rate") or []
    rates = sorted({r["rate"] for r in rows})
    low, high = (rates[0], rates[-1]) if rates else (None, None)
    for system, prefix, to_b, to_c in _WORKERS:
        goal(f"{prefix}: exactly-once throughput >= 0.4x aiokafka pass-through",
             e2e.get(to_b, {}).get("median"), 0.4, True)
        goal(f"{prefix}: exactly-once throughput >= 8x faust",
             e2e.get(to_c, {}).get("median"), 8.0, True)
        for q in ("p50", "p99"):
            _latency_goal(goal, out, f"{prefix}: at the lower equal rate{_at(low)} {system} {q} "
                          f"<= faust {q} (ratio {system} / faust <= 1)",
                          rows, low, system, "faust", q, 1.0)
        _latency_goal(goal, out, f"{prefix}: at the higher equal rate{_at(high)} {system} p99 "
                      "<= 1.5x aiokafka pass-through p99 (ratio)",
                      rows, high, system, "passthrough", "p99", 1.5)
    core = results.get("core", {}).get("median", {})
    goal("issue 11: handler <= 40 µs per decision", core.get("handler_us"), 40.0, False)
    goal("issue 11: bytes to bytes <= 20 µs", core.get("bytes_to_bytes_us"), 20.0, False)


def _latency_goal(goal: Goal, out: list[dict[str, Any]], name: str, rows: list[dict[str, Any]],
                  rate: int | None, system: str, baseline: str, q: str, factor: float) -> None:
    """``system``'s latency over the baseline's at one equal rate. A side that could not keep
    up has no latency: ``system`` behind misses the goal, the baseline behind (only) meets it."""
    mine, base = equal_row(rows, rate, system), equal_row(rows, rate, baseline)
    behind = [(who, r) for who, r in ((system, mine), (baseline, base))
              if r and not r["complete"]]
    if not behind or not mine or not base:
        goal(name, _ratio(mine.get(f"{q}_ms"), base.get(f"{q}_ms")), factor, False)
        return
    met = None if len(behind) == 2 else behind[0][0] != system
    gap = "; ".join(f"{who} cannot keep up ({r['delivered_rate']}/s delivered)" for who, r in behind)
    out.append({"goal": name, "value": None, "met": met, "gap": gap})
