"""The evidence scenario of tests/integration/test_audit_prune.py, written by the worker's own
code: its compacted-input appliers (``WorkerService._on_*``) and its commit step
(``BatchCommitter.persist`` around the real ``DecisionHandler``), on a pool to a database of the
test's own. Kafka plays no part in what is stored.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg

from riskgate.core import action_id
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.store.connect import create_pool as db_pool
from riskgate.store.state import init_connection
from riskgate.worker.batch import BatchCommitter
from riskgate.worker.candidate import Candidate
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.service import WorkerService
from riskgate.worker.shadow import Shadow
from tests.support import builders as b


class Recorder:
    """The worker's appliers and commit step writing to the scratch database, no broker."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.s = settings
        self.worker = WorkerService(settings)
        self.worker.pool = pool
        # With a shadow candidate, so that the prune meets shadow records too.
        shadow = Shadow(Candidate.of_profile("DEFENSIVE"), settings.topics.shadow)
        self.committer = BatchCommitter(pool, DecisionHandler(settings, self.worker.world,
                                                              shadow=shadow))
        self.offsets: dict[int, int] = defaultdict(int)

    async def apply(self, kind: str, body: dict) -> None:
        await getattr(self.worker, f"_on_{kind}")(None, b.dumps(body))

    async def decide(self, *records: tuple[str, bytes], partition: int = 0) -> None:
        """One batch of (key, value) records on ``partition``, decided now."""
        batch = []
        for key, value in records:
            batch.append(InRecord(self.s.topics.proposed, partition, self.offsets[partition],
                                  key.encode(), value))
            self.offsets[partition] += 1
        await self.committer.persist(self.s.topics.proposed, partition, batch, time.time())


def snapshot(portfolio_id: str, version: int, positions: dict, reflects: list[str]) -> dict:
    body = b.snapshot(portfolio_id, as_of=time.time(), version=version, positions=positions)
    return {**body, "reflects_action_ids": reflects}


async def populate(s: Settings, p: str) -> datetime:
    """Evidence on both sides of a cut-off, which is returned: portfolio A's first decisions are
    reflected by its second snapshot (its anchor), portfolio B's first target is still in flight
    when B decides again after the cut-off (B keeps all), a DUPLICATE after the cut-off names a
    decision before A's anchor, and partitions 1 and 2 (halted) hold dead letters only."""
    names = Names(p)
    d = {n: b.proposal(f"{n}{p}", pf, tk, qty=q, created_at=time.time()) for n, pf, tk, q in (
        ("dA0", names.a, names.y, 3.0), ("dA1", names.a, names.x, 10.0),
        ("dB1", names.b, names.x, 10.0), ("dA2", names.a, names.y, 5.0))}
    pool = await db_pool(s, min_size=1, max_size=2, init=init_connection)
    try:
        r = Recorder(s, pool)
        await _before_cutoff(r, names, d)
        async with pool.acquire() as conn:
            await conn.execute("UPDATE partition_progress SET halted = 'under investigation' "
                               "WHERE partition = 2")
        await asyncio.sleep(0.5)
        cutoff = datetime.now(UTC)
        await asyncio.sleep(0.5)
        await _after_cutoff(r, names, d)
    finally:
        await pool.close()
    return cutoff


class Names:
    def __init__(self, p: str) -> None:
        self.a, self.b = f"A{p}", f"B{p}"
        self.x, self.y = f"X{p[:5]}".upper(), f"Y{p[:5]}".upper()


async def _before_cutoff(r: Recorder, n: Names, d: dict[str, dict]) -> None:
    now = time.time()
    await r.apply("config", b.config(1, as_of=now, profile="NORMAL"))
    await r.apply("market", b.market(n.x, as_of=now))
    await r.apply("market", b.market(n.y, as_of=now))
    await r.apply("emergency", b.emergency("E1", "NORMAL", version=1, as_of=now))
    await r.apply("market", b.market(n.x, as_of=now, version=2))
    await r.apply("emergency", b.emergency("E2", "NORMAL", version=2, as_of=now))
    await r.apply("snapshot", snapshot(n.a, 1, {}, []))
    await r.apply("snapshot", snapshot(n.b, 1, {}, []))
    await r.decide((n.a, b.dumps(d["dA0"])), (n.a, b.dumps(d["dA1"])),
                   (n.b, b.dumps(d["dB1"])), (n.a, b"{garbage"))
    reflected = [action_id(d["dA0"]["decision_id"]), action_id(d["dA1"]["decision_id"])]
    await r.apply("snapshot", snapshot(n.a, 2, {n.x: 10.0, n.y: 3.0}, reflected))
    await r.apply("snapshot", snapshot(n.b, 2, {}, []))  # before the fill: dB1 stays in flight
    await r.decide((n.a, b.dumps(d["dA2"])))
    await r.apply("market", b.market(n.y, as_of=now, version=2))
    await r.decide(("k", b"{dead 0"), ("k", b"{dead 1"), partition=1)
    await r.decide(("k", b"{dead 0"), ("k", b"{dead 1"), partition=2)


async def _after_cutoff(r: Recorder, n: Names, d: dict[str, dict]) -> None:
    now = time.time()
    await r.apply("emergency", b.emergency("E3", "NORMAL", version=3, as_of=now))
    await r.apply("market", b.market(n.x, as_of=now, version=3))
    a3, b3 = (b.proposal(f"d{pf[0]}3{pf[1:]}", pf, n.x, qty=12.0, created_at=now)
              for pf in (n.a, n.b))
    await r.decide((n.a, b.dumps(a3)), (n.b, b.dumps(b3)), (n.a, b.dumps(d["dA1"])))
    reflected = [action_id(d["dA2"]["decision_id"]), action_id(a3["decision_id"])]
    await r.apply("snapshot", snapshot(n.a, 3, {n.x: 12.0, n.y: 5.0}, reflected))
    await r.decide((n.a, b.dumps(b.proposal(f"dA4{n.a}", n.a, n.y, qty=6.0, created_at=now))))
