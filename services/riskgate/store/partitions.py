"""Halted partitions: stored, so that the next owner after a rebalance does not spin again, and
lifted only by an operator, whose reason is kept beside the halt's (``partition_halts``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    topic: str
    partition: int
    last_offset: int
    halted: str | None
    halted_at: datetime | None
    updated_at: datetime


async def halt(conn: asyncpg.Connection, topic: str, partition: int, reason: str,
               actor: str = "worker") -> None:
    """Mark the partition halted (a no-op when it is already halted for the same reason)."""
    async with conn.transaction():
        previous = await conn.fetchval(
            "SELECT halted FROM partition_progress WHERE topic=$1 AND partition=$2 FOR UPDATE",
            topic, partition)
        if previous == reason:
            return
        await conn.execute(
            "INSERT INTO partition_progress (topic, partition, halted, halted_at) "
            "VALUES ($1, $2, $3, now()) ON CONFLICT (topic, partition) "
            "DO UPDATE SET halted=$3, halted_at=now(), updated_at=now()",
            topic, partition, reason)
        await _log(conn, topic, partition, "HALTED", reason, actor)


async def resume(conn: asyncpg.Connection, topic: str, partition: int, reason: str,
                 actor: str) -> str | None:
    """Lift a halt; return the halt's reason, or None when the partition was not halted."""
    async with conn.transaction():
        halted = await conn.fetchval(
            "SELECT halted FROM partition_progress WHERE topic=$1 AND partition=$2 FOR UPDATE",
            topic, partition)
        if halted is None:
            return None
        await conn.execute(
            "UPDATE partition_progress SET halted=NULL, halted_at=NULL, updated_at=now() "
            "WHERE topic=$1 AND partition=$2", topic, partition)
        await _log(conn, topic, partition, "RESUMED", reason, actor)
        return halted


async def status(conn: asyncpg.Connection, topic: str, partition: int) -> PartitionStatus | None:
    row = await conn.fetchrow(
        "SELECT topic, partition, last_offset, halted, halted_at, updated_at FROM partition_progress "
        "WHERE topic=$1 AND partition=$2", topic, partition)
    return None if row is None else PartitionStatus(**dict(row))


async def halted_among(conn: asyncpg.Connection, topic: str, partitions: Sequence[int]) -> set[int]:
    """Which of ``partitions`` are still halted in the store."""
    rows = await conn.fetch(
        "SELECT partition FROM partition_progress WHERE topic=$1 AND partition = ANY($2::int[]) "
        "AND halted IS NOT NULL", topic, list(partitions))
    return {r["partition"] for r in rows}


async def list_status(conn: asyncpg.Connection, topic: str | None = None,
                      halted_only: bool = False) -> list[PartitionStatus]:
    rows = await conn.fetch(
        "SELECT topic, partition, last_offset, halted, halted_at, updated_at FROM partition_progress "
        "WHERE ($1::text IS NULL OR topic=$1) AND (NOT $2 OR halted IS NOT NULL) "
        "ORDER BY topic, partition", topic, halted_only)
    return [PartitionStatus(**dict(r)) for r in rows]


async def _log(conn: asyncpg.Connection, topic: str, partition: int, event: str, reason: str,
               actor: str | None) -> None:
    await conn.execute(
        "INSERT INTO partition_halts (topic, partition, event, reason, actor) VALUES ($1, $2, $3, $4, $5)",
        topic, partition, event, reason, actor)
