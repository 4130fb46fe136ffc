"""Broker side of the end-to-end runs: per-run topics, the seeded world, the input producer
and a read_committed collector that timestamps every target it sees."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from tests.support import builders as b

from bench import workload as w
from riskgate.kafka.admin import create_topics
from riskgate.kafka.clients import kafka_admin, kafka_consumer, kafka_producer
from riskgate.settings import Settings, Topics
from riskgate.store.connect import connect as db_connect

Payload = tuple[bytes, bytes, str]  # key, value, decision_id


def run_settings(base: Settings, run: str, partitions: int) -> Settings:
    """Topics, group and transactional ids that belong to this run only."""
    names = {k: f"bench{run}.{v}" for k, v in Topics().model_dump().items()}
    return base.model_copy(update={
        "topics": Topics(**names), "group_id": f"bench{run}", "partitions": partitions,
        "transactional_id_prefix": f"bench{run}", "http_port": 0,
    })


async def seed_world(s: Settings, portfolio_ids: Sequence[str], positions: int) -> None:
    """Market metrics, one snapshot per portfolio and the global config, all committed."""
    now = time.time()
    producer = kafka_producer(s, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(w.TICKERS):
            body = w.market_body(i, now)
            await producer.send(s.topics.market, orjson.dumps(body), key=body["ticker"].encode())
        for pid in portfolio_ids:
            body = w.snapshot_body(pid, positions, now)
            await producer.send(s.topics.snapshots, orjson.dumps(body), key=pid.encode())
        config = b.config(1, as_of=now, profile=w.PROFILE, limits=w.LIMITS)
        await producer.send(s.topics.config, orjson.dumps(config), key=b"global")
        await producer.flush()
    finally:
        await producer.stop()


def decisions(run: str, portfolio_ids: Sequence[str], count: int, first: int = 0) -> list[Payload]:
    """``count`` decisions spread round-robin over the portfolios, created now."""
    now = time.time()
    out = []
    for k in range(first, first + count):
        pid = portfolio_ids[k % len(portfolio_ids)]
        body = w.proposal_body(k, pid, now, run)
        out.append((pid.encode(), orjson.dumps(body), body["decision_id"]))
    return out


async def preload(s: Settings, payloads: Sequence[Payload]) -> None:
    producer = kafka_producer(s, enable_idempotence=True, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for key, value, _ in payloads:
            await producer.send(s.topics.proposed, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def paced_send(s: Settings, payloads: Sequence[Payload], rate: float,
                     sent_at: dict[str, float]) -> float:
    """Send at ``rate`` per second; stamp each record and ``sent_at`` with the send time.
    Returns the rate actually achieved."""
    producer = kafka_producer(s, enable_idempotence=True, linger_ms=2, max_batch_size=256 * 1024)
    await producer.start()
    try:
        start = time.perf_counter()
        i = 0
        while i < len(payloads):
            due = min(len(payloads), int((time.perf_counter() - start) * rate) + 1)
            while i < due:
                key, value, did = payloads[i]
                now = time.time()
                sent_at[did] = now
                await producer.send(s.topics.proposed, value, key=key, timestamp_ms=int(now * 1000))
                i += 1
            await asyncio.sleep(0.002)
        await producer.flush()
        return len(payloads) / max(time.perf_counter() - start, 1e-9)
    finally:
        await producer.stop()


@dataclass
class Collector:
    """Reads one output topic with read_committed and notes when each record became visible."""

    settings: Settings
    topic: str
    partitions: int
    seen_at: dict[str, float] = field(default_factory=dict)
    progress: list[tuple[float, int]] = field(default_factory=list)  # (time, records so far)
    hooks: list[tuple[int, Callable[[], None]]] = field(default_factory=list)
    count: int = 0
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = kafka_consumer(
            self.settings, group_id=None, isolation_level="read_committed",
            enable_auto_commit=False, fetch_max_wait_ms=10)
        await self._consumer.start()
        parts = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        self._consumer.assign(parts)
        await self._consumer.seek_to_beginning(*parts)

    def at(self, count: int, hook: Callable[[], None]) -> None:
        """Call ``hook`` once when ``count`` records have been seen."""
        self.hooks.append((count, hook))

    async def until(self, expected: int, deadline_s: float, track_ids: bool = False,
                    alive: Callable[[], bool] = lambda: True) -> bool:
        """Poll until ``expected`` records in total are seen; False on deadline, or soon after
        ``alive`` turns false (the system under test died)."""
        assert self._consumer is not None
        end = time.monotonic() + deadline_s
        while self.count < expected and time.monotonic() < end:
            if not alive():
                end = min(end, time.monotonic() + 2.0)  # drain what was committed, then stop
            batch = await self._consumer.getmany(timeout_ms=20, max_records=5000)
            now = time.time()
            for records in batch.values():
                self.count += len(records)
                if track_ids:
                    for r in records:
                        self.seen_at[orjson.loads(r.value)["decision_id"]] = now
            if batch:
                self.progress.append((now, self.count))
                self._fire()
        return self.count >= expected

    def _fire(self) -> None:
        due = [h for h in self.hooks if h[0] <= self.count]
        self.hooks = [h for h in self.hooks if h[0] > self.count]
        for _, hook in due:
            hook()

    def time_at(self, count: int) -> float:
        """When the ``count``-th record had become visible."""
        return next(t for t, c in self.progress if c >= count)

    async def stop(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()


async def drop_run(s: Settings, run: str) -> None:
    """Delete the run's topics (faust's internal ones too) and its PostgreSQL rows. Best
    effort: a broker or database that someone else is restarting must not fail the run."""
    with contextlib.suppress(Exception):
        admin = kafka_admin(s)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if f"bench{run}" in t]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()
    with contextlib.suppress(Exception):
        conn = await db_connect(s)
        try:
            like = f"bench{run}%"
            for table, column in _RUN_ROWS:
                await conn.execute(f"DELETE FROM {table} WHERE {column} LIKE $1", like)  # noqa: S608
        finally:
            await conn.close()


_RUN_ROWS = (("risk_actions", "portfolio_id"), ("target_positions", "portfolio_id"),
             ("processed_decisions", "decision_id"), ("portfolio_state", "portfolio_id"),
             ("dead_letters", "source_topic"), ("partition_progress", "topic"),
             ("shadow_records", "source_topic"), ("input_records", "source_topic"),
             ("snapshot_history", "portfolio_id"))


async def prepare(s: Settings, portfolio_ids: Sequence[str], positions: int) -> None:
    await create_topics(s)
    await seed_world(s, portfolio_ids, positions)
