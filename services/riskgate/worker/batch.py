"""The commit step: one PostgreSQL transaction, then one Kafka transaction, per input batch."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from riskgate import metrics
from riskgate.errors import PartitionHalted, RetryableStateError
from riskgate.records import InRecord, OutRecord
from riskgate.store import history, partitions, shadow
from riskgate.store import state as db
from riskgate.worker.handler import DecisionHandler

_DB_FAULTS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class BatchCommitter:
    """Part one of the commit step; the loop publishes what ``persist`` returns.

    The order, and why a crash at each point loses nothing and duplicates nothing:

    1. Lock the partition's progress row (``partition_progress``). Two owners of one
       partition (a zombie and its successor) serialise here.
    2. For each record at or below the stored progress, load its stored outputs. They were
       computed before a crash or a lost Kafka commit and are republished byte for byte,
       never recomputed, so a replay cannot change an answer.
    3. For each record above it: decode (a bad record becomes a stored dead letter), lock the
       portfolio rows in id order, drop duplicates by ``processed_decisions``, run the core,
       and write the raw records (``input_records``), the new pending targets and portfolio
       sequences, ``risk_actions`` with their witnesses, ``target_positions``,
       ``processed_decisions`` and, with a shadow config, ``shadow_records``; then move the
       progress to the last offset. Shadow records are outputs like the others: step 2
       republishes them too, and step 5 publishes them in the same transaction.
    4. COMMIT. A crash before this point leaves PostgreSQL untouched and Kafka's offset where it
       was: the batch is read and computed again.
    5. (The loop) In one Kafka transaction on the partition's own producer, publish the outputs
       and the consumer offset ``last + 1``, then commit. A crash before the Kafka commit
       aborts the transaction (the next owner's ``init_transactions`` does it); the records are
       read again, found at or below the progress, and step 2 republishes the same bytes. A
       crash after the commit leaves nothing to redo. ``read_committed`` readers therefore see
       each output exactly once.
    """

    def __init__(self, pool: asyncpg.Pool, handler: DecisionHandler) -> None:
        self._pool = pool
        self._handler = handler

    async def persist(self, topic: str, partition: int, records: list[InRecord], now: float) -> list[OutRecord]:
        """Steps 1-4 above; returns the records to publish for the whole batch, in offset order."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                last, halted = await db.lock_progress(conn, topic, partition)
                if halted:
                    raise PartitionHalted(halted)
                outputs: list[OutRecord] = []
                replay = [r for r in records if r.offset <= last]
                if replay:
                    outputs = await db.load_stored_outputs(
                        conn, topic, partition, replay[0].offset, replay[-1].offset,
                        self._handler.out_topics, {r.offset: r.key for r in replay},
                        shadow_topic=self._handler.shadow_topic,
                    )
                    metrics.REPUBLISHED.inc(len(outputs))
                fresh = [r for r in records if r.offset > last]
                if fresh:
                    outputs.extend(await self._compute(conn, fresh, now))
                    await db.set_progress(conn, topic, partition, fresh[-1].offset)
                return outputs
        except _DB_FAULTS as exc:
            raise RetryableStateError(f"{type(exc).__name__}: {exc}") from exc

    async def _compute(self, conn: asyncpg.Connection, fresh: list[InRecord], now: float) -> list[OutRecord]:
        items = [self._handler.decode(r) for r in fresh]
        portfolio_ids = self._handler.portfolio_ids(items)
        portfolios = await db.lock_portfolios(conn, portfolio_ids) if portfolio_ids else {}
        decision_ids = self._handler.decision_ids(items)
        seen = await db.seen_decisions(conn, decision_ids) if decision_ids else set()
        result = self._handler.handle(items, portfolios, seen, now)
        await history.write_inputs(conn, fresh, datetime.fromtimestamp(now, UTC))
        await db.write_outputs(conn, result.actions, result.targets, result.dead, result.processed)
        await shadow.write_shadows(conn, result.shadows)
        await db.save_portfolios(conn, portfolios.values())
        return result.outputs

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
                    await partitions.halt(conn, topic, partition, reason)
                    raise PartitionHalted(reason)
        except _DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc

    async def halt(self, topic: str, partition: int, reason: str) -> None:
        """Store a halt, so that whoever owns the partition next stays halted too."""
        try:
            async with self._pool.acquire() as conn:
                await partitions.halt(conn, topic, partition, reason)
        except _DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc

    async def still_halted(self, topic: str, candidates: list[int]) -> set[int]:
        """Which of ``candidates`` an operator has not resumed yet."""
        try:
            async with self._pool.acquire() as conn:
                return await partitions.halted_among(conn, topic, candidates)
        except _DB_FAULTS as exc:
            raise RetryableStateError(str(exc)) from exc
