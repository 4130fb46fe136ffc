"""Chaos proof against the real broker and database: kill -9 workers, restart the broker and
PostgreSQL, then check that every decision was answered exactly once and matches a
sequential reference run of the core.

    python -m tests.chaos.harness --decisions 20000 --portfolios 24 --kills 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from riskgate.kafka.admin import create_topics
from riskgate.settings import Settings, Topics
from riskgate.store.connect import connect as db_connect
from tests.chaos.verify import Expected, stored_counts, verify
from tests.support import builders as b
from tests.support.kafka import collect, worker_env

ROOT = Path(__file__).resolve().parents[2]
TICKERS = [f"T{i:02d}" for i in range(30)]
SECTORS = ["TECH", "ENERGY", "FIN", "HEALTH", "INDU"]


@dataclass
class ChaosPlan:
    decisions: int = 20_000
    portfolios: int = 24
    kills: int = 10
    partitions: int = 4
    broker_restart: bool = True
    pg_restart: bool = True
    rate_per_s: float = 400.0
    seed: int = 7


@dataclass
class Counters:
    kills: int = 0
    broker_restarts: int = 0
    pg_restarts: int = 0
    log: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chaos_settings(base: Settings, run: str, partitions: int) -> Settings:
    names = {k: f"chaos{run}.{v}" for k, v in Topics().model_dump().items()}
    return base.model_copy(update={
        "topics": Topics(**names), "group_id": f"chaos{run}", "transactional_id_prefix": f"chaos{run}",
        "partitions": partitions, "http_port": 0,
    })


# Long TTL and staleness bounds, so only the recorded inputs decide; replay uses the same.
CHAOS_DECISION_SETTINGS = {"snapshot_ttl_s": 86400.0, "max_snapshot_age_s": 86400.0,
                           "max_price_age_s": 86400.0, "max_decision_age_s": 120.0}


def chaos_worker_env(s: Settings) -> dict[str, str]:
    """A chaos worker, with the chaos decision settings."""
    ages = {f"RISKGATE_{k.upper()}": str(v) for k, v in CHAOS_DECISION_SETTINGS.items()}
    return worker_env(
        s, RISKGATE_HTTP_PORT=str(_free_port()), **ages, RISKGATE_LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT / "services"))


class Workers:
    """Two worker processes of one group, killed and restarted at will."""

    def __init__(self, s: Settings, log_dir: Path) -> None:
        self.s = s
        self.procs: list[subprocess.Popen | None] = [None, None]
        self.log_dir = log_dir

    def start(self, i: int) -> None:
        log = open(self.log_dir / f"worker{i}.log", "ab")  # noqa: SIM115 - lives as long as the process
        # One stable id per slot, as a pod's name: a restarted worker's producer (librdkafka
        # client) fences its own killed predecessor at once instead of waiting for its
        # transaction to time out.
        env = {**chaos_worker_env(self.s), "RISKGATE_WORKER_ID": f"worker{i}"}
        self.procs[i] = subprocess.Popen([sys.executable, "-m", "riskgate.cli", "worker"],
                                         env=env, stdout=log, stderr=log)

    def kill9(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> list[int | None]:
        codes = []
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    codes.append(proc.wait(timeout=60))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes.append(proc.wait())
            else:
                codes.append(proc.returncode if proc is not None else None)
        return codes


def _script(name: str, action: str) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/local" / name), action], check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


async def seed(s: Settings, plan: ChaosPlan, expected: Expected, now: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        for i, t in enumerate(TICKERS):
            body = b.market(t, as_of=now, price=20.0 + 7 * i, sector=SECTORS[i % len(SECTORS)],
                            adv=200_000.0 + 50_000 * i)
            expected.market[(t, body["version"])] = body
            await producer.send(s.topics.market, orjson.dumps(body), key=t.encode())
        for p in expected.portfolio_ids:
            body = b.snapshot(p, as_of=now, equity=1_000_000.0,
                              positions={TICKERS[hash(p) % 30]: 100.0})
            expected.snapshots[(p, body["version"])] = body
            await producer.send(s.topics.snapshots, orjson.dumps(body), key=p.encode())
        body = b.config(1, as_of=now, profile="NORMAL",
                        limits={"gross_cap": 1.5, "per_name_weight_cap": 0.05, "position_size_cap": None})
        expected.configs.append(body)
        await producer.send(s.topics.config, orjson.dumps(body), key=b"global")
        await producer.flush()
    finally:
        await producer.stop()


class ReliableSender:
    """Sends without waiting per record, then settles: a send lost to a broker restart is sent
    again (on a new producer if the old one is broken), so the harness never loses an input."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer: AIOKafkaProducer | None = None
        self._pending: list[tuple[asyncio.Future, str, bytes, bytes]] = []

    async def _fresh(self) -> AIOKafkaProducer:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 10)
        while True:
            producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True,
                                        linger_ms=5, request_timeout_ms=10_000)
            try:
                await producer.start()
                self._producer = producer
                return producer
            except Exception:  # noqa: BLE001 - the broker is restarting
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(0.5)

    async def send(self, topic: str, value: bytes, key: bytes) -> None:
        producer = self._producer or await self._fresh()
        try:
            future = await asyncio.wait_for(producer.send(topic, value, key=key), 15)
        except Exception:  # noqa: BLE001 - settle what is pending, then send on a new producer
            await self.settle()
            await self._send_and_wait(topic, value, key)
            return
        self._pending.append((future, topic, value, key))
        if len(self._pending) >= 200:
            await self.settle()

    async def _send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        while True:
            producer = self._producer or await self._fresh()
            try:
                await asyncio.wait_for(producer.send_and_wait(topic, value, key=key), 15)
                return
            except Exception:  # noqa: BLE001
                await self._fresh()

    async def settle(self) -> None:
        pending, self._pending = self._pending, []
        for future, topic, value, key in pending:
            try:
                await asyncio.wait_for(future, 30)
            except Exception:  # noqa: BLE001 - resend until the broker takes it
                await self._send_and_wait(topic, value, key)

    async def close(self) -> None:
        await self.settle()
        if self._producer is not None:
            await self._producer.stop()


