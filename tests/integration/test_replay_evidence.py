"""What replay needs is stored: every input record, the history of every applied version, and a
witness per action of exactly what it saw (docs/replay.md)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from riskgate.build import build_identity
from riskgate.store.connect import connect as db_connect
from tests.support import builders as b
from tests.support.kafka import collect, eventually, produce, running_worker, topics

pytestmark = pytest.mark.integration


def replay_settings_digest(s) -> str:
    """The digest replay computes from its own settings (riskgate.replay.engine)."""
    from riskgate.build import digest
    from riskgate.core import Environment
    from riskgate.worker.globals import GlobalState
    from riskgate.worker.witness import settings_in_force

    world = GlobalState(snapshot_ttl_s=s.snapshot_ttl_s, max_decision_age_s=s.max_decision_age_s,
                        max_snapshot_age_s=s.max_snapshot_age_s, max_price_age_s=s.max_price_age_s,
                        max_emergency_age_s=s.max_emergency_age_s)
    return digest(settings_in_force(world, Environment(now=0.0)))


async def fetch(s, sql: str, *args):
    conn = await db_connect(s)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def wait_for_row(s, sql: str, *args, deadline_s: float = 30.0):
    return await eventually(lambda: fetch(s, sql, *args), deadline_s, what=f"a row for {sql} {args}")


class TestReplayEvidence:
    @pytest.mark.timeout(300)
    async def test_inputs_histories_and_witnesses_record_what_each_decision_saw(
            self, test_settings, unique):
        """Raw inputs are stored with their batch; snapshot and market versions are in history;
        each action's witness names its sequence, exact time, market versions and build."""
        s, now = test_settings, time.time()
        p, tk = f"P{unique}", f"X{unique[:6]}".upper()
        d1, d2, d3 = (b.proposal(f"D{unique}-{i}", p, tk, qty=float(i), created_at=now)
                      for i in (1, 2, 3))
        bad = b"{not json " + unique.encode()
        async with topics(s):
            await produce(s, s.topics.market, [(tk.encode(), b.dumps(b.market(tk, as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s):
                await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1", p)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d1)), (p.encode(), bad),
                                                     (p.encode(), b.dumps(d2))])
                await collect(s, s.topics.actions, 2)
                await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(
                    b.snapshot(p, as_of=now, version=2, positions={tk: 2.0})))])
                await produce(s, s.topics.market, [(tk.encode(), b.dumps(
                    b.market(tk, as_of=now, version=2, price=101.0)))])
                await wait_for_row(s, "SELECT 1 FROM market_history WHERE ticker=$1 AND version=2", tk)
                await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1 AND version=2", p)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d3))])
                await collect(s, s.topics.actions, 3)
            # A second worker re-reads every compacted record: re-applying adds no history.
            async with running_worker(s):
                await asyncio.sleep(1.0)
            inputs = await fetch(s, "SELECT source_offset, value FROM input_records "
                                    "WHERE source_topic=$1 ORDER BY source_offset", s.topics.proposed)
            snaps = await fetch(s, "SELECT version, seq FROM snapshot_history WHERE portfolio_id=$1 "
                                   "ORDER BY version", p)
            markets = await fetch(s, "SELECT version, payload FROM market_history WHERE ticker=$1 "
                                     "ORDER BY version", tk)
            actions = await fetch(s, "SELECT decision_id, witness, timestamp FROM risk_actions "
                                     "WHERE portfolio_id=$1", p)
        assert [bytes(r["value"]) for r in inputs] == [b.dumps(d1), bad, b.dumps(d2), b.dumps(d3)]
        assert [r["version"] for r in snaps] == [1, 2]
        assert [r["version"] for r in markets] == [1, 2]
        assert orjson.loads(markets[1]["payload"])["price"] == 101.0  # jsonb comes back as text
        w = {r["decision_id"]: (orjson.loads(r["witness"]), r["timestamp"]) for r in actions}
        w1, w2, w3 = (w[d["decision_id"]][0] for d in (d1, d2, d3))
        # The sequence orders the snapshot apply between d2 and d3, under the row lock.
        assert snaps[0]["seq"] < w1["seq"] < w2["seq"] < snaps[1]["seq"] < w3["seq"]
        assert w1["market_versions"] == {tk: 1} and w3["market_versions"] == {tk: 2}
        assert w1["snapshot_version"] == 1 and w3["snapshot_version"] == 2
        assert isinstance(w3["now"], float)
        assert abs(w[d3["decision_id"]][1].timestamp() - w3["now"]) < 1e-5
        assert w1["build"] == build_identity() and len(w1["build"]["core"]) == 16
        assert w1["settings_digest"] == w3["settings_digest"] == replay_settings_digest(s)
        assert w1["limits_digest"] and w1["config_version"] == -1 and w1["emergency_version"] == -1


