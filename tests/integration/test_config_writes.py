"""Config writes through `riskgate config` and the ConfigWriter, on the real broker and database:
a switch reaches a running worker, concurrent writers lose nothing, refusals publish nothing,
workers report the version they applied, and risk.config has exactly one partition."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest
from aiokafka.admin import NewTopic
from prometheus_client import REGISTRY

from riskgate.control.model import Actor, ConfigChange, ConfigTopicInvalid
from riskgate.kafka.admin import (
    TopicLayoutError,
    admin_client,
    create_topics,
    delete_topics,
    topic_specs,
)
from riskgate.store import worker_status
from tests.support import builders as b
from tests.support.config import ROOT, action_of, config_cli, end_offset, fetch, writer_for
from tests.support.kafka import produce, running_worker, topics, worker_env

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float | None:
    """A metric of this process (the worker and the writer run in it)."""
    return REGISTRY.get_sample_value(name, labels)

#: Eight limits that do not depend on each other, one per concurrent writer.
LIMITS = {"sector_cap": 0.4, "country_cap": 0.5, "cluster_cap": 0.45, "max_spread_bps": 50.0,
          "max_adv_participation": 0.1, "per_name_weight_cap": 0.2, "strategy_budget": 0.6,
          "price_collar": 0.1}


async def seed_book(s, p: str, now: float) -> None:
    await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
    await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])


class TestSwitchReachesTheWorker:
    @pytest.mark.timeout(180)
    async def test_set_profile_through_the_cli_is_in_the_next_decision(self, test_settings, unique):
        """A dry run counts the stored decision DEFENSIVE would have decided differently and
        publishes nothing; after `config set-profile DEFENSIVE` returns, the next decision's
        action carries DEFENSIVE and the published version, and worker_status shows it applied."""
        s, now, p = test_settings, time.time(), f"P{unique}"
        async with topics(s):
            await seed_book(s, p, now)
            async with running_worker(s) as service:
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(b.proposal(
                    f"D{unique}-1", p, "AAPL", qty=6.0, created_at=time.time())))])
                before = await action_of(s, f"D{unique}-1")
                offset = await end_offset(s)
                dry = await asyncio.to_thread(
                    config_cli, s, "set-profile", "DEFENSIVE", "--reason", "volatility is up",
                    "--dry-run")
                offset_after_dry_run = await end_offset(s)
                switched = await asyncio.to_thread(
                    config_cli, s, "set-profile", "DEFENSIVE", "--reason", "volatility is up",
                    "--as", "alice")
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(b.proposal(
                    f"D{unique}-2", p, "AAPL", qty=2.0, created_at=time.time())))])
                after = await action_of(s, f"D{unique}-2")
                shown = await asyncio.to_thread(config_cli, s, "show", "--json")
                worker_id = service.status.worker_id
        # $600 passes NORMAL's $1000 position cap, not DEFENSIVE's $500.
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert dry.stdout.splitlines()[:3] == [
            "dry run: global (nothing published)", "  profile: (inherit) -> DEFENSIVE",
            dry.stdout.splitlines()[2]]
        assert dry.stdout.splitlines()[2].startswith(
            "counterfactual: 1 of the last 1 stored decisions would have been decided differently")
        assert offset == offset_after_dry_run == 0
        assert switched.returncode == 0, switched.stdout + switched.stderr
        lines = switched.stdout.splitlines()
        assert lines[0].startswith("published version 1 (") and lines[0].endswith(" for global")
        assert lines[1:] == ["  profile: (inherit) -> DEFENSIVE",
                             f"applied by every live worker: {worker_id}"]
        assert (before["profile"], before["config_version"]) == ("NORMAL", -1)
        assert (after["profile"], after["config_version"]) == ("DEFENSIVE", 1)
        view = json.loads(shown.stdout)
        assert view["profile"] == "DEFENSIVE" and view["config_version"] == 1
        assert [(w["worker_id"], w["config_version"]) for w in view["workers"]] == [(worker_id, 1)]


class TestConcurrentWriters:
    @pytest.mark.timeout(240)
    async def test_eight_parallel_cli_writes_get_eight_consecutive_versions(self, test_settings,
                                                                           tmp_path):
        """Eight `config set-limits` processes at once: versions 1..8, each in the history with
        its author, and the global overlay holds all eight limits."""
        s = test_settings
        async with topics(s):
            files = []
            for i, (name, value) in enumerate(LIMITS.items()):
                path = tmp_path / f"{name}.json"
                path.write_text(json.dumps({name: value}))
                files.append((i, path))
            done = await asyncio.gather(*(asyncio.to_thread(
                config_cli, s, "set-limits", str(path), "--reason", f"writer {i}", "--as",
                f"op{i}", "--no-wait") for i, path in files))
            rows = await fetch(s, "SELECT version, actor, new::text AS new FROM config_writes "
                                  "WHERE source_topic = $1 ORDER BY version", s.topics.config)
            async with writer_for(s) as writer:
                book = (await writer.current()).book
        assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
        assert [r["version"] for r in rows] == list(range(1, 9))
        assert sorted(r["actor"] for r in rows) == sorted(f"op{i}" for i in range(8))
        assert book.version == 8 and book.overrides[("GLOBAL", "")] == LIMITS
        assert json.loads(rows[-1]["new"])["limits"] == LIMITS


class TestRefusals:
    @pytest.mark.timeout(120)
    async def test_inconsistent_limits_publish_nothing(self, test_settings, tmp_path):
        """net_cap above gross_cap, an unknown limit and a bad scope exit 2 in one line, and
        the topic's end offset and the history are unchanged."""
        s = test_settings
        async with topics(s):
            ok = await asyncio.to_thread(config_cli, s, "set-limits", "-", "--unset", "net_cap",
                                         "--reason", "a first version", "--no-wait")
            before = await end_offset(s)
            bad = tmp_path / "bad.yaml"
            bad.write_text("gross_cap: 1.0\nnet_cap: 2.0\n")
            unknown = tmp_path / "unknown.yaml"
            unknown.write_text("gross_kap: 1.0\n")
            refused = [await asyncio.to_thread(config_cli, s, *args) for args in (
                ("set-limits", str(bad), "--reason", "inconsistent"),
                ("set-limits", str(unknown), "--reason", "typo"),
                ("trading-state", "HALTED", "--scope", "desk:1", "--reason", "bad scope"),
                ("halt", "--reason", "no"))]
            after = await end_offset(s)
            rows = await fetch(s, "SELECT version FROM config_writes WHERE source_topic = $1",
                               s.topics.config)
        assert ok.returncode == 0, ok.stderr
        assert before == after == 1 and [r["version"] for r in rows] == [1]
        for done in refused:
            assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "net_cap 2.0 is above gross_cap 1.0; nothing was published" in refused[0].stderr
        assert "unknown limit keys: gross_kap" in refused[1].stderr
        assert "is not global, strategy:ID or portfolio:ID" in refused[2].stderr
        assert "reason" in refused[3].stderr

    @pytest.mark.timeout(120)
    async def test_if_version_conflict_refuses(self, test_settings):
        """--if-version that is not the scope's current version exits 2 and publishes nothing."""
        s = test_settings
        async with topics(s):
            first = await asyncio.to_thread(config_cli, s, "halt", "--reason", "stop it all",
                                            "--no-wait", "--if-version", "-1")
            stale = await asyncio.to_thread(config_cli, s, "trading-state", "ACTIVE", "--reason",
                                            "resume", "--if-version", "-1")
            after = await end_offset(s)
        assert first.returncode == 0, first.stderr
        assert stale.returncode == 2 and after == 1
        assert "global is at version 1, not -1; nothing was published" in stale.stderr


