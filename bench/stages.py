"""Where a riskgate decision's time goes: the worker's commit step run piece by piece, in process,
on the real PostgreSQL and broker, with a clock around each piece.

The worker exports only whole-batch timings (``riskgate_batch_seconds``), so this section
rebuilds one partition's batches from the worker's own parts, in the worker's order
(services/riskgate/worker/commit.py and batch.py): decode, lock and load the state, the handler (inside it the risk
chain and the output encoding are timed by wrapping ``outputs.assess`` and ``outputs.emit``),
the PostgreSQL writes and COMMIT, then the Kafka transaction with the consumer offset. No
fetching and no event loop contention from other partitions: a lower bound per stage.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import TopicPartition

from bench import kafka_io as kio
from bench import workload as w
from riskgate.kafka.admin import create_topics
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.store import history, shadow
from riskgate.store import state as db
from riskgate.store.connect import connect as db_connect
from riskgate.worker import outputs
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.publisher import PartitionPublisher

STAGES = ("decode", "state_load", "chain", "output_encode", "handler_other", "pg_write_commit",
          "kafka_publish_commit")
LABELS = {
    "decode": "decode + validate (DecisionHandler.decode)",
    "state_load": "state load: lock progress, lock portfolio rows, seen decisions",
    "chain": "risk chain (core assess, inside the handler)",
    "output_encode": "output encode: action + target payloads and rows (outputs.emit)",
    "handler_other": "rest of the handler: witness, book, audit (handle - chain - emit)",
    "pg_write_commit": "PostgreSQL writes (COPY inputs, outputs, portfolios, progress) + COMMIT",
    "kafka_publish_commit": "Kafka transaction: publish, offsets, commit",
}


@contextlib.contextmanager
def _timing(module: Any, name: str, clock: dict[str, float], key: str) -> Iterator[None]:
    """Wrap ``module.name`` so that its time adds up in ``clock[key]``."""
    original = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock[key] += time.perf_counter() - start

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


def _world(now: float) -> GlobalState:
    world = GlobalState(snapshot_ttl_s=86_400, **w.AGES)
    world.market.update(w.markets(now - 1))
    world.config.apply(1, "GLOBAL", None, w.PROFILE, w.LIMITS, None)
    return world


async def _seed(conn: Any, portfolio_ids: list[str], now: float) -> None:
    for pid in portfolio_ids:
        await db.upsert_snapshot(conn, pid, 1, now - 5, w.EQUITY, w.EQUITY, -1_000.0, w.EQUITY,
                                 w.holdings(10), [])


async def _batch(conn: Any, handler: DecisionHandler, publisher: PartitionPublisher,
                 records: list[InRecord], now: float) -> dict[str, float]:
    """One batch of one partition, as the worker commits it; seconds per stage."""
    clock = dict.fromkeys(STAGES, 0.0)
    topic, partition = records[0].topic, records[0].partition
    t0 = time.perf_counter()
    items = [handler.decode(r) for r in records]
    t1 = time.perf_counter()
    async with conn.transaction():
        await db.lock_progress(conn, topic, partition)
        portfolios = await db.lock_portfolios(conn, handler.portfolio_ids(items))
        seen = await db.seen_decisions(conn, handler.decision_ids(items))
        t2 = time.perf_counter()
        with _timing(outputs, "assess", clock, "chain"), _timing(outputs, "emit", clock,
                                                                 "output_encode"):
            result = handler.handle(items, portfolios, seen, now)
        t3 = time.perf_counter()
        await history.write_inputs(conn, records, datetime.fromtimestamp(now, UTC))
        await db.write_outputs(conn, result.actions, result.targets, result.dead, result.processed)
        await shadow.write_shadows(conn, result.shadows)
        await db.save_portfolios(conn, portfolios.values())
        await db.set_progress(conn, topic, partition, records[-1].offset)
    t4 = time.perf_counter()
    await publisher.publish(result.outputs, TopicPartition(topic, partition), records[-1].offset + 1)
    t5 = time.perf_counter()
    clock.update(decode=t1 - t0, state_load=t2 - t1, pg_write_commit=t4 - t3,
                 kafka_publish_commit=t5 - t4)
    clock["handler_other"] = (t3 - t2) - clock["chain"] - clock["output_encode"]
    return clock


async def breakdown(batches: int, portfolios: int, log: Callable[[str], None]) -> dict[str, Any]:
    """µs per decision of each stage: medians over ``batches`` batches after one warm-up."""
    run = uuid.uuid4().hex[:8]
    s = kio.run_settings(Settings(), run, 1)
    await create_topics(s)
    now = time.time()
    ids = w.portfolio_ids(run, portfolios)
    conn = await db_connect(s)
    publisher = PartitionPublisher(s, f"bench{run}-stages", s.group_id)
    try:
        await db.init_connection(conn)
        await _seed(conn, ids, now)
        await publisher.start()
        handler = DecisionHandler(s, _world(now))
        size, offset, per_batch = s.batch_max_records, 0, []
        for _ in range(batches + 1):
            payloads = kio.decisions(run, ids, size, offset)
            records = [InRecord(s.topics.proposed, 0, offset + i, key, value)
                       for i, (key, value, _) in enumerate(payloads)]
            offset += size
            seconds = await _batch(conn, handler, publisher, records, time.time())
            per_batch.append({k: round(v / size * 1e6, 2) for k, v in seconds.items()})
    finally:
        await publisher.close()
        await conn.close()
        await kio.drop_run(s, run)
    timed = per_batch[1:]  # the first batch warms caches and the producer's connections
    median = {k: round(statistics.median(b[k] for b in timed), 2) for k in STAGES}
    log(f"stages (µs per decision): {median}")
    return {"measured": True, "batch_size": size, "batches": len(timed), "portfolios": portfolios,
            "us_per_decision": median, "total_us": round(sum(median.values()), 2),
            "handler_us": round(sum(median[k] for k in ("chain", "output_encode",
                                                           "handler_other")), 2),
            "per_batch": timed}


def table(st: dict[str, Any]) -> list[str]:
    """The latest.md lines."""
    if not st:
        return []
    if not st.get("measured"):
        return ["## Per-stage breakdown", "", f"Not measured: {st.get('why')}", ""]
    us, total = st["us_per_decision"], st["total_us"] or 1.0
    lines = [f"## Per-stage breakdown (riskgate's commit step in process, one partition, batches "
             f"of {st['batch_size']}, median of {st['batches']})", "",
             "| stage | µs per decision | share |", "|---|---|---|"]
    lines += [f"| {LABELS[k]} | {us[k]:,.2f} | {100 * us[k] / total:.0f}% |" for k in STAGES]
    lines += [f"| **total** | **{st['total_us']:,.2f}** | |", ""]
    return lines
