"""Crash windows of the commit step, proved against the real broker and database."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import PublisherFenced
from riskgate.records import InRecord, OutRecord
from riskgate.store import state as db
from riskgate.store.connect import connect as db_connect
from riskgate.store.connect import create_pool as db_pool
from riskgate.worker.batch import BatchCommitter
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.publisher import PartitionPublisher
from tests.conftest import ROOT
from tests.integration.test_pipe import seed_world
from tests.integration.test_poison_sizes import riskgate_cli
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics
from tests.support.publish_faults import usurp_transactional_id

pytestmark = pytest.mark.integration


async def _pool(s):
    return await db_pool(s, min_size=1, max_size=2, init=db.init_connection)


class TestZombieFencing:
    @pytest.mark.client_mechanism  # aiokafka's; librdkafka's is tests/integration/test_rdkafka_fencing.py
    async def test_new_owner_fences_the_old_producer_and_its_open_transaction(self, test_settings):
        """A second producer with the partition's transactional id aborts the first one's work."""
        s = test_settings
        async with topics(s):
            zombie = PartitionPublisher(s, f"{s.transactional_id_prefix}-z", s.group_id)
            await zombie.start()
            producer = zombie._producer
            await producer.begin_transaction()
            await producer.send_and_wait(s.topics.targets, b"zombie", key=b"k")
            heir = PartitionPublisher(s, f"{s.transactional_id_prefix}-z", s.group_id)
            await heir.start()
            with pytest.raises(KafkaError):
                await producer.commit_transaction()
            with pytest.raises(PublisherFenced):
                await zombie.publish([OutRecord(s.topics.targets, b"k", b"late")],
                                     TopicPartition(s.topics.proposed, 0), 1)
            await heir.publish([OutRecord(s.topics.targets, b"k", b'{"heir": true}')],
                               TopicPartition(s.topics.proposed, 0), 1)
            seen = await collect(s, s.topics.targets, 1, deadline_s=20, settle_s=2)
            await zombie.close()
            await heir.close()
        assert [v for _, v in seen] == [{"heir": True}]


class TestReplayAfterCrash:
    async def test_outputs_stored_before_a_lost_kafka_commit_are_republished_byte_for_byte(
            self, test_settings, unique):
        """A batch committed to PostgreSQL but never to Kafka is republished from its rows, once."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now) for i in range(3)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
            part = await _partition_of(s, p)
            pool = await _pool(s)
            try:
                async with pool.acquire() as conn:
                    await db.upsert_snapshot(conn, p, 1, now, 1e6, 1e6, 0.0, 1e6, {}, [])
                world = GlobalState()
                from tests.service.test_handler import world as make_world
                world.market = make_world(AAPL=100.0).market
                committer = BatchCommitter(pool, DecisionHandler(s, world))
                recs = [InRecord(s.topics.proposed, part, i, p.encode(), b.dumps(d)) for i, d in enumerate(decisions)]
                stored = await committer.persist(s.topics.proposed, part, recs, now)  # the "crash" is here
            finally:
                await pool.close()
            async with running_worker(s):
                actions = await collect(s, s.topics.actions, 3, settle_s=2)
        assert [orjson_bytes for orjson_bytes in _values(actions)] == [r.value for r in stored if r.topic == s.topics.actions]
        assert len(actions) == 3


