"""risk.config after a real compaction: every record the control plane writes carries the whole
state of its scope, so a worker restarted on the compacted topic has every scope's profile,
limits and trading state, and every re-arm."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka.admin import NewTopic

from riskgate.control.model import Actor, ConfigChange
from riskgate.control.rebuild import read_to_end
from riskgate.kafka.admin import admin_client
from tests.support.config import writer_for
from tests.support.kafka import eventually, running_worker, topics

pytestmark = pytest.mark.integration

#: Segments roll at every write (100 ms apart at least) and the cleaner is eager: only the
#: active segment, the last record, is spared.
COMPACT_NOW = {"cleanup.policy": "compact", "segment.bytes": "1024", "segment.ms": "100",
               "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "100",
               "min.compaction.lag.ms": "0"}

CHANGES = [  # several records per key; the HALTED is written before a later global write
    ConfigChange(scope="global", profile="DEFENSIVE", reason="volatile week"),
    ConfigChange(scope="global", trading_state="HALTED", reason="kill switch"),
    ConfigChange(scope="global", limits={"gross_cap": 3.0}, reason="cap gross"),
    ConfigChange(scope="strategy:S1", profile="AGGRESSIVE_SMALL_ACCOUNT", reason="small book"),
    ConfigChange(scope="strategy:S1", limits={"per_name_weight_cap": 0.2}, reason="per name"),
    ConfigChange(scope="portfolio:P1", trading_state="REDUCING", reason="wind down"),
    ConfigChange(scope="portfolio:P1", limits={"sector_cap": 0.3, "net_cap": None},
                 reason="sector cap, no net cap"),
    ConfigChange(rearm_event_id="E1", reason="all clear"),
    ConfigChange(scope="strategy:S2", limits={"strategy_budget": 0.5}, reason="budget"),
    ConfigChange(scope="strategy:S2", unset=["strategy_budget"], reason="budget back"),
]
#: The active segment is never cleaned: the last record comes after segment.ms, so it rolls a
#: segment of its own, and has a key of its own.
LAST = ConfigChange(scope="portfolio:P2", trading_state="ACTIVE", reason="new desk")


def state_of(book) -> tuple:
    return (book.version, book.profile, book.overrides, dict(book.states), book.rearms)


async def compacted(s) -> list[dict]:
    """The topic's records once each key holds only its latest record."""
    async def check():
        records = [orjson.loads(v) for v in await read_to_end(s, s.topics.config)]
        return records if len(records) == 6 else None  # global, S1, P1, rearm:E1, S2, P2
    return await eventually(check, 150, what="risk.config compacted to one record per key")


class TestCompaction:
    @pytest.mark.timeout(300)
    async def test_a_restarted_worker_keeps_every_scope_after_compaction(self, test_settings):
        """Eleven writes over six keys compact to six records; a worker restarted on them holds
        the same profiles, overlays, trading states, re-arms and version as before."""
        s = test_settings
        admin = admin_client(s)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(s.topics.config, 1, 1, topic_configs=COMPACT_NOW)])
        finally:
            await admin.close()
        async with topics(s):
            async with writer_for(s) as writer:
                for change in CHANGES:
                    await writer.submit(change, Actor(name="ops"))
                await asyncio.sleep(1.0)
                await writer.submit(LAST, Actor(name="ops"))
            async with running_worker(s) as first:
                before = state_of(first.world.config)
            records = await compacted(s)
            async with running_worker(s) as second:
                after = state_of(second.world.config)
                emergency_rearms = second.world.config.rearms
        assert sorted(r["version"] for r in records) == [3, 5, 7, 8, 10, 11]
        assert after == before
        version, profiles, overrides, states, _ = after
        assert version == 11
        assert profiles == {("GLOBAL", ""): "DEFENSIVE", ("STRATEGY", "S1"): "AGGRESSIVE_SMALL_ACCOUNT"}
        assert overrides == {("GLOBAL", ""): {"gross_cap": 3.0},
                             ("STRATEGY", "S1"): {"per_name_weight_cap": 0.2},
                             ("PORTFOLIO", "P1"): {"sector_cap": 0.3, "net_cap": None}}
        assert states[("GLOBAL", "")].value == "HALTED"
        assert states[("PORTFOLIO", "P1")].value == "REDUCING"
        assert emergency_rearms == frozenset({"E1"})
