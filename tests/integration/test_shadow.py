"""The live shadow profile through a real worker, broker and database: risk.shadow read back with
confluent-kafka (read_committed), matched against the stored rows, and republished byte for byte."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from riskgate.records import OutRecord
from riskgate.store.connect import connect as db_connect
from tests.support import builders as b
from tests.support.kafka import collect, eventually, produce, running_worker, topics, worker_env
from tests.support.publish_faults import lose_first_commit

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def read_shadow(s, expected: int, deadline_s: float = 60.0, settle_s: float = 2.0) -> list:
    """(partition, key, value) of every committed record on the shadow topic (librdkafka client,
    read_committed, a group of this test's own, no commits)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": s.bootstrap_servers, "group.id": f"{s.group_id}-r",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(s.topics.shadow, p, 0) for p in range(s.partitions)])
    out, end = [], time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            out.append((message.partition(), message.key(), message.value()))
            if len(out) >= expected:
                end = min(end, time.monotonic() + settle_s)
    finally:
        consumer.close()
    return out


async def stored_shadows(s) -> list:
    conn = await db_connect(s)
    try:
        return await conn.fetch(
            "SELECT source_partition, source_offset, decision_id, live_action, shadow_action, "
            "differs, reason, payload FROM shadow_records WHERE source_topic=$1 "
            "ORDER BY source_partition, source_offset", s.topics.proposed)
    finally:
        await conn.close()


async def seed(s, now: float, portfolios: list[str], ticker: str) -> None:
    await produce(s, s.topics.market, [(ticker.encode(), b.dumps(b.market(ticker, as_of=now)))])
    await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))
                                          for p in portfolios])
    await asyncio.sleep(1.0)  # compacted inputs are read before the worker reports ready


def decisions(unique: str, portfolios: list[str], ticker: str, now: float) -> list[dict]:
    return [b.proposal(f"D{unique}-{i}", portfolios[i % len(portfolios)], ticker,
                       qty=float(2 + 3 * i), created_at=now) for i in range(8)]


def report_cli(s, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "riskgate.cli", "shadow",
                           "report", *args], env=worker_env(s), capture_output=True, text=True,
                          timeout=120)


def republished() -> float:
    return REGISTRY.get_sample_value("riskgate_republished_total") or 0.0


class TestShadowThroughTheWorker:
    @pytest.mark.timeout(300)
    async def test_one_committed_record_per_decision_matching_the_stored_rows(
            self, test_settings, unique):
        """With a shadow profile, every fresh proposal has one committed shadow record whose bytes
        are its stored row's; a duplicate and a poison record have none; the report sums the rows."""
        s = test_settings.model_copy(update={"shadow_profile": "DEFENSIVE"})
        now, tk = time.time(), f"S{unique[:6]}".upper()
        portfolios = [f"P{unique}-{i}" for i in range(3)]
        ds = decisions(unique, portfolios, tk, now)
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5))
        async with topics(s):
            await seed(s, now, portfolios, tk)
            async with running_worker(s):
                p0 = portfolios[0].encode()
                await produce(s, s.topics.proposed, [(d["portfolio_id"].encode(), b.dumps(d))
                                                     for d in ds]
                              + [(p0, b.dumps(ds[0])), (p0, b"{not json")])
                actions = await collect(s, s.topics.actions, len(ds) + 1)
                found = await asyncio.to_thread(read_shadow, s, len(ds))
            rows = await stored_shadows(s)
            end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
            report = await asyncio.to_thread(report_cli, s, "--from", start, "--to", end,
                                             *[a for p in portfolios for a in ("--portfolio", p)])
        bodies = [orjson.loads(v) for _, _, v in found]
        assert sorted(body["decision_id"] for body in bodies) == sorted(d["decision_id"] for d in ds)
        assert all(key == body["portfolio_id"].encode() for (_, key, _), body in zip(found, bodies,
                                                                                     strict=True))
        assert sorted(v for _, _, v in found) == sorted(bytes(r["payload"]) for r in rows)
        live = {a["decision_id"]: a for _, a in actions if a["action_type"] != "DUPLICATE"}
        for body in bodies:
            assert body["live"]["action_type"] == live[body["decision_id"]]["action_type"]
            assert body["shadow"]["profile"] == "DEFENSIVE" and body["candidate"] == "DEFENSIVE"
        differ = sum(1 for r in rows if r["differs"])
        assert report.returncode == 0, report.stderr
        assert report.stdout.strip().splitlines()[-1] == (
            f"shadow: decisions={len(ds)} agree={len(ds) - differ} differ={differ}")
        assert differ > 0  # DEFENSIVE halves NORMAL's money cap: the larger proposals differ

    @pytest.mark.timeout(300)
    async def test_a_republished_batch_carries_the_same_shadow_bytes(
            self, test_settings, unique, monkeypatch, tmp_path):
        """When a batch's Kafka transaction is lost after its PostgreSQL commit, the retry takes the
        stored outputs: the committed shadow records are byte for byte the ones first computed."""
        tight = tmp_path / "tight.yaml"
        tight.write_text("scope: GLOBAL\nlimits: {position_size_cap: 500.0}\n", encoding="utf-8")
        s = test_settings.model_copy(update={"shadow_limits_file": tight})
        now, tk = time.time(), f"R{unique[:6]}".upper()
        portfolios = [f"P{unique}-{i}" for i in range(2)]
        ds = decisions(unique, portfolios, tk, now)
        lost: list[list[OutRecord]] = []
        lose_first_commit(monkeypatch, s, s.topics.shadow, lost, applied=False)
        before = republished()
        async with topics(s):
            await seed(s, now, portfolios, tk)
            async with running_worker(s):
                await produce(s, s.topics.proposed, [(d["portfolio_id"].encode(), b.dumps(d))
                                                     for d in ds])
                await collect(s, s.topics.targets, len(ds))
                await eventually(lambda: republished() > before, 30, "a republished batch")
                found = await asyncio.to_thread(read_shadow, s, len(ds))
            rows = await stored_shadows(s)
        first = [r.value for r in lost[0] if r.topic == s.topics.shadow]
        committed = [v for _, _, v in found]
        assert first and set(first) <= set(committed)
        assert len(committed) == len(set(committed)) == len(ds)  # none twice, none missing
        assert sorted(committed) == sorted(bytes(r["payload"]) for r in rows)