class TestHaltOnLostState:
    async def test_partition_halts_when_stored_progress_is_behind_kafka(self, test_settings, unique):
        """If Kafka's committed offset is ahead of PostgreSQL's progress the partition halts and alerts."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            part = await _partition_of(s, p)
            await _commit_offset(s, part, 5)
            await produce(s, s.topics.proposed, [(p.encode(), b.dumps(b.proposal(f"D{unique}", p, "AAPL", created_at=now)))])
            async with running_worker(s) as service:
                await asyncio.sleep(3)
                halted = service.loop.halted
            conn = await db_connect(s)
            try:
                reason = await conn.fetchval("SELECT halted FROM partition_progress WHERE topic=$1 AND partition=$2",
                                             s.topics.proposed, part)
            finally:
                await conn.close()
            actions = await collect(s, s.topics.actions, 1, deadline_s=3)
        assert halted == [part]
        assert "behind the committed offset" in reason
        assert actions == []


    async def test_a_resumed_state_lost_halt_is_not_halted_again_by_the_next_owner(
            self, test_settings, unique):
        """`riskgate partitions resume` on a state-lost halt accepts the gap: the stored progress
        moves to just below the committed offset, so a worker that takes the partition next
        decides from there instead of halting it again."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=1.0 + i, created_at=now)
                     for i in range(6)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            part = await _partition_of(s, p)
            await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
            await _commit_offset(s, part, 5)  # offsets 0-4 "decided" by a database since lost
            async with running_worker(s) as first:
                await asyncio.sleep(2)
                halted_first = first.loop.halted
            resumed = await asyncio.to_thread(riskgate_cli, s, "partitions", "resume", str(part),
                                              "--reason", "backup restored, snapshots refreshed")
            async with running_worker(s) as second:
                actions = await collect(s, s.topics.actions, 1, deadline_s=30, settle_s=2)
                halted_second = second.loop.halted
            conn = await db_connect(s)
            try:
                progress = await conn.fetchval(
                    "SELECT last_offset FROM partition_progress WHERE topic=$1 AND partition=$2",
                    s.topics.proposed, part)
                logged = await conn.fetchval(
                    "SELECT reason FROM partition_halts WHERE topic=$1 AND partition=$2 AND "
                    "event='RESUMED'", s.topics.proposed, part)
            finally:
                await conn.close()
        assert halted_first == [part]
        assert resumed.returncode == 0, resumed.stderr
        assert ("stored progress moved from -1 to 4: offsets 0-4 accepted as lost"
                in resumed.stdout), resumed.stdout
        assert halted_second == []
        assert [v["decision_id"] for _, v in actions] == [f"D{unique}-5"]
        assert progress == 5
        assert logged.startswith("backup restored, snapshots refreshed (progress moved from -1")


class TestDatabaseOutage:
    @pytest.mark.timeout(300)
    async def test_database_down_pauses_and_nothing_is_approved_until_it_returns(self, test_settings, unique):
        """With PostgreSQL stopped, readiness turns false and nothing is published; afterwards all flow once."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=1.0 + i, created_at=time.time()) for i in range(5)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                await _wait_snapshot_loaded(s, p)
                _pg("stop")
                try:
                    await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
                    during = await collect(s, s.topics.actions, 1, deadline_s=6)
                    ready_during = service.ready()
                finally:
                    _pg("start")
                after = await collect(s, s.topics.actions, 5, deadline_s=90, settle_s=2)
                ready_after = service.ready()
        assert during == [] and ready_during is False
        assert sorted(a["decision_id"] for _, a in after) == sorted(d["decision_id"] for d in decisions)
        assert ready_after is True


def _pg(action: str) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/local/postgres.sh"), action], check=True, timeout=120)


def _values(actions):
    import orjson
    return [orjson.dumps(a) for _, a in actions]


async def _partition_of(s, key: str) -> int:
    from aiokafka.partitioner import DefaultPartitioner
    parts = list(range(s.partitions))
    return DefaultPartitioner()(key.encode(), parts, parts)


async def _wait_snapshot(pool, p: str, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT snapshot_version FROM portfolio_state WHERE portfolio_id=$1", p) == 1:
                return
        await asyncio.sleep(0.2)
    raise AssertionError("snapshot never stored")


async def _wait_snapshot_loaded(s, p: str) -> None:
    pool = await _pool(s)
    try:
        await _wait_snapshot(pool, p)
    finally:
        await pool.close()


async def _commit_offset(s, partition: int, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=s.group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(s.topics.proposed, partition)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


class TestFencedZombie:
    @pytest.mark.timeout(180)
    async def test_fenced_worker_drops_the_partition_instead_of_fencing_back(self, test_settings, unique):
        """When another producer takes a partition's transactional id, the worker stops publishing
        for it; once the usurper is gone and the partition is still its own, it resumes, and the
        decision is answered exactly once."""
        s, now = test_settings.model_copy(update={"fenced_recheck_s": 3.0}), time.time()
        p = f"P{unique}"
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            part = await _partition_of(s, p)
            fenced_before = metrics.RETRIES.labels("fenced")._value.get()
            async with running_worker(s):
                usurper = await usurp_transactional_id(s, part)  # fences the worker's producer
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(
                    b.proposal(f"D{unique}", p, "AAPL", created_at=time.time())))])
                actions = await collect(s, s.topics.actions, 1, deadline_s=30, settle_s=2)
                await usurper()
        assert metrics.RETRIES.labels("fenced")._value.get() > fenced_before
        assert [a["decision_id"] for _, a in actions] == [f"D{unique}"]
