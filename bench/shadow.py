"""The shadow section: end-to-end throughput of the riskgate worker with the live shadow profile
on and off, alternated round by round (who goes first rotates), on the same saturate workload.

"On" runs the worker with ``RISKGATE_SHADOW_PROFILE`` (default DEFENSIVE): one more chain run
per decision, and one more record stored and published. Nothing here asserts on time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from bench import e2e
from bench.sections import _retrying, _saturated_ok, median, pair_ratios

SETTING = "RISKGATE_SHADOW_PROFILE"


@contextlib.contextmanager
def _shadow_env(profile: str | None) -> Iterator[None]:
    """The worker's environment is built from this process's (tests.support.kafka.worker_env)."""
    before = os.environ.pop(SETTING, None)
    if profile is not None:
        os.environ[SETTING] = profile
    try:
        yield
    finally:
        os.environ.pop(SETTING, None)
        if before is not None:
            os.environ[SETTING] = before


def _worker_has_setting(children: list, seen: list[bool]) -> None:
    """Note whether the started worker really got the setting (from /proc/<pid>/environ)."""
    with contextlib.suppress(OSError), open(f"/proc/{children[0].pid}/environ", "rb") as f:
        seen.append(any(v.startswith(SETTING.encode() + b"=") for v in f.read().split(b"\0")))


async def _saturate(plan: e2e.Plan, profile: str | None, footprint: bool) -> dict[str, Any]:
    seen: list[bool] = []
    with _shadow_env(profile):
        run = await e2e.saturate("riskgate", plan, footprint=footprint,
                                 on_start=lambda children: _worker_has_setting(children, seen))
    return {**run, "shadow_setting_seen": bool(seen and seen[0])}


async def on_vs_off(plan: e2e.Plan, log: Callable[[str], None],
                    profile: str = "DEFENSIVE") -> dict[str, Any]:
    """Saturate the worker with shadow off and on in every round; medians and the on/off ratio."""
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for r in range(plan.rounds):
        for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
            run, attempts = await _retrying(
                lambda m=mode, r=r: _saturate(plan, profile if m == "on" else None, r == 0),
                _saturated_ok)
            runs[mode].append({**run, "attempts": attempts, "round": r})
            log(f"shadow {mode} round {r}: {run.get('rate_per_s')} decisions/s")
    rates = {mode: [x.get("rate_per_s") for x in mode_runs] for mode, mode_runs in runs.items()}
    return {
        "plan": {k: v for k, v in vars(plan).items() if k != "log_dir"}, "profile": profile,
        "runs": runs, "median_rate_per_s": {mode: median(v) for mode, v in rates.items()},
        "ratio_on_off": pair_ratios(rates["on"], rates["off"]),
        # Bytes written per decision, from each mode's first run.
        "bytes_per_decision": {mode: next((x["bytes"] for x in xs if "bytes" in x), None)
                               for mode, xs in runs.items()},
        "setting_reached_worker": all(x["shadow_setting_seen"] == (mode == "on")
                                      for mode, xs in runs.items() for x in xs),
    }


def shadow_table(s: dict[str, Any]) -> list[str]:
    """The section's lines in bench/results/latest.md."""
    if not s:
        return []
    m, ratio = s["median_rate_per_s"], s["ratio_on_off"]
    rates = {mode: ", ".join(str(round(x.get("rate_per_s") or 0)) for x in xs)
             for mode, xs in s["runs"].items()}
    return [f"## Shadow profile on vs off (riskgate worker, {s['plan']['partitions']} partitions, "
            f"{s['plan']['decisions']} decisions pre-loaded, candidate {s['profile']})", "",
            "| shadow | median decisions/s | runs |", "|---|---|---|",
            f"| off | {m['off']} | {rates['off']} |", f"| on | {m['on']} | {rates['on']} |", "",
            f"Ratio on/off: **{ratio['median']}** (pairs {ratio['pairs']}); the setting reached "
            f"every worker as intended: {s['setting_reached_worker']}.", "",
            *_bytes_lines(s.get("bytes_per_decision") or {})]


def _bytes_lines(by_mode: dict[str, Any]) -> list[str]:
    def kafka(mode: str) -> Any:
        return (by_mode.get(mode) or {}).get("kafka", {}).get("bytes_per_decision")

    def pg(mode: str) -> Any:
        return (by_mode.get(mode) or {}).get("pg_rows", {}).get("bytes_per_decision")

    if not by_mode:
        return []
    return [f"Bytes per decision, shadow off / on: Kafka {kafka('off')} / {kafka('on')}, "
            f"PostgreSQL rows {pg('off')} / {pg('on')}.", ""]
