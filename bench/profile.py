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

RATE_HZ = 200


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def _frame_key(frame: str) -> str:
    """``fn (path/to/file.py:123)`` -> ``fn (file.py)``: lines of one function count together."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(path).parts[-2:]) if path else "?"
    return f"{name} ({short})"


def hot_spots(raw: str, top: int = 10) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    self_samples: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_key(f) for f in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        total += count
        self_samples[frames[-1]] += count
        for key in set(frames):
            inclusive[key] += count
    riskgate = {k: v for k, v in inclusive.items() if "riskgate/" in k or "/worker" in k
                or "/core" in k or "/store" in k or "/contracts" in k}

    def share(items: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return [{"function": k, "pct": round(100 * v / total, 1)} for k, v in items]

    return {"samples": total, "self": share(self_samples.most_common(top)),
            "inclusive_riskgate": share(Counter(riskgate).most_common(top))}


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