async def produce_decisions(s: Settings, plan: ChaosPlan, expected: Expected, run: str) -> None:
    """Paced decisions, with a profile switch at 40% and an EMERGENCY at 60%."""
    rng = random.Random(plan.seed)
    sender = ReliableSender(s.bootstrap_servers)
    try:
        start = time.monotonic()
        for i in range(plan.decisions):
            if i == int(plan.decisions * 0.4):
                body = b.config(2, as_of=time.time(), profile="DEFENSIVE",
                                limits={"gross_cap": 1.5, "per_name_weight_cap": 0.05, "position_size_cap": None})
                expected.configs.append(body)
                await sender.send(s.topics.config, orjson.dumps(body), b"global")
            if i == int(plan.decisions * 0.6):
                body = b.emergency(f"E{run}", "EMERGENCY", version=1, as_of=time.time(), cut=0.5)
                expected.emergencies.append(body)
                await sender.send(s.topics.black_swan, orjson.dumps(body), b"global")
            p = expected.portfolio_ids[rng.randrange(plan.portfolios)]
            d = b.proposal(f"C{run}-{i}", p, rng.choice(TICKERS), qty=float(rng.randint(-400, 400)),
                           created_at=time.time(), confidence=round(rng.uniform(0.5, 1.0), 3),
                           strategy_id=f"S{rng.randrange(3)}")
            expected.decisions[d["decision_id"]] = d
            await sender.send(s.topics.proposed, orjson.dumps(d), p.encode())
            lag = (i + 1) / plan.rate_per_s - (time.monotonic() - start)
            if lag > 0:
                await asyncio.sleep(lag)
    finally:
        await sender.close()


async def chaos_monkey(workers: Workers, plan: ChaosPlan, counters: Counters, duration_s: float) -> None:
    rng = random.Random(plan.seed + 1)
    events: list[tuple[float, str]] = [(rng.uniform(0.05, 0.95) * duration_s, "kill") for _ in range(plan.kills)]
    if plan.broker_restart:
        events.append((0.3 * duration_s, "broker"))
    if plan.pg_restart:
        events.append((0.7 * duration_s, "pg"))
    start = time.monotonic()
    for at, what in sorted(events):
        await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
        if what == "kill":
            i = rng.randrange(2)
            await asyncio.to_thread(workers.kill9, i)
            counters.kills += 1
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            workers.start(i)
        elif what == "broker":
            await asyncio.to_thread(_script, "kafka.sh", "restart")
            counters.broker_restarts += 1
        else:
            await asyncio.to_thread(_script, "postgres.sh", "restart")
            counters.pg_restarts += 1
        counters.log.append(f"{time.monotonic() - start:7.1f}s {what}")


