"""The state store over PostgreSQL: the commit's transaction, progress checks and halts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
from aiokafka.structs import TopicPartition

from riskgate.errors import PartitionHalted, RetryableStateError
from riskgate.records import InRecord, OutRecord
from riskgate.store import history, partitions, shadow
from riskgate.store import state as db
from riskgate.store.connect import DB_FAULTS
from riskgate.worker.commit import PartitionCommit
from riskgate.worker.handler import DecisionHandler


class BatchCommitter:
    """The state store over PostgreSQL (``ports.StateStore``): the PostgreSQL half of the commit
    step, whose order and crash reasoning ``commit.PartitionCommit`` writes down."""

    def __init__(self, pool: asyncpg.Pool, handler: DecisionHandler) -> None:
        self._pool = pool
        self._handler = handler

    @contextlib.asynccontextmanager
    async def transaction(self, topic: str, partition: int) -> AsyncIterator[_PgBatch]:
        """One PostgreSQL transaction; database faults surface as RetryableStateError."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PgBatch(conn, self._handler, topic, partition)
        except DB_FAULTS as exc:
            raise RetryableStateError(f"{type(exc).__name__}: {exc}") from exc

    async def persist(self, topic: str, partition: int, records: list[InRecord], now: float) -> list[OutRecord]:
        """Steps 0-4 of the commit, without publishing: for tools, and for tests of a crash
        between the two transactions. Returns the batch's outputs in offset order."""
        tp = TopicPartition(topic, partition)
        return await PartitionCommit(tp, self, None, clock=lambda: now).commit(records)

    async def check_progress(self, topic: str, partition: int, committed: int | None) -> None:
        """Halt when PostgreSQL's progress is behind Kafka's committed offset: state was lost.

        Raises PartitionHalted too when the partition is already halted in the store, so that a
        new owner after a rebalance does not retry what its predecessor halted."""
        try:
            async with self._pool.acquire() as conn:
                status = await partitions.status(conn, topic, partition)
                if status is not None and status.halted:
                    raise PartitionHalted(status.halted)
                progress = status.last_offset if status is not None else -1
                if committed is not None and progress < committed - 1:
                    reason = (f"stored progress {progress} is behind the committed offset {committed}: "
                              "PostgreSQL state was lost or restored from an older backup")
                    await partitions.halt(conn, topic, partition, reason, behind=committed)
                    raise PartitionHalted(reason)
        except DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc

    async def halt(self, topic: str, partition: int, reason: str) -> None:
        """Store a halt, so that whoever owns the partition next stays halted too."""
        try:
            async with self._pool.acquire() as conn:
                await partitions.halt(conn, topic, partition, reason)
        except DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc

    async def still_halted(self, topic: str, candidates: list[int]) -> set[int]:
        """Which of ``candidates`` an operator has not resumed yet."""
        try:
            async with self._pool.acquire() as conn:
                return await partitions.halted_among(conn, topic, candidates)
        except DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc


class _PgBatch:
    """Steps 1-3 of the commit on one connection inside its transaction."""

    def __init__(self, conn: asyncpg.Connection, handler: DecisionHandler, topic: str,
                 partition: int) -> None:
        self._conn, self._handler = conn, handler
        self._topic, self._partition = topic, partition

    async def lock_progress(self) -> tuple[int, str | None]:
        return await db.lock_progress(self._conn, self._topic, self._partition)

    async def stored_outputs(self, records: Sequence[InRecord]) -> list[OutRecord]:
        return await db.load_stored_outputs(
            self._conn, self._topic, self._partition, records[0].offset, records[-1].offset,
            self._handler.out_topics, {r.offset: r.key for r in records},
            shadow_topic=self._handler.shadow_topic)

    async def set_progress(self, offset: int) -> None:
        await db.set_progress(self._conn, self._topic, self._partition, offset)

    async def compute(self, records: Sequence[InRecord], now: float) -> list[OutRecord]:
        conn, handler = self._conn, self._handler
        items = [handler.decode(r) for r in records]
        portfolio_ids = handler.portfolio_ids(items)
        portfolios = await db.lock_portfolios(conn, portfolio_ids) if portfolio_ids else {}
        decision_ids = handler.decision_ids(items)
        seen = await db.seen_decisions(conn, decision_ids) if decision_ids else set()
        result = handler.handle(items, portfolios, seen, now)
        await history.write_inputs(conn, list(records), datetime.fromtimestamp(now, UTC))
        await db.write_outputs(conn, result.actions, result.targets, result.dead, result.processed)
        await shadow.write_shadows(conn, result.shadows)
        await db.save_portfolios(conn, portfolios.values())
        return result.outputs
