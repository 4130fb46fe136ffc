"""Append-only evidence for replay: the raw input records of each batch, and the history of the
compacted inputs not kept elsewhere (snapshot history is written by ``state.upsert_snapshot``;
config and emergency history are ``risk_configs`` and ``emergency_events``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg


async def record_market(conn: asyncpg.Connection, topic: str, ticker: str, version: int,
                        payload: bytes) -> None:
    """Append a market record to the history before it is applied (a re-read adds nothing)."""
    await conn.execute(
        "INSERT INTO market_history (source_topic, ticker, version, payload) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING", topic, ticker, version, payload)


async def write_inputs(conn: asyncpg.Connection, records: Sequence[Any], received_at: Any) -> None:
    """Store the raw records of a batch (fresh offsets only, so none can already exist)."""
    await conn.copy_records_to_table(
        "input_records",
        records=[(r.topic, r.partition, r.offset, r.key, r.value, received_at) for r in records],
        columns=("source_topic", "source_partition", "source_offset", "key", "value", "received_at"))
