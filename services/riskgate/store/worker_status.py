"""``worker_status``: each worker's applied config version, owned partitions and heartbeat.

Times are the database's (``now()``), so liveness never depends on the clocks of the hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

#: A worker is live while its last heartbeat is younger than this many of its own intervals.
LIVE_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker_id: str
    group_id: str
    host: str
    pid: int
    config_version: int
    partitions: tuple[int, ...]
    age_s: float  # since the last heartbeat


async def upsert(conn: asyncpg.Connection, worker_id: str, group_id: str, config_topic: str,
                 host: str, pid: int, config_version: int, partitions: Sequence[int],
                 heartbeat_s: float) -> None:
    await conn.execute(
        "INSERT INTO worker_status (worker_id, group_id, config_topic, host, pid, config_version, "
        "partitions, heartbeat_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (worker_id) DO UPDATE SET config_version = EXCLUDED.config_version, "
        "partitions = EXCLUDED.partitions, heartbeat_s = EXCLUDED.heartbeat_s, "
        "heartbeat_at = now()",
        worker_id, group_id, config_topic, host, pid, config_version, sorted(partitions),
        heartbeat_s)


async def remove(conn: asyncpg.Connection, worker_id: str) -> None:
    """A worker stopping cleanly leaves at once instead of after three intervals."""
    await conn.execute("DELETE FROM worker_status WHERE worker_id = $1", worker_id)


async def forget_dead(conn: asyncpg.Connection, config_topic: str, older_than_s: float) -> None:
    """Drop the rows of workers silent for longer than ``older_than_s`` (killed, never back)."""
    await conn.execute(
        "DELETE FROM worker_status WHERE config_topic = $1 "
        "AND heartbeat_at < now() - make_interval(secs => $2)", config_topic, older_than_s)


async def live(conn: asyncpg.Connection, config_topic: str) -> list[WorkerRow]:
    """The live workers reading ``config_topic``, by worker id."""
    rows = await conn.fetch(
        "SELECT worker_id, group_id, host, pid, config_version, partitions, "
        "extract(epoch FROM now() - heartbeat_at)::float8 AS age_s FROM worker_status "
        "WHERE config_topic = $1 AND heartbeat_at > now() - make_interval(secs => $2 * heartbeat_s) "
        "ORDER BY worker_id", config_topic, LIVE_INTERVALS)
    return [WorkerRow(r["worker_id"], r["group_id"], r["host"], r["pid"], r["config_version"],
                      tuple(r["partitions"]), r["age_s"]) for r in rows]
