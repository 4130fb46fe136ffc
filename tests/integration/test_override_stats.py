"""Override statistics on the real broker and database: a worker decides a steady flow of
decisions while `riskgate stats` runs as a process, is killed with kill -9 mid-window and
restarted. Afterwards every window on risk.override_stats, read through GET /v1/overrides,
equals what PostgreSQL's audit (`riskgate audit overrides`) counts for the same window."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from riskgate.api import ApiParts, create_app
from riskgate.api.live import world_for
from riskgate.kafka.admin import delete_topics
from riskgate.stats import codec
from riskgate.stats.kafka import read_to_end
from riskgate.stats.reader import TopicOverrideStats
from riskgate.store.audit import overrides
from riskgate.store.connect import connect as db_connect
from tests.support import builders as b
from tests.support.api_fakes import FakePortfolios, FixedInputs
from tests.support.kafka import collect, eventually, produce, running_worker, topics, worker_env

pytestmark = pytest.mark.integration

SIZES = (4, 12)
CLOSE_S, GRACE_S = 1.0, 8.0
LAG_S = 2.0
"""The worker's clock runs this far behind: its actions reach risk.actions about 2 s after their
processing time, so the last ones of every window arrive after it closed (corrections)."""
FEED_S = 26.0


def stats_env(s) -> dict[str, str]:
    return worker_env(s, RISKGATE_STATS_WINDOWS_S=",".join(map(str, SIZES)),
                      RISKGATE_STATS_CLOSE_DELAY_S=str(CLOSE_S),
                      RISKGATE_STATS_GRACE_S=str(GRACE_S),
                      RISKGATE_STATS_COMMIT_INTERVAL_S="0.2", RISKGATE_LOG_LEVEL="INFO")


def start_stats(s, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "riskgate.cli", "stats"], env=stats_env(s),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def session_lines(log: Path) -> list[dict]:
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if '"stats_session_started"' in line]
    return [orjson.loads(line) for line in lines]


class Feed:
    """Decisions for three strategies: OK, CAPPED, REJECTED, EXPIRED and DUPLICATE actions."""

    def __init__(self, unique: str, ticker: str) -> None:
        self.unique, self.ticker = unique, ticker
        self.strategies = [f"S{unique}-{k}" for k in "abc"]
        self.portfolios = [f"P{unique}-{i}" for i in range(6)]
        self.sent: list[dict] = []

    def tick(self, i: int, now: float) -> list[dict]:
        pf, strategy = self.portfolios[i % 6], self.strategies[i % 3]
        kinds = [
            (self.ticker, dict(qty=1.0)),                       # OK
            (self.ticker, dict(qty=3_000.0)),                   # CAPPED by the size caps
            (f"{self.ticker}X", dict(qty=5.0)),                 # REJECTED: no market data
            (self.ticker, dict(qty=2.0, created_at=now - 600)),  # EXPIRED: past the max age
        ]
        out = [b.proposal(f"D{self.unique}-{i}-{k}", pf, ticker, strategy_id=strategy,
                          **{"created_at": now, **kind})
               for k, (ticker, kind) in enumerate(kinds)]
        if self.sent and i % 2:
            out.append(self.sent[-3])                           # DUPLICATE: seen before
        self.sent.extend(out)
        return out


async def feed(s, flow: Feed, stop_at: float) -> int:
    i = 0
    while time.time() < stop_at:
        batch = flow.tick(i, time.time())
        await produce(s, s.topics.proposed, [(d["portfolio_id"].encode(), b.dumps(d))
                                             for d in batch])
        i += 1
        await asyncio.sleep(0.25)
    return i


async def audit_windows(s, strategies: list[str]) -> dict[tuple, dict]:
    """PostgreSQL's counts for every window of every size that holds one of their actions."""
    conn = await db_connect(s)
    try:
        rows = await conn.fetch('SELECT strategy_id, "timestamp" FROM risk_actions '
                                'WHERE strategy_id = ANY($1::text[])', strategies)
        keys = {(r["strategy_id"], size, int(r["timestamp"].timestamp()) // size * size)
                for r in rows for size in SIZES}
        found = {}
        for strategy, size, start in sorted(keys):
            since = datetime.fromtimestamp(start, UTC)
            answer = await overrides(conn, strategy, since, datetime.fromtimestamp(start + size, UTC))
            found[(strategy, size, start)] = (
                answer["decisions"], answer["overridden"],
                sorted((r["action_type"], r["reason"], r["count"]) for r in answer["by_reason"]))
        return found
    finally:
        await conn.close()


async def route_windows(s, strategies: list[str], since: float, until: float) -> dict[tuple, tuple]:
    """What GET /v1/overrides says, per window, reading risk.override_stats."""
    parts = ApiParts(FixedInputs(world_for(s)), FakePortfolios(), services=[TopicOverrideStats(s)])
    app = create_app(parts, settings=s)
    found = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://rg.test") as client:
        for strategy in strategies:
            for size in SIZES:
                reply = await client.get("/v1/overrides", params={
                    "strategy": strategy, "window_s": size,
                    "since": datetime.fromtimestamp(since // size * size, UTC).isoformat(),
                    "until": datetime.fromtimestamp(until, UTC).isoformat()})
                assert reply.status_code == 200, reply.text
                body = reply.json()
                assert body["complete"], "a window was still open to corrections"
                for w in body["windows"]:
                    start = int(datetime.fromisoformat(w["window_start"]).timestamp())
                    found[(strategy, size, start)] = (
                        w["decisions"], w["overridden"],
                        sorted((c["action_type"], c["reason_code"], c["count"])
                               for c in w["counts"]))
    return found


def mid_window(now: float) -> bool:
    """Inside both windows and well away from their edges, in the worker's time."""
    t = now - LAG_S
    return 5.0 <= t % 12 <= 7.0 and 1.0 <= t % 4 <= 3.0


class TestOverrideStatsAfterKill:
    @pytest.mark.timeout(300)
    async def test_the_topic_counts_equal_postgresql_after_a_kill_9_mid_window(
            self, test_settings, unique, tmp_path):
        """kill -9 of `riskgate stats` while windows are open and counted in its changelog;
        after a restart every closed window read from the topic through GET /v1/overrides equals
        PostgreSQL's counts, each (window, revision) is written once, revisions run 0, 1, ...,
        and late actions were published as corrections."""
        s, log = test_settings, tmp_path / "stats.log"
        state_topic = f"{s.topics.override_stats}.state"
        flow = Feed(unique, f"O{unique[:6]}".upper())
        now = time.time()
        async with topics(s):
            await produce(s, s.topics.market, [(flow.ticker.encode(),
                                                b.dumps(b.market(flow.ticker, as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))
                                                  for p in flow.portfolios])
            await asyncio.sleep(1.0)
            stats = start_stats(s, log)
            try:
                async with running_worker(s, clock=lambda: time.time() - LAG_S):
                    started = time.time()
                    feeding = asyncio.create_task(feed(s, flow, started + FEED_S))
                    await eventually(lambda: session_lines(log), 60, "the first stats session")
                    await asyncio.sleep(8.0)
                    await eventually(lambda: mid_window(time.time()), 15, "mid-window")
                    open_at_kill, _ = codec.restore(
                        await read_to_end(s, state_topic))
                    os.kill(stats.pid, signal.SIGKILL)
                    assert stats.wait(timeout=10) == -signal.SIGKILL
                    await asyncio.sleep(3.0)
                    stats = start_stats(s, log)
                    ticks = await feeding
                    # Every window is final once caught up past its end + close delay + grace.
                    await asyncio.sleep(max(SIZES) + CLOSE_S + GRACE_S + LAG_S + 2.0)
                stats.send_signal(signal.SIGTERM)
                assert stats.wait(timeout=30) == 0
            finally:
                with contextlib.suppress(ProcessLookupError):
                    stats.kill()
            published = await collect(s, s.topics.override_stats, 10_000, deadline_s=5)
            answered = await route_windows(s, flow.strategies, started - 60, time.time())
            stored = await audit_windows(s, flow.strategies)
            with contextlib.suppress(Exception):
                await delete_topics(s, [state_topic])
        sessions = session_lines(log)
        revisions: dict[str, list[int]] = defaultdict(list)
        for _, record in published:
            revisions[record["window_id"]].append(record["revision"])

        assert answered == stored
        assert ticks > 50
        assert len(sessions) == 2 and sessions[1]["open_windows"] > 0
        assert any(k.size_s == 12 for k in open_at_kill) and any(k.size_s == 4 for k in open_at_kill)
        assert sum(d for (_, size, _), (d, _, _) in stored.items() if size == 12) > 300
        assert all(revs == list(range(len(revs))) for revs in revisions.values())
        assert any(len(revs) > 1 for revs in revisions.values()), "no correction was published"
