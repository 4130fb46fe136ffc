"""``riskgate audit prune`` against the real PostgreSQL, in a scratch database of its own, on
evidence the worker's own code wrote (tests.support.prune_scenario)."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest

from riskgate.replay import evidence
from riskgate.replay.engine import Replayer
from riskgate.replay.prune import LOCK_KEY, TABLES, prune
from riskgate.replay.run import replay_window
from riskgate.settings import Settings, Topics
from riskgate.store.connect import connect as db_connect
from riskgate.store.migrate import migrate_settings
from tests.support.databases import scratch_database
from tests.support.kafka import worker_env
from tests.support.prune_scenario import Names, populate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
async def scratch(infra: Settings, unique: str):
    """Settings on a migrated database of this test only, dropped afterwards."""
    async with scratch_database(infra, f"riskgate_prune_{unique}") as url:
        names = {f: f"t{unique}.{d}" for f, d in Topics().model_dump().items()}
        scratch = infra.model_copy(update={"database_url": url, "topics": Topics(**names),
                                           "partitions": 1, "http_port": 0})
        await migrate_settings(scratch)
        yield scratch


async def query(s: Settings, sql: str, *args):
    conn = await db_connect(s)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def remaining(s: Settings) -> dict[str, list[tuple]]:
    """The rows a prune decides about, as tuples in key order."""
    sql = {"anchors": "SELECT portfolio_id, seq, snapshot_version FROM replay_anchors",
           "snapshots": "SELECT portfolio_id, version FROM snapshot_history ORDER BY 1, 2",
           "processed": "SELECT decision_id FROM processed_decisions ORDER BY 1",
           "market": "SELECT ticker, version FROM market_history ORDER BY 1, 2",
           "emergency": "SELECT version FROM emergency_events ORDER BY 1",
           "dead": "SELECT source_partition, source_offset FROM dead_letters ORDER BY 1, 2"}
    out = {name: [tuple(r) for r in await query(s, q)] for name, q in sql.items()}
    out["processed"] = [d for (d,) in out["processed"]]
    return out


async def row_counts(s: Settings) -> dict[str, int]:
    rows = await query(s, " UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in TABLES))
    return {r["t"]: r["n"] for r in rows}


def prune_cli(s: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "riskgate.cli", "audit", "prune",
                           *args], env=worker_env(s, **{"RISKGATE_BATCH_MAX_RECORDS": "1", **env}),
                          capture_output=True, text=True, timeout=120)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


REMOVED = {"risk_actions": 2, "target_positions": 2, "input_records": 4, "dead_letters": 2,
           "processed_decisions": 1, "snapshot_history": 1, "market_history": 1,
           "risk_configs": 0, "emergency_events": 1, "shadow_records": 2}
KEPT = {"risk_actions": 2, "target_positions": 2, "input_records": 5, "dead_letters": 3,
        "processed_decisions": 3, "snapshot_history": 3, "market_history": 3,
        "risk_configs": 1, "emergency_events": 1, "shadow_records": 2}


class TestAuditPrune:
    @pytest.mark.timeout(180)
    async def test_prune_removes_what_is_older_than_the_cutoff_except_what_replay_needs(
            self, scratch, unique):
        """A dry run removes nothing and reports what the real prune then removes: the
        decisions and snapshots before each portfolio's anchor, the superseded market and
        emergency versions and the dead letters below their partition's progress, with one
        audit row, while the config history, a portfolio with a target in flight, the ids a
        duplicate names, a halted partition and the last batch below each progress stay."""
        s = scratch
        cutoff = await populate(s, unique)
        args = ("--before", iso(cutoff), "--reason", "retention test", "--keep-dedup", "0s")
        before_counts = await row_counts(s)
        dry = await asyncio.to_thread(prune_cli, s, *args, "--dry-run")
        wide = await asyncio.to_thread(prune_cli, s, *args, "--dry-run",
                                       RISKGATE_BATCH_MAX_RECORDS="2")
        after_dry = await row_counts(s)
        real = await asyncio.to_thread(prune_cli, s, *args, "--by", "tester")
        after = await row_counts(s)
        audit = await query(s, "SELECT * FROM audit_prunes")
        left = await remaining(s)
        summary = (f"prune: before={iso(cutoff)} removed={sum(REMOVED.values())} "
                   f"kept_for_replay={sum(KEPT.values())}")
        tables = [f"{t:<20} removed={REMOVED[t]} kept={KEPT[t]}" for t in TABLES]
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines() == [*tables, "portfolios anchored=1",
                                           "dry run: nothing was removed and no audit row was "
                                           "written", summary]
        assert after_dry == before_counts
        assert "dead_letters         removed=1 kept=4" in wide.stdout.splitlines()  # p1 offset 0
        assert real.returncode == 0, real.stderr
        assert real.stdout.splitlines() == [*tables, "portfolios anchored=1", summary]
        assert after == {t: before_counts[t] - REMOVED[t] for t in TABLES}
        assert [(r["pruned_by"], r["reason"], r["before_time"], r["keep_dedup_s"]) for r in audit] \
            == [("tester", "retention test", cutoff, 0.0)]
        assert orjson.loads(audit[0]["removed"]) == REMOVED
        assert orjson.loads(audit[0]["kept"]) == KEPT
        assert left["anchors"] == [(f"A{unique}", 4, 2)]
        n = Names(unique)
        assert left["snapshots"] == [(n.a, 2), (n.a, 3), (n.b, 1), (n.b, 2)]
        assert f"dA0{unique}" not in left["processed"]
        assert f"dA1{unique}" in left["processed"]  # a DUPLICATE after the cut-off names it
        assert left["market"] == [(n.x, 2), (n.x, 3), (n.y, 1), (n.y, 2)]
        assert left["emergency"] == [(2,), (3,)]
        assert left["dead"] == [(1, 1), (2, 0), (2, 1)]

    @pytest.mark.timeout(180)
    async def test_the_kept_evidence_replays_identical_from_each_anchor(self, scratch, unique):
        """Started at each portfolio's recorded anchor (its kept snapshot standing in for the
        removed prefix, as replay will once it reads replay_anchors), every decision after the
        cut-off replays identical, as the whole history did before the prune."""
        s = scratch
        cutoff = await populate(s, unique)
        end = datetime.now(UTC) + timedelta(seconds=5)
        conn = await db_connect(s)
        try:
            whole = await replay_window(conn, s, cutoff, end)
            await prune(conn, cutoff, keep_dedup_s=0.0, ttl_s=s.snapshot_ttl_s, batch_max=1,
                        by="t", reason="t")
            verdicts = await replay_from_anchors(conn, s, cutoff, end)
        finally:
            await conn.close()
        assert whole.summary() == "replay: decisions=4 identical=4 different=0 unreplayable=0"
        assert [v.status for v in verdicts] == ["identical"] * 4, verdicts

    @pytest.mark.timeout(180)
    async def test_replay_after_a_prune_finds_every_later_decision_identical(self, scratch, unique):
        """After a prune, ``replay_window`` over the window after the cut-off reports every
        decision identical, none unreplayable."""
        s = scratch
        cutoff = await populate(s, unique)
        conn = await db_connect(s)
        try:
            await prune(conn, cutoff, keep_dedup_s=0.0, ttl_s=s.snapshot_ttl_s, batch_max=1,
                        by="t", reason="t")
            report = await replay_window(conn, s, cutoff, datetime.now(UTC) + timedelta(seconds=5))
        finally:
            await conn.close()
        assert report.summary() == "replay: decisions=4 identical=4 different=0 unreplayable=0"

    @pytest.mark.timeout(120)
    async def test_bad_refused_or_unrunnable_prunes_exit_in_one_line(self, scratch):
        """An unparseable time, a bad horizon, an empty reason, a cut-off in the future or inside
        the horizon, and a prune already running exit 2, an unreachable database exits 3, each
        with one line and nothing written."""
        s = scratch
        hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
        cases = [("--before", "yesterday", "--reason", "r"),
                 ("--before", hour_ago, "--reason", "r", "--keep-dedup", "3w"),
                 ("--before", hour_ago, "--reason", " "),
                 ("--before", iso(datetime.now(UTC) + timedelta(hours=1)), "--reason", "r",
                  "--keep-dedup", "0s"),
                 ("--before", hour_ago, "--reason", "r")]  # inside the default 7 days
        results = [await asyncio.to_thread(prune_cli, s, *args) for args in cases]
        holder = await db_connect(s)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
            busy = await asyncio.to_thread(prune_cli, s, "--before", hour_ago, "--reason", "r",
                                           "--keep-dedup", "0s")
        finally:
            await holder.close()
        down = await asyncio.to_thread(
            prune_cli, s, "--before", hour_ago, "--reason", "r", "--keep-dedup", "0s",
            RISKGATE_DATABASE_URL="postgresql://riskgate:riskgate@127.0.0.1:1/riskgate")
        audit = await query(s, "SELECT count(*) AS n FROM audit_prunes")
        for r in [*results, busy]:
            assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert r.stdout == ""
        assert "ISO 8601" in results[0].stderr and "not a duration" in results[1].stderr
        assert "--reason" in results[2].stderr and "in the future" in results[3].stderr
        assert "deduplication horizon" in results[4].stderr
        assert "another prune is running" in busy.stderr
        assert down.returncode == 3 and len(down.stderr.strip().splitlines()) == 1, down.stderr
        assert "cannot reach PostgreSQL" in down.stderr
        assert audit[0]["n"] == 0


async def replay_from_anchors(conn: asyncpg.Connection, s: Settings, start: datetime,
                              end: datetime):
    """``replay_window``'s loop, with each anchored portfolio's kept snapshot also standing at
    the removed sequence numbers before it: the engine then applies it as the first event."""
    history = await evidence.load_globals(conn, s.topics)
    replayer = Replayer(s, history)
    anchors = {r["portfolio_id"]: r["seq"] for r in await conn.fetch(
        "SELECT portfolio_id, seq FROM replay_anchors")}
    verdicts = []
    for portfolio_id in await evidence.portfolios_in_window(conn, start, end, (), ()):
        snapshots, decisions = await evidence.load_portfolio(conn, portfolio_id, end)
        if portfolio_id in anchors:
            first = next(x for x in snapshots if x.seq == anchors[portfolio_id])
            snapshots = [type(first)(seq, first.version, first.payload)
                         for seq in range(1, first.seq)] + snapshots
        await evidence.load_market(conn, history, {
            (t, v) for d in decisions if d.witness
            for t, v in d.witness.get("market_versions", {}).items() if v >= 0})
        verdicts += replayer.replay(portfolio_id, snapshots, decisions, start)
    return verdicts