class TestWorkerStatus:
    @pytest.mark.timeout(180)
    async def test_a_wait_names_the_workers_that_have_not_applied(self, test_settings):
        """A live worker that lags is named when the wait runs out (CLI exit 1); the running
        worker is reported as applied, and its metrics say the version and the profile; a
        stopped worker's row is gone."""
        s = test_settings
        async with topics(s):
            async with running_worker(s) as service, writer_for(s) as writer:
                changes_before = sample("riskgate_config_changes_total",
                                        actor="alice", via="cli") or 0.0
                applied = await writer.submit(ConfigChange(profile="DEFENSIVE", reason="switch"),
                                              Actor(name="alice"), wait_s=20)
                gauges = (sample("riskgate_config_version", worker=service.status.worker_id),
                          sample("riskgate_active_profile", scope="global", profile="DEFENSIVE"),
                          sample("riskgate_config_changes_total", actor="alice", via="cli"))
                async with writer.pool.acquire() as conn:
                    await worker_status.upsert(conn, f"lagging-{s.group_id}", s.group_id,
                                               s.topics.config, "elsewhere", 1, 0, [], 60.0)
                waited = await asyncio.to_thread(config_cli, s, "set-profile", "NORMAL",
                                                 "--reason", "back",
                                                 RISKGATE_CONFIG_WAIT_S="2")
                worker_id = service.status.worker_id
            rows = await fetch(s, "SELECT worker_id FROM worker_status WHERE config_topic = $1",
                               s.topics.config)
        assert applied.applied_by == [worker_id] and applied.not_applied_by == []
        assert gauges == (1.0, 1.0, changes_before + 1)
        assert waited.returncode == 1, waited.stdout + waited.stderr
        assert waited.stdout.splitlines()[-1] == (
            f"not applied within 2 s by: lagging-{s.group_id}")
        assert [r["worker_id"] for r in rows] == [f"lagging-{s.group_id}"]


