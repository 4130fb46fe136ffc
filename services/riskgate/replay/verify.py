"""``--verify-topics``: check that every stored output of a window is on its topic exactly once.

Reads ``risk.actions`` and ``risk.targets`` with read_committed, no group and no commits.
Kafka timestamps are publish times and a republished output arrives later than its action's
processing time, so the read starts at ``offsets_for_times(start - slack)`` and runs to the end
offsets taken when it began; records are matched by ``action_id``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from aiokafka.structs import TopicPartition

from riskgate.kafka.clients import kafka_admin, kafka_consumer
from riskgate.settings import Settings

SLACK = timedelta(minutes=10)
READ_DEADLINE_S = 300.0


@dataclass(slots=True)
class TopicCheck:
    expected: int = 0
    found: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # a second copy, or one not stored
    differing: list[str] = field(default_factory=list)
    beyond_retention: list[str] = field(default_factory=list)

    def line(self, topic: str) -> str:
        return (f"verify {topic}: expected={self.expected} found={self.found} "
                f"missing={len(self.missing)} extra={len(self.extra)} "
                f"differing={len(self.differing)} beyond_retention={len(self.beyond_retention)}")

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.differing)


async def stored_outputs(conn: asyncpg.Connection, table: str, start: datetime, end: datetime,
                         portfolios: list[str]) -> dict[str, tuple[bytes, datetime]]:
    """action_id -> (published bytes, processing time) of the stored rows in the window."""
    rows = await conn.fetch(
        f"SELECT action_id::text, payload, timestamp FROM {table} "  # noqa: S608 - fixed names
        "WHERE timestamp BETWEEN $1 AND $2 AND portfolio_id = ANY($3)", start, end, portfolios)
    return {r["action_id"]: (bytes(r["payload"]), r["timestamp"]) for r in rows}


async def check_topic(settings: Settings, topic: str, expected: dict[str, tuple[bytes, datetime]],
                      start: datetime, end: datetime) -> TopicCheck:
    check = TopicCheck(expected=len(expected))
    seen: Counter[str] = Counter()
    consumer = kafka_consumer(settings, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        firsts = await consumer.beginning_offsets(parts)
        starts = await consumer.offsets_for_times({tp: int((start - SLACK).timestamp() * 1000) for tp in parts})
        oldest = await _oldest_timestamp(consumer, parts, firsts, ends)
        for tp in parts:
            at = starts.get(tp)
            consumer.seek(tp, at.offset if at is not None else ends[tp])
        pending = {tp for tp in parts if (starts.get(tp) and starts[tp].offset < ends[tp])}
        deadline = time.monotonic() + READ_DEADLINE_S
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        break
                    _match(r.value, expected, seen, check)
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
            if not batch:
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    for action_id, (_, at) in expected.items():
        if seen[action_id] == 0:
            target = check.beyond_retention if oldest is not None and at < oldest else check.missing
            target.append(action_id)
    return check


def _match(value: bytes, expected: dict[str, tuple[bytes, datetime]], seen: Counter, check) -> None:
    action_id = orjson.loads(value).get("action_id")
    if action_id not in expected:
        return  # another window's, or another portfolio's
    seen[action_id] += 1
    if seen[action_id] > 1:
        check.extra.append(action_id)
        return
    check.found += 1
    if value != expected[action_id][0]:
        check.differing.append(action_id)


async def _partitions(settings: Settings, topic: str) -> list[int]:
    """The topic's partitions from the broker (a consumer's metadata may not be loaded yet)."""
    admin = kafka_admin(settings, request_timeout_ms=10_000)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for d in described if d["error_code"] == 0 for p in d["partitions"])


async def _oldest_timestamp(consumer, parts, firsts, ends) -> datetime | None:
    """The publish time of the oldest record still on the topic (older ones were deleted)."""
    found = None
    for tp in parts:
        if firsts[tp] >= ends[tp]:
            continue
        consumer.seek(tp, firsts[tp])
        batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
        for records in batch.values():
            if records:
                at = datetime.fromtimestamp(records[0].timestamp / 1000, tz=UTC)
                found = at if found is None or at < found else found
    return found


async def verify_topics(conn: asyncpg.Connection, settings: Settings, start: datetime,
                        end: datetime, portfolios: list[str]) -> dict[str, TopicCheck]:
    t = settings.topics
    out = {}
    for topic, table in ((t.actions, "risk_actions"), (t.targets, "target_positions")):
        expected = await stored_outputs(conn, table, start, end, portfolios)
        out[topic] = await check_topic(settings, topic, expected, start, end)
    return out
