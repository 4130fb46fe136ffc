"""Start the systems as processes, and read their CPU time and memory from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.chaos.harness import chaos_worker_env as worker_env

from riskgate.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("riskgate", "riskgate_confluent", "passthrough", "passthrough_confluent", "faust")
# The riskgate worker with each of its Kafka clients (RISKGATE_KAFKA_CLIENT).
WORKER_CLIENTS = {"riskgate": "aiokafka", "riskgate_confluent": "confluent"}
_TICK = os.sysconf("SC_CLK_TCK")


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "services")])
    env.update(extra or {})
    return env


def command(system: str, s: Settings, worker: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one process of ``system``."""
    t, py = s.topics, sys.executable
    # Both pass-throughs batch and linger as the worker does.
    shape = ["--batch", str(s.batch_max_records), "--timeout-ms", str(s.batch_timeout_ms),
             "--linger-ms", str(s.publish_linger_ms)]
    if system in WORKER_CLIENTS or system == "passthrough_confluent":
        # All read their connection settings from the worker's RISKGATE_* environment.
        env = worker_env(s)
        env.update({"RISKGATE_MAX_DECISION_AGE_S": "3600",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "services")])})
        if system in WORKER_CLIENTS:
            # The batching and linger settings of ``s`` (the tuning section varies them).
            env.update({"RISKGATE_KAFKA_CLIENT": WORKER_CLIENTS[system],
                        "RISKGATE_PUBLISH_LINGER_MS": str(s.publish_linger_ms),
                        "RISKGATE_BATCH_MAX_RECORDS": str(s.batch_max_records),
                        "RISKGATE_BATCH_TIMEOUT_MS": str(s.batch_timeout_ms)})
            return [py, "-m", "riskgate.cli", "worker"], env
        return [py, "-m", "bench.passthrough_confluent", "--group", s.group_id,
                "--txn-prefix", s.transactional_id_prefix, "--source", t.proposed,
                "--outputs", t.actions, t.targets, *shape], env
    if system == "passthrough":
        return [py, "-m", "bench.passthrough", "--bootstrap", s.bootstrap_servers,
                "--group", s.group_id, "--txn-prefix", s.transactional_id_prefix,
                "--source", t.proposed, "--outputs", t.actions, t.targets, *shape,
                "--log-level", os.environ.get("BENCH_LOG_LEVEL", "WARNING")], _env()
    if system == "faust":
        return [py, "-m", "bench.faust_app", "--app-id", s.group_id,
                "--bootstrap", s.bootstrap_servers, "--partitions", str(s.partitions),
                "--proposed", t.proposed, "--actions", t.actions, "--targets", t.targets,
                "--market", t.market, "--snapshots", t.snapshots], _env()
    raise ValueError(f"unknown system {system!r}")


def start(system: str, s: Settings, workers: int, log_dir: Path) -> list[subprocess.Popen]:
    """``workers`` processes of ``system``, each logging to its own file in ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(workers):
        argv, env = command(system, s, i)
        log = open(log_dir / f"{system}-{s.group_id}-{i}.log", "ab")  # noqa: SIM115 - the child owns it
        procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      cwd=ROOT))
        log.close()
    return procs


def alive(procs: list[subprocess.Popen]) -> Callable[[], bool]:
    """A check that at least one of ``procs`` still runs."""
    return lambda: any(p.poll() is None for p in procs)


def stop(procs: Iterable[subprocess.Popen], timeout_s: float = 30.0) -> list[int]:
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=timeout_s))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return codes


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def pids_matching(needle: str, comm: str | None = None) -> list[int]:
    """Processes whose command line contains ``needle`` (or whose comm is ``comm``)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if comm is not None:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == comm:
                        found.append(int(entry))
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over all cores."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts) - idle) / _TICK, sum(parts) / _TICK


class CpuProbe:
    """CPU seconds of the broker, PostgreSQL, the system under test and this driver."""

    def __init__(self, system_pids: list[int]) -> None:
        self.groups = {
            "broker": pids_matching("kafka.Kafka"),
            "system": system_pids,
            "driver": [os.getpid()],
        }
        self._postmaster = pids_matching("bin/postgres")

    def disturbed(self) -> bool:
        """True when the broker or PostgreSQL was restarted (by someone else) meanwhile."""
        return (pids_matching("kafka.Kafka") != self.groups["broker"]
                or pids_matching("bin/postgres") != self._postmaster)

    def sample(self) -> dict[str, float]:
        out = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        out["postgres"] = sum(cpu_seconds(p) for p in pids_matching("", comm="postgres"))
        out["machine"] = machine_busy_seconds()[0]
        return out

    @staticmethod
    def shares(before: dict[str, float], after: dict[str, float], wall_s: float) -> dict[str, float]:
        """Percent of one core per group over the window; ``machine`` is of all cores (200%)."""
        out = {k: round(100 * (after[k] - before[k]) / wall_s, 1)
               for k in ("broker", "postgres", "system", "driver", "machine")}
        out["other"] = round(out["machine"] - sum(out[k] for k in
                                                  ("broker", "postgres", "system", "driver")), 1)
        return out