def replay_cli(s, *args: str):
    import subprocess
    from pathlib import Path

    from tests.support.kafka import worker_env

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([str(root / ".venv/bin/python"), "-m", "riskgate.cli", "replay", *args],
                          env=worker_env(s), capture_output=True, text=True, timeout=120)


async def execute(s, sql: str, *args) -> None:
    conn = await db_connect(s)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


class TestReplay:
    @pytest.mark.timeout(300)
    async def test_replay_reproduces_the_window_and_reports_tampering_and_missing_evidence(
            self, test_settings, unique):
        """Replaying a live window finds every decision identical; an action altered in place is
        a difference naming the field; a deleted snapshot version makes later decisions
        unreplayable; --verify-topics finds every stored output on its topic once, and the altered
        one differing; bad arguments exit 2 with one line."""
        s, now = test_settings, time.time()
        p, tk = f"P{unique}", f"Y{unique[:6]}".upper()
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5))
        ds = [b.proposal(f"D{unique}-{i}", p, tk, qty=float(i * 40), created_at=now) for i in (1, 2, 3)]
        async with topics(s):
            await produce(s, s.topics.market, [(tk.encode(), b.dumps(b.market(tk, as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s):
                await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1", p)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(ds[0])),
                                                     (p.encode(), b.dumps(ds[1])),
                                                     (p.encode(), b.dumps(ds[0]))])  # a DUPLICATE
                await collect(s, s.topics.actions, 3)
                await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(
                    b.snapshot(p, as_of=now, version=2, positions={tk: 60.0})))])
                await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1 AND version=2", p)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(ds[2]))])
                await collect(s, s.topics.actions, 4)
            end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
            window = ("--from", start, "--to", end, "--portfolio", p)
            clean = await asyncio.to_thread(replay_cli, s, *window, "--verify-topics")
            await execute(s, "UPDATE risk_actions SET payload = convert_to(replace(convert_from("
                             "payload, 'UTF8'), '\"proposed_position\":80.0', "
                             "'\"proposed_position\":81.0'), 'UTF8') WHERE decision_id=$1",
                          ds[1]["decision_id"])
            # Altered after publishing: the replay differs, and so does the topic's copy.
            tampered = await asyncio.to_thread(replay_cli, s, *window, "--verify-topics")
            await execute(s, "DELETE FROM snapshot_history WHERE portfolio_id=$1 AND version=2", p)
            missing = await asyncio.to_thread(replay_cli, s, *window)
        inverted = replay_cli(s, "--from", end, "--to", start)
        garbled = replay_cli(s, "--from", "yesterday", "--to", end)
        unknown = replay_cli(s, "--from", start, "--to", end, "--portfolio", f"NOPE{unique}")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.splitlines()[-3:] == [
            "replay: decisions=4 identical=4 different=0 unreplayable=0",
            f"verify {s.topics.actions}: expected=4 found=4 missing=0 extra=0 differing=0 beyond_retention=0",
            f"verify {s.topics.targets}: expected=3 found=3 missing=0 extra=0 differing=0 beyond_retention=0",
        ]
        assert tampered.returncode == 1
        lines = tampered.stdout.splitlines()
        assert "replay: decisions=4 identical=3 different=1 unreplayable=0" in lines
        assert lines[-2:] == [
            f"verify {s.topics.actions}: expected=4 found=4 missing=0 extra=0 differing=1 beyond_retention=0",
            f"verify {s.topics.targets}: expected=3 found=3 missing=0 extra=0 differing=0 beyond_retention=0",
        ]
        assert "proposed_position: 81.0 -> 80.0" in tampered.stdout
        assert missing.returncode == 1
        assert missing.stdout.splitlines()[-1] == (
            "replay: decisions=4 identical=2 different=1 unreplayable=1")
        assert "sequence" in missing.stdout and "not on record" in missing.stdout
        for bad in (inverted, garbled, unknown):
            assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert "after --to" in inverted.stderr and "ISO 8601" in garbled.stderr
        assert "unknown portfolio" in unknown.stderr


