"""Decisions through a real worker, broker and database, read back with read_committed."""

from __future__ import annotations

import time

import pytest

from riskgate.store.connect import connect as db_connect
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics

pytestmark = pytest.mark.integration


async def seed_world(s, now: float, portfolios: list[str], tickers: dict[str, str]) -> None:
    await produce(s, s.topics.market, [
        (t.encode(), b.dumps(b.market(t, as_of=now, sector=sector))) for t, sector in tickers.items()
    ])
    await produce(s, s.topics.snapshots, [
        (p.encode(), b.dumps(b.snapshot(p, as_of=now))) for p in portfolios
    ])


class TestPipe:
    async def test_each_decision_gets_one_action_and_one_target(self, test_settings, unique):
        """Every valid decision yields exactly one risk action and one target, both committed."""
        s, now = test_settings, time.time()
        portfolios = [f"P{unique}-{i}" for i in range(4)]
        tickers = {"AAPL": "TECH", "XOM": "ENERGY", "JPM": "FINANCIALS"}
        decisions = [b.proposal(f"D{unique}-{i}", portfolios[i % 4], list(tickers)[i % 3],
                                qty=float(1 + i % 5), created_at=now) for i in range(40)]
        async with topics(s):
            await seed_world(s, now, portfolios, tickers)
            async with running_worker(s):
                await produce(s, s.topics.proposed, [(d["portfolio_id"].encode(), b.dumps(d)) for d in decisions])
                actions = await collect(s, s.topics.actions, 40)
                targets = await collect(s, s.topics.targets, 40)
        ids = sorted(d["decision_id"] for d in decisions)
        assert sorted(a["decision_id"] for _, a in actions) == ids
        assert sorted(t["decision_id"] for _, t in targets) == ids
        for key, action in actions:
            assert key == action["portfolio_id"].encode()
            assert action["action_type"] in {"OK", "CAPPED", "SCALED_DOWN", "REJECTED"}
            assert action["strategy_id"] == "S1"

    async def test_duplicate_decision_id_gets_duplicate_action_and_no_second_target(self, test_settings, unique):
        """A decision_id sent twice yields one target and a second action typed DUPLICATE."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        d = b.proposal(f"D{unique}", p, "AAPL", qty=5.0, created_at=now)
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s):
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)), (p.encode(), b.dumps(d))])
                actions = await collect(s, s.topics.actions, 2)
                targets = await collect(s, s.topics.targets, 1, settle_s=2.0)
        types = [a["action_type"] for _, a in actions]
        assert len(actions) == 2
        assert types[1] == "DUPLICATE" and types[0] != "DUPLICATE"
        assert len(targets) == 1

    async def test_outputs_are_stored_with_their_source_offsets(self, test_settings, unique):
        """risk_actions and target_positions hold one row per output, with partition and offset."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now) for i in range(5)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s):
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
                await collect(s, s.topics.actions, 5)
        conn = await db_connect(s)
        try:
            rows = await conn.fetch("SELECT decision_id, source_offset FROM risk_actions WHERE portfolio_id=$1 "
                                    "ORDER BY source_offset", p)
            targets = await conn.fetchval("SELECT count(*) FROM target_positions WHERE portfolio_id=$1", p)
        finally:
            await conn.close()
        assert [r["decision_id"] for r in rows] == [d["decision_id"] for d in decisions]
        assert [r["source_offset"] for r in rows] == [0, 1, 2, 3, 4]
        assert targets == 5