class TestOnePartition:
    @pytest.mark.timeout(120)
    async def test_a_config_topic_with_two_partitions_is_refused_everywhere(self, test_settings):
        """topics create, the writer and the worker all refuse a risk.config with two
        partitions, in one line."""
        s = test_settings
        admin = admin_client(s)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(s.topics.config, 2, 1,
                                                topic_configs={"cleanup.policy": "compact"})])
        finally:
            await admin.close()
        try:
            with pytest.raises(TopicLayoutError) as topic_error:
                await create_topics(s)
            with pytest.raises(ConfigTopicInvalid):
                async with writer_for(s):
                    pass
            halted = await asyncio.to_thread(config_cli, s, "halt", "--reason", "try it")
            worker = await asyncio.to_thread(
                subprocess.run, [str(ROOT / ".venv/bin/python"), "-m", "riskgate.cli", "worker"],
                env=worker_env(s), capture_output=True, text=True, timeout=90)
        finally:
            await delete_topics(s, [t.name for t in topic_specs(s)])
        assert "has 2 partitions; risk.config must have exactly 1" in str(topic_error.value)
        assert halted.returncode == 2 and "has 2 partitions" in halted.stderr
        assert worker.returncode == 2, worker.stderr[-2000:]
        assert worker.stderr.strip().splitlines()[-1].startswith(
            f"riskgate worker: topic '{s.topics.config}' has 2 partitions")


class TestInfrastructureFaults:
    @pytest.mark.timeout(180)
    def test_an_unreachable_database_or_broker_exits_3_in_one_line(self, test_settings):
        """show and history without PostgreSQL, and a write without Kafka, exit 3 and name the
        system and the setting, without a traceback."""
        s = test_settings
        no_db = {"RISKGATE_DATABASE_URL": "postgresql://riskgate:secret@127.0.0.1:1/riskgate",
                 "RISKGATE_DATABASE_PASSWORD": "secret"}
        runs = [config_cli(s, "show", **no_db), config_cli(s, "history", **no_db),
                config_cli(s, "halt", "--reason", "no broker",
                           RISKGATE_BOOTSTRAP_SERVERS="127.0.0.1:1")]
        for done in runs:
            assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "cannot reach PostgreSQL at 127.0.0.1:1 (RISKGATE_DATABASE_URL)" in runs[0].stderr
        assert "secret" not in runs[0].stderr + runs[1].stderr
        assert "cannot reach Kafka at 127.0.0.1:1 (RISKGATE_BOOTSTRAP_SERVERS)" in runs[2].stderr
