"""Read the stored evidence of a replay window, portfolio by portfolio. Read-only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from riskgate.records import InRecord
from riskgate.settings import Topics


class Unreplayable(Exception):
    """The evidence for a decision is missing or unusable; the message says which record."""


@dataclass(slots=True)
class StoredLeg:
    """One stored action of a decision, and its target (None for a DUPLICATE)."""

    action_id: str
    strategy_id: str
    timestamp: datetime
    payload: bytes
    target: bytes | None


@dataclass(slots=True)
class StoredDecision:
    """A decided record: its witness, its raw input and every leg it produced."""

    decision_id: str
    seq: int | None  # the witness's portfolio sequence; None when no witness was stored
    witness: dict[str, Any] | None
    topic: str
    partition: int
    offset: int
    record: InRecord | None = None
    processed_at: tuple[int, int] | None = None  # where processed_decisions says it was decided
    legs: list[StoredLeg] = field(default_factory=list)

    def seen(self) -> set[str]:
        """What the live handler knew as processed: this decision, if it was decided elsewhere
        (then this record was a DUPLICATE)."""
        return {self.decision_id} if self.processed_at not in (None, (self.partition, self.offset)) else set()


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    seq: int
    version: int
    payload: bytes


_ACTIONS = """
SELECT a.action_id::text, a.decision_id, a.strategy_id, a.timestamp, a.source_topic,
       a.source_partition, a.source_offset, a.payload, a.witness,
       t.payload AS target
  FROM risk_actions a LEFT JOIN target_positions t ON t.action_id = a.action_id
 WHERE a.portfolio_id = $1 AND a.timestamp <= $2
 ORDER BY a.source_topic, a.source_partition, a.source_offset, a.seq
"""


_ACTIONS_AFTER = _ACTIONS.replace(
    "WHERE a.portfolio_id = $1 AND a.timestamp <= $2",
    "WHERE a.portfolio_id = $1 AND a.timestamp <= $2 AND a.source_topic = $3 "
    "AND a.source_partition = $4 AND a.source_offset > $5") + " LIMIT $6"

CHUNK_ROWS = 2_000  # action rows per fetch: bounds what one portfolio holds in memory


async def portfolios_in_window(conn: asyncpg.Connection, start: datetime, end: datetime,
                               portfolios: Sequence[str], strategies: Sequence[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT portfolio_id FROM risk_actions WHERE timestamp BETWEEN $1 AND $2 "
        "AND (cardinality($3::text[]) = 0 OR portfolio_id = ANY($3)) "
        "AND (cardinality($4::text[]) = 0 OR strategy_id = ANY($4)) ORDER BY 1",
        start, end, list(portfolios), list(strategies))
    return [r["portfolio_id"] for r in rows]


async def known_portfolios(conn: asyncpg.Connection, ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT portfolio_id FROM portfolio_state WHERE portfolio_id = ANY($1)",
                            list(ids))
    return {r["portfolio_id"] for r in rows}


async def load_portfolio(conn: asyncpg.Connection, portfolio_id: str, end: datetime
                         ) -> tuple[list[StoredSnapshot], list[StoredDecision]]:
    """Every snapshot apply and every decision of a portfolio up to ``end``, with their inputs."""
    decisions = _group(await conn.fetch(_ACTIONS, portfolio_id, end))
    await _attach_inputs(conn, decisions)
    return await load_snapshots(conn, portfolio_id), decisions


async def load_snapshots(conn: asyncpg.Connection, portfolio_id: str) -> list[StoredSnapshot]:
    return [StoredSnapshot(r["seq"], r["version"], _bytes(r["payload"]) or b"{}")
            for r in await conn.fetch("SELECT seq, version, payload FROM snapshot_history "
                                      "WHERE portfolio_id = $1 ORDER BY seq", portfolio_id)]


async def decision_chunks(conn: asyncpg.Connection, portfolio_id: str, end: datetime,
                          rows: int | None = None) -> AsyncIterator[list[StoredDecision]]:
    """A portfolio's decisions up to ``end`` in their order, a bounded chunk at a time.

    A portfolio read from one partition (the contract: keyed by portfolio_id) was decided in
    offset order, which is its sequence order, so it is paged by offset. One whose decisions
    came from more than one partition (a misrouting producer) is loaded whole and sorted by
    the witnesses' sequence numbers."""
    places = await conn.fetch(
        'SELECT DISTINCT source_topic, source_partition FROM risk_actions '
        'WHERE portfolio_id = $1 AND "timestamp" <= $2', portfolio_id, end)
    if len(places) != 1:
        whole = _group(await conn.fetch(_ACTIONS, portfolio_id, end))
        whole.sort(key=lambda d: (d.seq is not None, d.seq or 0))
        await _attach_inputs(conn, whole)
        yield whole
        return
    topic, partition, after = places[0]["source_topic"], places[0]["source_partition"], -1
    rows = rows or CHUNK_ROWS
    while True:
        fetched = await conn.fetch(_ACTIONS_AFTER, portfolio_id, end, topic, partition, after, rows)
        chunk, full = _group(fetched), len(fetched) == rows
        if full:
            chunk.pop()  # its last legs may be on the next page: it starts the next chunk
        if full and not chunk:  # one decision with more legs than a page: the rest, whole
            yield await _whole_decision(conn, portfolio_id, end, topic, partition, after)
            return
        if chunk:
            after = chunk[-1].offset
            await _attach_inputs(conn, chunk)
            yield chunk
        if not full:
            return


