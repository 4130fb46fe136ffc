"""Hot spots of the riskgate worker under load: py-spy samples a saturate run.

py-spy attaches to the running worker (``py-spy record --pid``, raw collapsed stacks) and
stops when the worker exits. Idle samples (the event loop waiting in ``select``) are left out
by py-spy, so the shares below are of the worker's busy time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import e2e

RATE_HZ = 400


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def _frame_key(frame: str) -> str:
    """``fn (path/to/file.py:123)`` -> ``fn (file.py)``: lines of one function count together."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(path).parts[-2:]) if path else "?"
    return f"{name} ({short})"


# Inclusive shares of the worker's stages, by the function that is each stage's entry point.
STAGES = (
    ("decode + validate (DecisionHandler.decode)", "DecisionHandler.decode ("),
    ("risk chain (core assess)", "assess (core/assessment.py)"),
    ("audit details (Outcome.details)", "Outcome.details ("),
    ("payloads + rows (outputs.emit)", "emit (worker/outputs.py)"),
    ("handler in all: chain, audit, payloads, rows (DecisionHandler.handle)",
     "DecisionHandler.handle ("),
    ("PostgreSQL client side (the commit's _PgBatch steps minus decode and handler)",
     "_PgBatch."),
    ("Kafka transaction (PartitionPublisher.publish)", "PartitionPublisher.publish ("),
    ("consumer fetch (getmany and the fetcher)", "Fetcher."),
)
_IGNORED = ("EpollSelector.select", "_find_and_load")  # waiting, and start-up imports


def hot_spots(raw: str, top: int = 10) -> dict[str, Any]:
    """Self shares per function and inclusive shares per stage, from py-spy's raw output."""
    self_samples: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit() or any(i in stack for i in _IGNORED):
            continue
        count = int(count_text)
        frames = [_frame_key(f) for f in stack.split(";")]
        total += count
        self_samples[frames[-1]] += count
        for label, entry in STAGES:
            if any(entry in f for f in frames):
                stages[label] += count
    if not total:
        return {"samples": 0, "self": [], "stages": []}
    stages[STAGES[5][0]] -= stages[STAGES[0][0]] + stages[STAGES[4][0]]
    return {"samples": total,
            "self": [{"function": k, "pct": round(100 * v / total, 1)}
                     for k, v in self_samples.most_common(top)],
            "stages": [{"stage": label, "pct": round(100 * stages[label] / total, 1)}
                       for label, _ in STAGES]}


async def profile_worker(plan: e2e.Plan, out_dir: Path) -> dict[str, Any]:
    """One saturate run of riskgate with py-spy attached to its worker."""
    spy = py_spy()
    if spy is None:
        return {"available": False, "error": "py-spy not installed (the bench extra)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / "riskgate-worker.pyspy.txt"
    recorders: list[subprocess.Popen] = []

    def attach(children: list) -> None:
        recorders.append(subprocess.Popen(
            [spy, "record", "--pid", str(children[0].pid), "--rate", str(RATE_HZ),
             "--format", "raw", "--output", str(raw_path), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    run = await e2e.saturate("riskgate", plan, on_start=attach)
    stderr = b""
    for recorder in recorders:
        try:
            stderr = recorder.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            recorder.kill()
            stderr = recorder.communicate()[1]
    if not raw_path.exists():
        return {"available": False, "error": f"py-spy wrote nothing: {stderr.decode()[-400:]}"}
    return {"available": True, "rate_hz": RATE_HZ, "run": run, "raw": str(raw_path),
            **hot_spots(raw_path.read_text())}