async def replay_in_pages(s, portfolio_id: str, since: float, rows: int) -> str:
    """An in-process replay of the portfolio with evidence pages of ``rows`` action rows."""
    from datetime import UTC, datetime, timedelta

    from riskgate.replay import evidence
    from riskgate.replay.run import replay_window

    conn = await db_connect(s)
    saved, evidence.CHUNK_ROWS = evidence.CHUNK_ROWS, rows
    try:
        start = datetime.fromtimestamp(since, UTC)
        report = await replay_window(conn, s, start, start + timedelta(minutes=5), [portfolio_id])
    finally:
        evidence.CHUNK_ROWS = saved
        await conn.close()
    return report.summary()


class TestReplayFindings:
    @pytest.mark.timeout(300)
    async def test_a_rewritten_action_and_a_deleted_config_version_are_reported(
            self, test_settings, unique):
        """An action rewritten in its column and its stored payload together is a difference
        naming action_type; with a config version deleted from the history, every decision made
        under it is unreplayable and says which version is missing."""
        s, now = test_settings, time.time()
        p, tk = f"P{unique}", f"Z{unique[:6]}".upper()
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5))
        ds = [b.proposal(f"D{unique}-{i}", p, tk, qty=float(i), created_at=now) for i in (1, 2, 3)]
        async with topics(s):
            await produce(s, s.topics.config, [(b"global", b.dumps(
                b.config(1, as_of=now, limits={"max_open_positions": 12})))])
            await produce(s, s.topics.market, [(tk.encode(), b.dumps(b.market(tk, as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s):
                await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1", p)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in ds])
                await collect(s, s.topics.actions, 3)
            end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
            window = ("--from", start, "--to", end, "--portfolio", p)
            clean = await asyncio.to_thread(replay_cli, s, *window)
            paged = {rows: await replay_in_pages(s, p, now - 5, rows) for rows in (1, 2, 3)}
            await execute(s, "UPDATE risk_actions SET action_type = 'CAPPED', payload = convert_to("
                             "replace(convert_from(payload, 'UTF8'), '\"action_type\":\"OK\"', "
                             "'\"action_type\":\"CAPPED\"'), 'UTF8') WHERE decision_id=$1",
                          ds[1]["decision_id"])
            rewritten = await asyncio.to_thread(replay_cli, s, *window)
            await execute(s, "DELETE FROM risk_configs WHERE source_topic=$1 AND version=1",
                          s.topics.config)
            no_config = await asyncio.to_thread(replay_cli, s, *window)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.splitlines()[-1] == "replay: decisions=3 identical=3 different=0 unreplayable=0"
        # Paged evidence (a page boundary inside the portfolio, a page of one) replays the same.
        assert paged == dict.fromkeys((1, 2, 3), clean.stdout.splitlines()[-1]), paged
        assert rewritten.returncode == 1
        assert rewritten.stdout.splitlines()[-1] == (
            "replay: decisions=3 identical=2 different=1 unreplayable=0")
        assert "action_type: 'CAPPED' -> 'OK'" in rewritten.stdout
        assert no_config.returncode == 1
        assert no_config.stdout.splitlines()[-1] == (
            "replay: decisions=3 identical=0 different=0 unreplayable=3")
        assert "risk_configs has no version 1" in no_config.stdout