async def _whole_decision(conn, portfolio_id, end, topic, partition, after) -> list[StoredDecision]:
    rest = _group(await conn.fetch(_ACTIONS_AFTER.replace(" LIMIT $6", ""), portfolio_id, end,
                                   topic, partition, after))
    await _attach_inputs(conn, rest)
    return rest


def _group(rows) -> list[StoredDecision]:
    """Action rows (ordered by place, then leg) grouped into decisions."""
    decisions: dict[tuple[str, int, int], StoredDecision] = {}
    for r in rows:
        where = (r["source_topic"], r["source_partition"], r["source_offset"])
        found = decisions.get(where)
        if found is None:
            witness = orjson.loads(r["witness"]) if r["witness"] else None
            found = decisions[where] = StoredDecision(
                r["decision_id"], witness["seq"] if witness else None, witness, *where)
        found.legs.append(StoredLeg(r["action_id"], r["strategy_id"], r["timestamp"],
                                    bytes(r["payload"]), _bytes(r["target"])))
    return list(decisions.values())


async def first_seq(conn: asyncpg.Connection, portfolio_id: str) -> int:
    """Where the portfolio's recorded history starts: 1, or after ``riskgate audit prune`` the
    sequence number of the kept snapshot apply it is rebuilt from (``replay_anchors``)."""
    seq = await conn.fetchval("SELECT seq FROM replay_anchors WHERE portfolio_id = $1", portfolio_id)
    return 1 if seq is None else seq


async def _attach_inputs(conn: asyncpg.Connection, decisions: list[StoredDecision]) -> None:
    if not decisions:
        return
    rows = await conn.fetch(
        "SELECT i.source_topic, i.source_partition, i.source_offset, i.key, i.value "
        "FROM input_records i JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS w(t, p, o) "
        "ON i.source_topic = w.t AND i.source_partition = w.p AND i.source_offset = w.o",
        [d.topic for d in decisions], [d.partition for d in decisions],
        [d.offset for d in decisions])
    by_place = {(r["source_topic"], r["source_partition"], r["source_offset"]): r for r in rows}
    processed = {r["decision_id"]: (r["partition"], r["offset"]) for r in await conn.fetch(
        'SELECT decision_id, partition, "offset" FROM processed_decisions WHERE decision_id = ANY($1)',
        list({d.decision_id for d in decisions}))}
    for d in decisions:
        r = by_place.get((d.topic, d.partition, d.offset))
        if r is not None:
            d.record = InRecord(d.topic, d.partition, d.offset, _bytes(r["key"]), _bytes(r["value"]))
        d.processed_at = processed.get(d.decision_id)


@dataclass(slots=True)
class GlobalHistory:
    """The config and emergency histories, and the market versions a window needs."""

    market_topic: str
    configs: list[tuple[int, bytes]]
    emergencies: list[tuple[int, bytes]]
    market: dict[tuple[str, int], bytes]


async def load_globals(conn: asyncpg.Connection, topics: Topics) -> GlobalHistory:
    """This deployment's histories, keyed by its own config, emergency and market topics; the
    config and emergency records in the order the workers applied them (each history row keeps
    its first insertion time, and every worker inserts in topic order, so that order is the
    topic's: a late older version stays after the newer one it did not replace)."""
    configs = [(r["version"], bytes(r["payload"])) for r in await conn.fetch(
        "SELECT version, payload FROM risk_configs WHERE source_topic = $1 "
        "ORDER BY received_at, version", topics.config)]
    emergencies = [(r["version"], bytes(r["payload"])) for r in await conn.fetch(
        "SELECT version, payload FROM emergency_events WHERE source_topic = $1 "
        "ORDER BY received_at, version", topics.black_swan)]
    return GlobalHistory(topics.market, configs, emergencies, {})


async def load_market(conn: asyncpg.Connection, history: GlobalHistory,
                      wanted: set[tuple[str, int]]) -> None:
    """Add the market rows of ``wanted`` (ticker, version) not loaded yet."""
    missing = sorted(wanted - set(history.market))
    if not missing:
        return
    rows = await conn.fetch(
        "SELECT m.ticker, m.version, m.payload FROM market_history m "
        "JOIN unnest($1::text[], $2::bigint[]) AS w(t, v) ON m.ticker = w.t AND m.version = w.v "
        "WHERE m.source_topic = $3", [t for t, _ in missing], [v for _, v in missing],
        history.market_topic)
    for r in rows:
        history.market[(r["ticker"], r["version"])] = bytes(r["payload"])


def _bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else bytes(value)
