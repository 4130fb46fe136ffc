"""``make bench``: every benchmark in one run, side by side on this machine.

Writes ``bench/results/latest.json`` (every run) and ``bench/results/latest.md`` (the table).
Needs the local broker and database (``make infra-up``; started here if they are not up).
Nothing here asserts on time. Sizes are flags, or ``BENCH_<FLAG>`` environment variables:

    python -m bench.run [--rounds 3] [--decisions 40000] [--paced-seconds 5]
                        [--equal-rounds 2] [--secure-rounds 2] [--secure-decisions 20000]
                        [--stage-batches 10] [--tuning-rounds 2] [--tuning-decisions 16000]
                        [--sections core growth e2e stages secure tuning scale profile shadow
                                    replay]
                        [--quick] [--out DIR] [--replay-decisions 20000] [--keep]

``--quick`` (or ``RISKGATE_BENCH_QUICK=1``) shrinks every size to check the plumbing in a few
minutes; its numbers mean nothing. Point ``--out`` elsewhere to keep bench/results as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from bench import e2e, equal_rate, profile, replay, report, sections, secure, shadow, stages, tuning

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ALL_SECTIONS = ("core", "growth", "e2e", "stages", "secure", "tuning", "scale", "profile",
                "shadow", "replay")


def _arg(parser: argparse.ArgumentParser, flag: str, kind: type, default: Any, help: str) -> None:
    env = os.environ.get("BENCH_" + flag.upper().replace("-", "_"))
    parser.add_argument(f"--{flag}", type=kind, default=kind(env) if env else default, help=help)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _arg(parser, "rounds", int, 3, "alternated rounds per comparison (medians over these)")
    _arg(parser, "decisions", int, 40_000, "decisions pre-loaded per saturate run")
    _arg(parser, "micro-decisions", int, 2_000, "decisions per in-process pass")
    _arg(parser, "paced-seconds", float, 5.0, "seconds per paced load level")
    _arg(parser, "portfolios", int, 64, "portfolios in the end-to-end runs")
    _arg(parser, "partitions", int, 8, "partitions of the end-to-end comparison")
    _arg(parser, "replay-decisions", int, 20_000, "decisions seeded for the replay section")
    _arg(parser, "equal-rounds", int, 2, "alternated rounds of the equal-rate latency runs")
    _arg(parser, "secure-rounds", int, 2, "alternated rounds of SASL_SSL against plaintext")
    _arg(parser, "secure-decisions", int, 20_000, "decisions pre-loaded per SASL_SSL/plaintext run")
    _arg(parser, "stage-batches", int, 10, "batches timed by the per-stage breakdown")
    _arg(parser, "tuning-rounds", int, 2, "alternated rounds of the linger and batch tuning")
    _arg(parser, "tuning-decisions", int, 16_000, "decisions pre-loaded per tuning run")
    parser.add_argument("--keep", action="store_true", help="keep the replay's scratch database")
    parser.add_argument("--sections", nargs="+", choices=ALL_SECTIONS,
                        default=os.environ.get("BENCH_SECTIONS", " ".join(ALL_SECTIONS)).split())
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the plumbing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--render", action="store_true",
                        help="only rewrite latest.md (and the goals) from latest.json")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("RISKGATE_BENCH_QUICK") == "1":
        args.quick = True
        args.rounds, args.decisions, args.micro_decisions, args.paced_seconds = 1, 3_000, 300, 2.0
        args.equal_rounds, args.secure_rounds, args.stage_batches = 1, 1, 3
        args.secure_decisions = args.tuning_decisions = args.decisions
        args.tuning_rounds = 1
        args.replay_decisions = min(args.replay_decisions, 2_000)
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip() or "unknown"
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                      text=True, capture_output=True).stdout.strip():
        commit += " + uncommitted changes"
    return {"started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "cpus": os.cpu_count(), "commit": commit,
            "rounds": args.rounds, "argv": sys.argv[1:]}


def _ensure_infra() -> None:
    """The broker and database must answer; the local ones are started when they do not.
    Running ones are left alone: ``up`` also reconfigures, which is others' business then."""
    script = str(ROOT / "deploy/local/infra.sh")
    if subprocess.run(["bash", script, "status"], capture_output=True, timeout=60).returncode:
        subprocess.run(["bash", script, "up"], check=True, timeout=600, stdout=subprocess.DEVNULL)


async def _migrate() -> None:
    from riskgate.settings import Settings
    from riskgate.store.migrate import migrate_settings

    await migrate_settings(Settings())


