"""Emergency, runtime config and the audit queries, end to end on the real broker and database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from riskgate.store import audit
from riskgate.store.connect import connect as db_connect
from riskgate.store.state import init_connection
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics

pytestmark = pytest.mark.integration


async def _decide(s, p: str, decision: dict, expected_total: int) -> dict:
    await produce(s, s.topics.proposed, [(p.encode(), b.dumps(decision))])
    actions = await collect(s, s.topics.actions, expected_total, deadline_s=30)
    return next(a for _, a in actions if a["decision_id"] == decision["decision_id"])


class TestEmergencyEndToEnd:
    @pytest.mark.timeout(240)
    async def test_emergency_forces_derisk_blocks_increases_and_needs_rearm(self, test_settings, unique):
        """EMERGENCY cuts the book via FORCED_DERISK, refuses increases, ignores a plain NORMAL,
        and only a re-arm lets risk grow again."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        async with topics(s):
            await produce(s, s.topics.market, [(t.encode(), b.dumps(b.market(t, as_of=now, price=px, sector=sec)))
                                               for t, px, sec in (("AAPL", 100.0, "TECH"), ("XOM", 50.0, "ENERGY"))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(
                p, as_of=now, positions={"AAPL": 1000.0, "XOM": 1000.0})))])
            # Seed 003's NORMAL caps a position at $1000; this book is bigger, so lift that cap.
            await produce(s, s.topics.config, [(b"global", b.dumps(b.config(
                1, as_of=now, limits={"position_size_cap": None})))])
            async with running_worker(s):
                await produce(s, s.topics.black_swan, [(b"global", b.dumps(b.emergency(
                    f"E{unique}", "EMERGENCY", version=1, as_of=time.time(), cut=0.5)))])
                forced = [a for _, a in await collect(s, s.topics.actions, 1, deadline_s=30)]
                increase = await _decide(s, p, b.proposal(f"D{unique}-1", p, "AAPL", qty=2000.0,
                                                          created_at=time.time()), len(forced) + 1)
                await produce(s, s.topics.black_swan, [(b"global", b.dumps(b.emergency(
                    f"E{unique}-calm", "NORMAL", version=2, as_of=time.time())))])
                await asyncio.sleep(1.0)
                still = await _decide(s, p, b.proposal(f"D{unique}-2", p, "XOM", qty=5000.0,
                                                       created_at=time.time()), len(forced) + 2)
                await produce(s, s.topics.black_swan, [(b"global", b.dumps(b.emergency(
                    f"E{unique}-rearm", "NORMAL", version=3, as_of=time.time(), rearm=True)))])
                await asyncio.sleep(1.0)
                after = await _decide(s, p, b.proposal(f"D{unique}-3", p, "XOM", qty=1500.0,
                                                       created_at=time.time()), len(forced) + 3)
        assert forced and all(a["action_type"] == "FORCED_DERISK" for a in forced), \
            [(a["action_type"], a["reason_codes"]) for a in forced]
        assert all(a["decision_id"] == f"derisk:E{unique}:{p}" for a in forced)
        assert all(abs(a["approved_position"]) < 1000.0 for a in forced)  # both names started at 1000
        assert increase["action_type"] == "REJECTED" and increase["emergency_version"] == 1
        assert still["action_type"] == "REJECTED" and still["emergency_version"] == 2
        assert after["action_type"] != "REJECTED" and after["emergency_version"] == 3, after["reason_codes"]


class TestRuntimeConfigEndToEnd:
    async def test_global_halt_on_risk_config_stops_increases_at_the_next_message(self, test_settings, unique):
        """A global HALTED on risk.config rejects the next increase, with the config version recorded."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s):
                ok = await _decide(s, p, b.proposal(f"D{unique}-1", p, "AAPL", qty=5.0, created_at=now), 1)
                await produce(s, s.topics.config, [(b"global", b.dumps(b.config(7, as_of=now, state="HALTED")))])
                await asyncio.sleep(1.0)
                halted = await _decide(s, p, b.proposal(f"D{unique}-2", p, "AAPL", qty=9.0,
                                                        created_at=time.time()), 2)
                await produce(s, s.topics.config, [(b"global", b.dumps(b.config(8, as_of=now, limits={"net_cap": 9.0, "gross_cap": 1.0})))])
                await asyncio.sleep(1.0)
                still = await _decide(s, p, b.proposal(f"D{unique}-3", p, "AAPL", qty=1.0,
                                                       created_at=time.time()), 3)
            conn = await db_connect(s)
            try:
                refused = await conn.fetchrow(
                    "SELECT accepted, error FROM risk_configs WHERE version=8 AND source_topic=$1",
                    s.topics.config)
            finally:
                await conn.close()
        assert ok["action_type"] == "OK" and ok["config_version"] == -1
        assert halted["action_type"] == "REJECTED" and halted["config_version"] == 7
        assert still["config_version"] == 7 and still["action_type"] == "OK"
        assert refused["accepted"] is False and "net_cap" in refused["error"]


class TestAuditQueries:
    async def test_why_and_override_counts_come_from_the_tables(self, test_settings, unique):
        """`why` lists a decision's action with its reasons; `overrides` counts cuts by reason."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        strategy = f"S{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=1.0 + i, created_at=now, strategy_id=strategy,
                                confidence=0.1 if i % 2 else 0.9) for i in range(6)]
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s):
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
                await collect(s, s.topics.actions, 6)
        conn = await db_connect(s)
        await init_connection(conn)
        try:
            rows = await audit.why(conn, f"D{unique}-1")
            stats = await audit.overrides(conn, strategy, datetime.now(UTC) - timedelta(days=7),
                                          datetime.now(UTC) + timedelta(minutes=1))
        finally:
            await conn.close()
        assert len(rows) == 1 and rows[0]["action_type"] == "REJECTED"
        assert rows[0]["reason_codes"] and rows[0]["details"]
        assert stats["decisions"] == 6 and stats["overridden"] == 3
        assert sum(r["count"] for r in stats["by_reason"] if r["reason"] in rows[0]["reason_codes"]) >= 3
