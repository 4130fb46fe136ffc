"""Decision metrics count each committed risk action once, whatever was retried on the way.

The counters are read from this process's Prometheus registry, where the in-process worker
raises them, and compared with the risk actions PostgreSQL stored for the test's topic.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from prometheus_client import REGISTRY

from riskgate.store.connect import connect as db_connect
from riskgate.worker.handler import expected_partition
from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, eventually, produce, running_worker, topics
from tests.support.publish_faults import lose_first_commit

pytestmark = pytest.mark.integration

Series = dict[tuple[tuple[str, str], ...], float]


def series(name: str) -> Series:
    """Every sample ``name`` of the registry, by its sorted labels."""
    return {tuple(sorted(s.labels.items())): s.value
            for family in REGISTRY.collect() for s in family.samples if s.name == name}


def grown(before: Series, after: Series) -> Series:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def label(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


async def stored_tally(s) -> tuple[Series, Series]:
    """What the counters must have grown by: per stored action, one per reason code ("none"
    when it has none), and the REJECTED ones per profile and reason."""
    conn = await db_connect(s)
    try:
        rows = await conn.fetch("SELECT action_type, reason_codes, profile FROM risk_actions "
                                "WHERE source_topic=$1", s.topics.proposed)
    finally:
        await conn.close()
    decisions: Counter = Counter()
    denied: Counter = Counter()
    for r in rows:
        for reason in r["reason_codes"] or ["none"]:
            decisions[label(action_type=r["action_type"], reason=reason, profile=r["profile"])] += 1
            if r["action_type"] == "REJECTED":
                denied[label(profile=r["profile"], reason=reason)] += 1
    return dict(decisions), dict(denied)


def workload(unique: str, p: str, now: float) -> list[tuple[bytes, bytes]]:
    """Three approvable proposals, one for a ticker without market data (REJECTED) and a repeat
    of the first (DUPLICATE), all for one portfolio, so one partition."""
    ds = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now) for i in range(3)]
    ds.append(b.proposal(f"D{unique}-nomarket", p, f"NO{unique[:6]}".upper(), created_at=now))
    ds.append(ds[0])
    return [(p.encode(), b.dumps(d)) for d in ds]


async def counted_after(s, run) -> tuple[Series, Series, Series]:
    """Run the scenario ``run`` against a worker; return what decisions_total, trades_denied_total
    and retries_total grew by once every action is committed and the counters have settled."""
    names = ("riskgate_decisions_total", "riskgate_trades_denied_total", "riskgate_retries_total")
    before = [series(n) for n in names]
    async with running_worker(s):
        await run()
        await collect(s, s.topics.actions, 5, settle_s=1.5)
        expected, _ = await stored_tally(s)
        await eventually(lambda: grown(before[0], series(names[0])) == expected, 30,
                         "the decision counters to match the stored actions")
        await asyncio.sleep(1.0)  # anything counted twice would show by now
    return tuple(grown(b_, series(n)) for b_, n in zip(before, names, strict=True))


class TestDecisionsCountedOncePerCommittedBatch:
    @pytest.mark.parametrize("applied", [False, True], ids=["commit-lost", "commit-applied"])
    async def test_a_batch_whose_kafka_commit_is_retried_counts_each_action_once(
            self, test_settings, unique, monkeypatch, applied):
        """A Kafka commit whose outcome is unknown (lost, so the batch is republished from
        storage; or applied, so the re-fetched offset is past it) counts every action once."""
        s, now, p = test_settings, time.time(), f"P{unique}"
        calls: list = []
        lose_first_commit(monkeypatch, s, s.topics.actions, calls, applied=applied)
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            decisions, denied, retries = await counted_after(
                s, lambda: produce(s, s.topics.proposed, workload(unique, p, now)))
            expected, expected_denied = await stored_tally(s)
        assert calls, "no commit was made to fail"
        assert retries.get(label(kind="publish"), 0) >= 1
        assert decisions == expected and sum(expected.values()) >= 5
        assert denied == expected_denied
        assert denied.get(label(profile="NORMAL", reason="NO_MARKET_DATA")) == 1
        assert decisions[label(action_type="DUPLICATE", reason="DUPLICATE_DECISION",
                               profile="NORMAL")] == 1

    async def test_a_postgresql_transaction_retried_after_the_handler_ran_counts_once(
            self, test_settings, unique):
        """The batch's PostgreSQL transaction dies after the handler decided it (its connection
        is terminated while it waits on a row lock); the retry decides again, and each action
        is still counted once."""
        s, now, p = test_settings, time.time(), f"P{unique}"
        part = expected_partition(p.encode(), s.partitions)
        blocker = await db_connect(s)
        async def block_then_kill():
            # An uncommitted row at the batch's first offset: the worker's COPY of its raw
            # inputs, which runs after the handler, waits on it until we end its connection.
            await blocker.execute("BEGIN")
            await blocker.execute(
                "INSERT INTO input_records (source_topic, source_partition, source_offset, key, "
                "value, received_at) VALUES ($1, $2, 0, NULL, NULL, now())", s.topics.proposed, part)
            await produce(s, s.topics.proposed, workload(unique, p, now))
            me = await blocker.fetchval("SELECT pg_backend_pid()")
            waiting = await eventually(lambda: blocker.fetch(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", me),
                30, "the worker's transaction to wait on the row")
            await blocker.execute("SELECT pg_terminate_backend($1)", waiting[0]["pid"])
            await blocker.execute("ROLLBACK")
        try:
            async with topics(s):
                await seed_world(s, now, [p], {"AAPL": "TECH"})
                decisions, denied, retries = await counted_after(s, block_then_kill)
                expected, expected_denied = await stored_tally(s)
        finally:
            await blocker.close()
        assert retries.get(label(kind="state"), 0) >= 1
        assert decisions == expected and sum(expected.values()) >= 5
        assert denied == expected_denied
