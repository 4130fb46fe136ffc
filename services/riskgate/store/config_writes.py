"""PostgreSQL side of the config writer: its lock, its history rows and four-eyes proposals.

JSON columns are passed as text and read back as text, so these work on a connection with or
without the store's jsonb codec (``state.init_connection``). Every function takes a connection
inside the caller's transaction; none commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson


@dataclass(frozen=True, slots=True)
class WriteRow:
    """One published record, as the writer records it."""

    source_topic: str
    version: int
    change_id: str
    key: str
    actor: str
    role: str | None
    authenticated: bool
    via: str
    reason: str
    approved_by: str | None
    previous: dict[str, Any]
    new: dict[str, Any]
    payload: bytes


async def lock_topic(conn: asyncpg.Connection, topic: str) -> None:
    """One writer at a time per config topic, until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       f"riskgate.config-writer:{topic}")


async def stored_records(conn: asyncpg.Connection, topic: str) -> dict[int, bytes]:
    """Every config record on record for ``topic`` by version: the workers' history
    (``risk_configs``) and the writer's own (``config_writes``)."""
    out: dict[int, bytes] = {}
    for table in ("risk_configs", "config_writes"):
        rows = await conn.fetch(f"SELECT version, payload FROM {table} WHERE source_topic=$1", topic)
        for r in rows:
            out.setdefault(r["version"], bytes(r["payload"]))
    return out


async def max_version(conn: asyncpg.Connection, topic: str) -> int:
    """The highest version either history holds (-1 when none)."""
    found = await conn.fetchval(
        "SELECT max(v) FROM (SELECT max(version) AS v FROM risk_configs WHERE source_topic=$1 "
        "UNION ALL SELECT max(version) FROM config_writes WHERE source_topic=$1) AS both_", topic)
    return -1 if found is None else int(found)


async def insert_write(conn: asyncpg.Connection, w: WriteRow) -> None:
    await conn.execute(
        "INSERT INTO config_writes (source_topic, version, change_id, key, actor, role, "
        "authenticated, via, reason, approved_by, previous, new, payload) VALUES ($1, $2, $3, $4, "
        "$5, $6, $7, $8, $9, $10, $11::text::jsonb, $12::text::jsonb, $13)",
        w.source_topic, w.version, w.change_id, w.key, w.actor, w.role, w.authenticated, w.via,
        w.reason, w.approved_by, _json(w.previous), _json(w.new), w.payload)


async def writes(conn: asyncpg.Connection, topic: str, key: str | None,
                 since: datetime | None) -> list[dict[str, Any]]:
    """The writer's history rows, oldest first, with the workers' verdict where one read it."""
    rows = await conn.fetch(
        "SELECT w.version, w.change_id, w.key, w.actor, w.role, w.authenticated, w.via, w.reason, "
        "w.approved_by, w.previous::text AS previous, w.new::text AS new, w.written_at, "
        "r.accepted, r.error FROM config_writes w LEFT JOIN risk_configs r "
        "ON r.source_topic = w.source_topic AND r.version = w.version "
        "WHERE w.source_topic = $1 AND ($2::text IS NULL OR w.key = $2) "
        "AND ($3::timestamptz IS NULL OR w.written_at >= $3) ORDER BY w.version",
        topic, key, since)
    return [{**dict(r), "previous": orjson.loads(r["previous"]), "new": orjson.loads(r["new"])}
            for r in rows]


async def unwritten(conn: asyncpg.Connection, topic: str, key: str | None,
                    since: datetime | None) -> list[dict[str, Any]]:
    """Config records the workers read that the writer did not write (hand-written ones)."""
    rows = await conn.fetch(
        "SELECT r.version, r.key, r.accepted, r.error, r.payload, r.received_at FROM risk_configs r "
        "WHERE r.source_topic = $1 AND ($2::text IS NULL OR r.key = $2) "
        "AND ($3::timestamptz IS NULL OR r.received_at >= $3) AND NOT EXISTS (SELECT 1 FROM "
        "config_writes w WHERE w.source_topic = r.source_topic AND w.version = r.version) "
        "ORDER BY r.version", topic, key, since)
    return [{**dict(r), "payload": bytes(r["payload"])} for r in rows]


async def insert_proposal(conn: asyncpg.Connection, change_id: str, topic: str,
                          change: dict[str, Any], actor: str, role: str | None,
                          authenticated: bool, via: str, previous: dict[str, Any],
                          new: dict[str, Any], expires_in_s: float) -> datetime:
    """Store a proposal; return when it expires (database clock)."""
    return await conn.fetchval(
        "INSERT INTO config_proposals (change_id, source_topic, change, actor, role, "
        "authenticated, via, previous, new, expires_at) VALUES ($1, $2, $3::text::jsonb, $4, $5, "
        "$6, $7, $8::text::jsonb, $9::text::jsonb, now() + make_interval(secs => $10)) "
        "RETURNING expires_at",
        change_id, topic, _json(change), actor, role, authenticated, via, _json(previous),
        _json(new), expires_in_s)


async def proposal_for_update(conn: asyncpg.Connection, change_id: str) -> dict[str, Any] | None:
    """The proposal, locked, with ``expired`` computed on the database clock; None if unknown."""
    row = await conn.fetchrow(
        "SELECT change_id, source_topic, change::text AS change, actor, role, authenticated, via, "
        "status, expires_at, expires_at <= now() AS expired, decided_by, version "
        "FROM config_proposals WHERE change_id = $1 FOR UPDATE", change_id)
    if row is None:
        return None
    return {**dict(row), "change": orjson.loads(row["change"])}


async def decide_proposal(conn: asyncpg.Connection, change_id: str, status: str,
                          by: str | None, version: int | None) -> None:
    await conn.execute(
        "UPDATE config_proposals SET status = $2, decided_by = $3, decided_at = now(), "
        "version = $4 WHERE change_id = $1", change_id, status, by, version)


async def pending_proposals(conn: asyncpg.Connection, topic: str) -> list[dict[str, Any]]:
    """Proposals still waiting for a second admin (not expired), oldest first."""
    rows = await conn.fetch(
        "SELECT change_id, actor, change::text AS change, proposed_at, expires_at "
        "FROM config_proposals WHERE source_topic = $1 AND status = 'pending' "
        "AND expires_at > now() ORDER BY proposed_at", topic)
    return [{**dict(r), "change": orjson.loads(r["change"])} for r in rows]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
