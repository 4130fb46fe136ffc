"""Decisions from a confluent-kafka producer: misrouted ones (CRC32) are counted, all are decided."""

from __future__ import annotations

import asyncio
import time
import zlib

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from riskgate.worker.handler import expected_partition
from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, running_worker, topics

pytestmark = pytest.mark.integration

PARTITIONS = 4  # test_settings' partition count


def misrouted(topic: str) -> float:
    return REGISTRY.get_sample_value("riskgate_misrouted_decisions_total", {"topic": topic}) or 0.0


def mixed_portfolios(unique: str, each: int = 3) -> list[str]:
    """Portfolios of which ``each`` land on murmur2's partition under CRC32 and ``each`` do not,
    so that both cases are always present (confluent-kafka's default hashes with CRC32)."""
    agree, differ = [], []
    for i in range(1000):
        p = f"P{unique}-{i}"
        same = zlib.crc32(p.encode()) % PARTITIONS == expected_partition(p.encode(), PARTITIONS)
        group = agree if same else differ
        if len(group) < each:
            group.append(p)
        if len(agree) == len(differ) == each:
            return agree + differ
    raise AssertionError("no mix of portfolios found")


def send(s, topic: str, records: list[tuple[bytes, bytes]], partitioner: str | None) -> list[int]:
    """Produce with confluent-kafka (its default partitioner unless one is named); return the
    partition each record was delivered to, in order."""
    config = {"bootstrap.servers": s.bootstrap_servers, "enable.idempotence": True}
    if partitioner is not None:
        config["partitioner"] = partitioner
    producer = Producer(config)
    delivered: dict[int, int] = {}
    errors = []

    def on_delivery(i: int):
        def report(err, msg) -> None:
            if err is not None:
                errors.append(err)
            else:
                delivered[i] = msg.partition()
        return report

    for i, (key, value) in enumerate(records):
        producer.produce(topic, value, key, on_delivery=on_delivery(i))
        producer.poll(0)
    assert producer.flush(30) == 0, "records still undelivered after 30 s"
    assert not errors, errors
    return [delivered[i] for i in range(len(records))]


class TestProducerPartitioners:
    async def test_crc32_records_are_counted_as_misrouted_and_every_record_is_decided(
            self, test_settings, unique):
        """Records off murmur2's partition are counted exactly; every record gets one action."""
        s, now = test_settings, time.time()
        portfolios = mixed_portfolios(unique)
        decisions = [b.proposal(f"D{unique}-{i}", portfolios[i % len(portfolios)], "AAPL",
                                qty=float(1 + i % 3), created_at=now) for i in range(36)]
        records = [(d["portfolio_id"].encode(), b.dumps(d)) for d in decisions]
        async with topics(s):
            await seed_world(s, now, portfolios, {"AAPL": "TECH"})
            async with running_worker(s):
                before = misrouted(s.topics.proposed)
                delivered = await asyncio.to_thread(send, s, s.topics.proposed, records, None)
                actions = await collect(s, s.topics.actions, len(decisions))
                counted = misrouted(s.topics.proposed) - before
        off = sum(p != expected_partition(key, PARTITIONS) for (key, _), p in zip(records, delivered, strict=True))
        assert 0 < off < len(records)
        assert counted == off
        assert sorted(a["decision_id"] for _, a in actions) == sorted(d["decision_id"] for d in decisions)
        assert {a["action_type"] for _, a in actions} <= {"OK", "CAPPED", "SCALED_DOWN"}

    async def test_murmur2_random_records_land_where_riskgate_expects(self, test_settings, unique):
        """With partitioner=murmur2_random, confluent-kafka agrees with riskgate on every key."""
        s, now = test_settings, time.time()
        portfolios = mixed_portfolios(unique)
        decisions = [b.proposal(f"D{unique}-{i}", portfolios[i % len(portfolios)], "AAPL",
                                qty=1.0, created_at=now) for i in range(12)]
        records = [(d["portfolio_id"].encode(), b.dumps(d)) for d in decisions]
        async with topics(s):
            await seed_world(s, now, portfolios, {"AAPL": "TECH"})
            async with running_worker(s):
                before = misrouted(s.topics.proposed)
                delivered = await asyncio.to_thread(send, s, s.topics.proposed, records, "murmur2_random")
                actions = await collect(s, s.topics.actions, len(decisions))
                counted = misrouted(s.topics.proposed) - before
        assert delivered == [expected_partition(key, PARTITIONS) for key, _ in records]
        assert counted == 0
        assert len(actions) == len(decisions)