async def wait_drained(s: Settings, expected: Expected, deadline_s: float) -> int:
    """Wait until every decision is processed and every input record, the forced de-risk
    commands included, is committed in Kafka (committed offset == end offset)."""
    ids = list(expected.decisions)
    end = time.monotonic() + deadline_s
    done = 0
    while time.monotonic() < end:
        try:
            conn = await db_connect(s)
            try:
                done = await conn.fetchval(
                    "SELECT count(*) FROM processed_decisions WHERE decision_id = ANY($1::text[])", ids)
            finally:
                await conn.close()
            if done >= len(ids) and await _all_committed(s):
                return done
        except (OSError, asyncpg.PostgresError, KafkaError):
            pass
        await asyncio.sleep(1.0)
    return done


async def _all_committed(s: Settings) -> bool:
    consumer = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=s.group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(s.topics.proposed, p) for p in range(s.partitions)]
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await consumer.stop()


async def run_chaos(plan: ChaosPlan, base: Settings | None = None) -> tuple[str, dict]:
    base = base or Settings()
    run = uuid.uuid4().hex[:8]
    s = chaos_settings(base, run, plan.partitions)
    log_dir = Path(os.environ.get("RISKGATE_CHAOS_LOGS", f"/tmp/riskgate-chaos-{run}"))
    log_dir.mkdir(parents=True, exist_ok=True)
    await create_topics(s)
    now = time.time()
    expected = Expected(portfolio_ids=[f"CP{run}-{i}" for i in range(plan.portfolios)], run=run)
    await seed(s, plan, expected, now)
    workers = Workers(s, log_dir)
    workers.start(0)
    workers.start(1)
    counters = Counters()
    duration = plan.decisions / plan.rate_per_s + 20
    t0 = time.monotonic()
    wall_start = datetime.now(UTC) - timedelta(seconds=60)
    await asyncio.gather(produce_decisions(s, plan, expected, run),
                         chaos_monkey(workers, plan, counters, duration))
    processed = await wait_drained(s, expected, deadline_s=300)
    await asyncio.sleep(3)  # let the last Kafka transactions commit
    codes = workers.stop_all()
    n_actions, n_targets = await stored_counts(s, expected.portfolio_ids)
    actions = await collect(s, s.topics.actions, n_actions, deadline_s=120, settle_s=5)
    targets = await collect(s, s.topics.targets, n_targets, deadline_s=120, settle_s=5)
    report = await verify(s, expected, actions, targets)
    report.update(await replay_check(s, expected.portfolio_ids, wall_start))
    report.update(kills=counters.kills, broker_restarts=counters.broker_restarts,
                  pg_restarts=counters.pg_restarts, processed=processed, exit_codes=codes,
                  seconds=round(time.monotonic() - t0, 1), events=counters.log, logs=str(log_dir))
    line = (f"chaos: decisions={report['decisions']} actions={report['actions']} "
            f"targets={report['targets']} duplicates={report['duplicates']} lost={report['lost']} "
            f"mismatches={report['mismatches']} kills={counters.kills} "
            f"broker_restarts={counters.broker_restarts} pg_restarts={counters.pg_restarts}\n"
            f"{report['replay']}")
    return line, report


async def replay_check(s: Settings, portfolio_ids: list[str], start: datetime) -> dict:
    """Replay the whole chaos window from the stored evidence, with the workers' settings."""
    from riskgate.replay.run import replay_window
    from riskgate.replay.verify import verify_topics

    conn = await db_connect(s)
    end = datetime.now(UTC) + timedelta(seconds=60)
    try:
        result = await replay_window(conn, s.model_copy(update=CHAOS_DECISION_SETTINGS), start,
                                     end, portfolio_ids)
        checks = await verify_topics(conn, s, start, end, result.portfolios)
    finally:
        await conn.close()
    counts = result.counts
    odd = result.verdicts[:10]  # the findings
    return {"replay": "\n".join([result.summary(), *(c.line(t) for t, c in checks.items())]),
            "verify_clean": all(c.clean for c in checks.values()),
            "replay_decisions": result.decisions,
            "replay_different": counts["different"], "replay_unreplayable": counts["unreplayable"],
            "replay_problems": [(v.decision_id, v.status, v.reason,
                                 [(d.field, d.stored, d.replayed) for d in v.differences[:3]])
                                for v in odd]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--portfolios", type=int, default=24)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rate", type=float, default=400.0)
    args = parser.parse_args()
    plan = ChaosPlan(decisions=args.decisions, portfolios=args.portfolios, kills=args.kills,
                     rate_per_s=args.rate)
    line, report = asyncio.run(run_chaos(plan))
    print(orjson.dumps({k: v for k, v in report.items() if k != "problems"}, option=orjson.OPT_INDENT_2).decode())
    for problem in report.get("problems", [])[:20]:
        print("problem:", problem)
    print(line)
    ok = report["duplicates"] == 0 and report["lost"] == 0 and report["mismatches"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
