"""Dead letters as stored (``dead_letters``, with the full original bytes) and their redrives
(``dlq_redrives``, ``dlq_redrive_records``; migration 011). Functions take a connection; only
the redrive writes commit, each in its own short transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """One dead letter; ``value`` (the full original bytes) is loaded only where it is needed."""

    partition: int
    offset: int
    error_code: str
    error: str
    received_at: datetime
    key: bytes | None
    value_length: int | None
    value_sha256: str | None
    redriven: int  # how many redrives published it
    redrive_of: str | None  # "P:O" of the dead letter whose redrive this record is, if any
    value: bytes | None = None
    envelope: bytes | None = None  # the envelope as published on the DLQ topic


@dataclass(frozen=True, slots=True)
class RedriveRecord:
    """One dead letter published by a redrive, and where its bytes landed."""

    partition: int
    offset: int
    error_code: str
    expected: str
    published_partition: int
    published_offset: int


_COLUMNS = """
SELECT l.source_partition AS partition, l.source_offset AS "offset", l.error_code, l.error,
       l.received_at, l.key, octet_length(l.value) AS value_length, l.value_sha256,
       (SELECT count(*) FROM dlq_redrive_records r JOIN dlq_redrives d USING (redrive_id)
         WHERE d.source_topic = l.source_topic AND r.source_partition = l.source_partition
           AND r.source_offset = l.source_offset)::int AS redriven,
       (SELECT r.source_partition || ':' || r.source_offset
          FROM dlq_redrive_records r JOIN dlq_redrives d USING (redrive_id)
         WHERE d.target_topic = l.source_topic AND r.published_partition = l.source_partition
           AND r.published_offset = l.source_offset LIMIT 1) AS redrive_of
"""


def _filters(since: datetime | None, error_code: str | None,
             records: Sequence[tuple[int, int]]) -> tuple[str, list[Any]]:
    """The WHERE clause after the topic ($1), and its arguments from $2 on."""
    clauses, args = [], []
    if since is not None:
        args.append(since)
        clauses.append(f"l.received_at >= ${len(args) + 1}")
    if error_code is not None:
        args.append(error_code)
        clauses.append(f"l.error_code = ${len(args) + 1}")
    if records:
        args += [[p for p, _ in records], [o for _, o in records]]
        clauses.append(f"(l.source_partition, l.source_offset) IN (SELECT * FROM "
                       f"unnest(${len(args)}::int[], ${len(args) + 1}::bigint[]))")
    return "".join(f" AND {c}" for c in clauses), args


async def list_dead_letters(conn: asyncpg.Connection, topic: str, *, since: datetime | None = None,
                            error_code: str | None = None,
                            records: Sequence[tuple[int, int]] = (), with_value: bool = False,
                            limit: int | None = None) -> list[StoredDeadLetter]:
    """The dead letters of ``topic`` matching every filter given, oldest first."""
    where, args = _filters(since, error_code, records)
    extra = ", l.value, l.payload AS envelope" if with_value else ""
    sql = (f"{_COLUMNS}{extra} FROM dead_letters l WHERE l.source_topic = $1{where} "
           "ORDER BY l.received_at, l.source_partition, l.source_offset")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = await conn.fetch(sql, topic, *args)
    return [_letter(r, with_value) for r in rows]


async def dead_letter(conn: asyncpg.Connection, topic: str, partition: int,
                      offset: int) -> StoredDeadLetter | None:
    """One dead letter with its full bytes and envelope, or None."""
    found = await list_dead_letters(conn, topic, records=[(partition, offset)], with_value=True)
    return found[0] if found else None


def _letter(r: asyncpg.Record, with_value: bool) -> StoredDeadLetter:
    return StoredDeadLetter(
        r["partition"], r["offset"], r["error_code"], r["error"], r["received_at"],
        None if r["key"] is None else bytes(r["key"]), r["value_length"], r["value_sha256"],
        r["redriven"], r["redrive_of"],
        value=None if not with_value or r["value"] is None else bytes(r["value"]),
        envelope=bytes(r["envelope"]) if with_value else None)


async def redrives_of(conn: asyncpg.Connection, topic: str, partition: int,
                      offset: int) -> list[asyncpg.Record]:
    """Every redrive that published this dead letter, oldest first."""
    return await conn.fetch(
        "SELECT d.redrive_id, d.started_at, d.requested_by, d.authenticated, d.reason, d.status, "
        "d.target_topic, r.expected, r.published_partition, r.published_offset "
        "FROM dlq_redrive_records r JOIN dlq_redrives d USING (redrive_id) "
        "WHERE d.source_topic = $1 AND r.source_partition = $2 AND r.source_offset = $3 "
        "ORDER BY d.started_at", topic, partition, offset)


async def start_redrive(conn: asyncpg.Connection, *, source_topic: str, target_topic: str,
                        by: str, authenticated: bool, reason: str, selection: dict[str, Any],
                        expected: dict[str, int]) -> uuid.UUID:
    """Record a redrive before anything is published (status RUNNING); return its id."""
    redrive_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO dlq_redrives (redrive_id, source_topic, target_topic, requested_by, "
        "authenticated, reason, selection, expected) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        redrive_id, source_topic, target_topic, by, authenticated, reason,
        orjson.dumps(selection, default=str), orjson.dumps(expected))
    return redrive_id


async def finish_redrive(conn: asyncpg.Connection, redrive_id: uuid.UUID,
                         published: Sequence[RedriveRecord], error: str | None) -> None:
    """Record what was published (all of it, or what the broker acknowledged before ``error``)."""
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO dlq_redrive_records (redrive_id, source_partition, source_offset, "
            "error_code, expected, published_partition, published_offset) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(redrive_id, r.partition, r.offset, r.error_code, r.expected,
              r.published_partition, r.published_offset) for r in published])
        await conn.execute(
            "UPDATE dlq_redrives SET status=$2, record_count=$3, error=$4, finished_at=now() "
            "WHERE redrive_id=$1", redrive_id, "FAILED" if error else "PUBLISHED",
            len(published), error)
