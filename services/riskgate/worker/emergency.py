"""Forced de-risking on EMERGENCY: one command per owned portfolio, on the decisions topic.

The command's decision_id is derived from the emergency event and the portfolio, so it rides
the same exactly-once path as any decision, and a repeat becomes a DUPLICATE, never a second cut.
Commands whose decision was already processed are not written again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from riskgate.contracts.inputs import derisk_decision_id
from riskgate.store import state as db

log = structlog.get_logger("riskgate.emergency")


def derisk_command(event_id: str, portfolio_id: str, gross_cut_pct: float, as_of: float) -> bytes:
    return orjson.dumps({
        "schema_version": "1.0", "kind": "FORCED_DERISK",
        "decision_id": derisk_decision_id(event_id, portfolio_id), "strategy_id": "riskgate",
        "portfolio_id": portfolio_id, "emergency_event_id": event_id,
        "gross_cut_pct": gross_cut_pct,
        "created_at": datetime.fromtimestamp(as_of, UTC).isoformat().replace("+00:00", "Z"),
    })


async def issue_forced_derisk(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str, portfolio_ids: list[str],
    partitions: set[int], n_partitions: int, event_id: str, gross_cut_pct: float, as_of: float,
    emitted: set[str],
) -> int:
    """Write a de-risk command for every portfolio of ``portfolio_ids`` (those on this
    deployment's snapshots topic) whose key lands in ``partitions``.

    Commands already processed (``processed_decisions``) or already written by this process
    (``emitted``) are skipped, so a rebalance during an EMERGENCY does not write them again;
    only a command in flight when its writer died can come twice, and that one is a DUPLICATE.
    """
    partitioner = DefaultPartitioner()
    all_parts = list(range(n_partitions))
    async with pool.acquire() as conn:
        owned = [p for p in portfolio_ids if partitioner(p.encode(), all_parts, all_parts) in partitions]
        decision_ids = [derisk_decision_id(event_id, p) for p in owned]
        done = await db.seen_decisions(conn, decision_ids)
    sent = 0
    for portfolio_id, decision_id in zip(owned, decision_ids, strict=True):
        if decision_id in done or decision_id in emitted:
            continue
        await producer.send_and_wait(
            topic, derisk_command(event_id, portfolio_id, gross_cut_pct, as_of), key=portfolio_id.encode()
        )
        emitted.add(decision_id)
        sent += 1
    log.warning("forced_derisk_issued", event_id=event_id, commands=sent, owned=len(owned))
    return sent