async def _issue11_sections(args: argparse.Namespace, plan: e2e.Plan,
                            results: dict[str, Any]) -> None:
    """End to end with the equal-rate latency, the stage breakdown, SASL_SSL against plaintext."""
    if "e2e" in args.sections:
        results["e2e"] = await sections.end_to_end(plan, log)
        write(results, args.out)
        equal = await equal_rate.measure(plan, results["e2e"]["max_rate"], args.equal_rounds, log)
        results["e2e"].update(equal_rate=equal["rows"], equal_rate_runs=equal)
        write(results, args.out)
    if "stages" in args.sections:
        results["stages"] = await _guarded(stages.breakdown(args.stage_batches, args.portfolios,
                                                            log), results)
        write(results, args.out)
    if "secure" in args.sections:
        # p99 is taken at the higher equal rate: 50% of riskgate's plaintext max.
        riskgate_max = (results.get("e2e") or {}).get("max_rate", {}).get("riskgate")
        rate = int(0.5 * riskgate_max) if riskgate_max else None
        # Half the e2e pre-load by default: the 10%-90% window is still seconds long.
        secure_plan = dataclasses.replace(plan, decisions=args.secure_decisions)
        results["secure"] = await _guarded(
            secure.sasl_vs_plaintext(secure_plan, args.secure_rounds, rate, log), results)
        write(results, args.out)


async def _guarded(step: Awaitable[dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    """A section that fails says why in its place (and under errors); the run goes on."""
    try:
        return await step
    except Exception as exc:  # noqa: BLE001 - recorded, never a fake number
        why = f"{type(exc).__name__}: {exc}"
        results["errors"].append(why)
        return {"measured": False, "why": why}


def write(results: dict[str, Any], out: Path) -> None:
    results["goals"] = report.goals(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "latest.md").write_text(report.markdown(results))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"meta": _meta(args), "errors": []}
    plan = e2e.Plan(decisions=args.decisions, portfolios=args.portfolios,
                    partitions=args.partitions, paced_seconds=args.paced_seconds,
                    rounds=args.rounds, log_dir=Path("/tmp/riskgate-bench") / str(os.getpid()))
    steps = {
        # In-process rounds are cheap: take more of them against the machine's noise.
        "core": lambda: sections.in_process(2 * args.rounds + 1, args.micro_decisions),
        "growth": lambda: sections.growth(args.rounds, args.micro_decisions,
                                          [10, 1_000, 10_000], [1, 100, 10_000]),
    }
    for name in ("core", "growth"):
        if name in args.sections:
            log(f"{name} ...")
            results[name] = steps[name]()
            write(results, args.out)
    if {"e2e", "stages", "secure", "tuning", "scale", "profile", "shadow"} & set(args.sections):
        _ensure_infra()
        await _migrate()
    await _issue11_sections(args, plan, results)
    if "tuning" in args.sections:
        max_rate = (results.get("e2e") or {}).get("max_rate", {})
        results["tuning"] = await _guarded(tuning.measure(
            plan, max_rate, args.tuning_rounds, args.tuning_decisions, log), results)
        write(results, args.out)
    if "scale" in args.sections:
        shapes = [(1, 4), (2, 4), (1, 8), (2, 8)]
        results["scale"] = await sections.scale(plan, shapes, log)
        write(results, args.out)
    if "profile" in args.sections:
        log("profile ...")
        results["profile"] = await profile.profile_worker(plan, plan.log_dir)
    if "shadow" in args.sections:
        results["shadow"] = await shadow.on_vs_off(plan, log)
        write(results, args.out)
    if "replay" in args.sections:
        _ensure_infra()
        results["replay"] = await replay.section(replay.Plan(
            args.replay_decisions, args.portfolios, args.rounds, args.keep,
            args.out / "replay-profile.txt"), log)
        write(results, args.out)
    results["meta"]["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    write(results, args.out)
    return results


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)  # the driver's own reconnect chatter
    args = parse(argv)
    if args.render:
        results = json.loads((args.out / "latest.json").read_text())
        if "e2e" in results:
            e = results["e2e"]
            e["latency"] = sections.latency_summary(e["paced"], tuple(e["plan"]["levels"]))
        write(results, args.out)
        print((args.out / "latest.md").read_text())
        return
    started = time.monotonic()
    asyncio.run(run(args))
    log(f"done in {time.monotonic() - started:.0f} s: {args.out / 'latest.md'}")
    print((args.out / "latest.md").read_text())


if __name__ == "__main__":
    main()
