"""Bytes per decision: what one saturate run of the worker wrote to Kafka and to PostgreSQL.

Kafka: the sum of key + value + header bytes of every committed record on the run's output
topics (actions, targets, shadow, dead letters), read back with read_committed after the run.
PostgreSQL, three ways, because the database is shared with other jobs on this machine:

- ``rows``: ``pg_column_size`` of this run's own rows (its topic and portfolio names), per
  table. Exact for this run, but heap tuples only: no index entries, no page overhead.
- ``relations``: the ``pg_total_relation_size`` delta of the riskgate tables (heap, TOAST,
  indexes) over the run. Includes whatever others wrote meanwhile, and pages freed by earlier
  runs' deletes are filled first, so it can come out below ``rows``.
- ``wal``: the ``pg_current_wal_lsn()`` delta over the run. Cluster wide: includes others too.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from aiokafka.structs import TopicPartition

from riskgate.kafka.clients import kafka_consumer
from riskgate.settings import Settings
from riskgate.store.connect import connect as db_connect

# The tables the decision path writes, and the column that names this run's rows in each.
DECISION_TABLES = (("input_records", "source_topic"), ("risk_actions", "portfolio_id"),
                   ("target_positions", "portfolio_id"), ("processed_decisions", "decision_id"),
                   ("shadow_records", "source_topic"), ("dead_letters", "source_topic"),
                   ("portfolio_state", "portfolio_id"), ("partition_progress", "topic"))


async def pg_mark(s: Settings) -> dict[str, Any]:
    """The relation sizes of the decision tables and the WAL position, now."""
    conn = await db_connect(s)
    try:
        sizes = {t: await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", t)
                 for t, _ in DECISION_TABLES}
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        return {"relations": sizes, "wal_lsn": lsn}
    finally:
        await conn.close()


async def pg_rows(s: Settings, run: str) -> dict[str, int]:
    """Heap bytes of this run's rows per table (``pg_column_size`` of the whole row)."""
    conn = await db_connect(s)
    try:
        return {t: int(await conn.fetchval(
            f"SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM {t} x "  # noqa: S608 - fixed names
            f"WHERE {column} LIKE $1", f"bench{run}%")) for t, column in DECISION_TABLES}
    finally:
        await conn.close()


async def wal_bytes(s: Settings, before: str, after: str) -> int:
    conn = await db_connect(s)
    try:
        return int(await conn.fetchval("SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)",
                                       after, before))
    finally:
        await conn.close()


def record_bytes(record: Any) -> int:
    headers = sum(len(k.encode()) + len(v or b"") for k, v in (record.headers or ()))
    return len(record.key or b"") + len(record.value or b"") + headers


async def kafka_bytes(s: Settings, topics: list[str], partitions: int,
                      deadline_s: float = 60.0) -> dict[str, dict[str, int]]:
    """Records and bytes per topic, every committed record read from the start to the end."""
    consumer = kafka_consumer(s, group_id=None, isolation_level="read_committed",
                              enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out = {t: {"records": 0, "bytes": 0} for t in topics}
        pending = {tp for tp, end in ends.items() if end > 0}
        end_at = time.monotonic() + deadline_s
        while pending and time.monotonic() < end_at:
            for tp, records in (await consumer.getmany(timeout_ms=200, max_records=5000)).items():
                out[tp.topic]["records"] += len(records)
                out[tp.topic]["bytes"] += sum(record_bytes(r) for r in records)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()


def per_decision(decisions: int, kafka: dict[str, dict[str, int]], rows: dict[str, int],
                 before: dict[str, Any], after: dict[str, Any], wal: int | None) -> dict[str, Any]:
    """The run's totals turned into bytes per decision."""
    n = max(decisions, 1)
    relations = {t: after["relations"][t] - before["relations"][t] for t in before["relations"]}
    return {
        "decisions": decisions,
        "kafka": {"bytes_per_decision": round(sum(v["bytes"] for v in kafka.values()) / n, 1),
                  "records_per_decision": round(sum(v["records"] for v in kafka.values()) / n, 3),
                  "by_topic": kafka},
        "pg_rows": {"bytes_per_decision": round(sum(rows.values()) / n, 1), "by_table": rows},
        "pg_relations": {"bytes_per_decision": round(sum(relations.values()) / n, 1),
                         "by_table": relations},
        "pg_wal": {"bytes_per_decision": None if wal is None else round(wal / n, 1),
                   "bytes": wal},
    }


async def measure(s: Settings, run: str, decisions: int, before: dict[str, Any]) -> dict[str, Any]:
    """Everything above for one finished run (call before its rows and topics are dropped)."""
    t = s.topics
    after = await pg_mark(s)
    kafka = await kafka_bytes(s, [t.actions, t.targets, t.shadow, t.dlq], s.partitions)
    rows = await pg_rows(s, run)
    wal = await wal_bytes(s, before["wal_lsn"], after["wal_lsn"])
    return per_decision(decisions, kafka, rows, before, after, wal)


def table(b: dict[str, Any] | None) -> list[str]:
    """The latest.md lines (the e2e section's first riskgate saturate run)."""
    if not b:
        return []
    if "error" in b:
        return ["## Bytes per decision", "", f"Not measured: {b['error']}", ""]
    k = b["kafka"]
    topics = ", ".join(f"{t.rsplit('.', 1)[-1]} {v['bytes'] / max(b['decisions'], 1):,.0f}"
                       for t, v in k["by_topic"].items() if v["records"])
    return [f"## Bytes per decision (riskgate, first saturate run, {b['decisions']:,} decisions, "
            "shadow off)", "",
            "| written to | bytes per decision | how |", "|---|---|---|",
            f"| Kafka | {k['bytes_per_decision']:,} | key + value + headers of every committed "
            f"output record ({k['records_per_decision']} per decision: {topics}) |",
            f"| PostgreSQL rows | {b['pg_rows']['bytes_per_decision']:,} | pg_column_size of this "
            "run's rows: heap tuples only, no indexes; exact for this run |",
            f"| PostgreSQL relations | {b['pg_relations']['bytes_per_decision']:,} | "
            "pg_total_relation_size delta of the decision tables (heap, TOAST, indexes); "
            "includes other jobs' writes meanwhile, and reuses space earlier runs freed, so "
            "it can come out below the rows |",
            f"| PostgreSQL WAL | {b['pg_wal']['bytes_per_decision']:,} | pg_current_wal_lsn() "
            "delta; cluster wide, includes other jobs' writes |", ""]
