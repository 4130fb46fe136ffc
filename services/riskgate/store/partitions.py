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
               actor: str = "worker", behind: int | None = None) -> None:
    """Mark the partition halted (a no-op when it is already halted for the same reason).
    ``behind`` is the committed offset a state-lost halt found ahead of the stored progress."""
    async with conn.transaction():
        previous = await conn.fetchval(
            "SELECT halted FROM partition_progress WHERE topic=$1 AND partition=$2 FOR UPDATE",
            topic, partition)
        if previous == reason:
            return
        await conn.execute(
            "INSERT INTO partition_progress (topic, partition, halted, halted_at, halted_behind) "
            "VALUES ($1, $2, $3, now(), $4) ON CONFLICT (topic, partition) "
            "DO UPDATE SET halted=$3, halted_at=now(), halted_behind=$4, updated_at=now()",
            topic, partition, reason, behind)
        await _log(conn, topic, partition, "HALTED", reason, actor)


@dataclass(frozen=True, slots=True)
class Resumed:
    """A lifted halt, and the stored progress a state-lost halt's resume moved past its gap."""
    halted: str
    progress_was: int
    progress: int

    @property
    def gap(self) -> tuple[int, int] | None:
        """The offsets accepted as lost (first, last), if the resume moved the progress."""
        return (self.progress_was + 1, self.progress) if self.progress > self.progress_was else None

    def moved(self) -> str | None:
        """What the resume did to the stored progress, in words (None if nothing)."""
        if self.gap is None:
            return None
        return (f"progress moved from {self.progress_was} to {self.progress}: offsets "
                f"{self.gap[0]}-{self.gap[1]} accepted as lost")


async def resume(conn: asyncpg.Connection, topic: str, partition: int, reason: str,
                 actor: str) -> Resumed | None:
    """Lift a halt; None when the partition was not halted.

    After a state-lost halt the gap below the committed offset it found is accepted: the stored
    progress moves to just below that offset. Those offsets were decided and published before
    the state was lost, and the partition goes on from the committed offset, so nothing reads
    them again; without the move, the next owner after a rebalance would halt it again."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT halted, last_offset, halted_behind FROM partition_progress "
            "WHERE topic=$1 AND partition=$2 FOR UPDATE", topic, partition)
        if row is None or row["halted"] is None:
            return None
        was, behind = row["last_offset"], row["halted_behind"]
        progress = was if behind is None else max(was, behind - 1)
        await conn.execute(
            "UPDATE partition_progress SET halted=NULL, halted_at=NULL, halted_behind=NULL, "
            "last_offset=$3, updated_at=now() WHERE topic=$1 AND partition=$2",
            topic, partition, progress)
        resumed = Resumed(row["halted"], was, progress)
        if resumed.gap is not None:
            reason += f" ({resumed.moved()})"
        await _log(conn, topic, partition, "RESUMED", reason, actor)
        return resumed


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
