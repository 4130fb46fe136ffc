"""riskgate dlq list, show and redrive, as an operator runs them, on the real broker and database.

A worker with a small ``RISKGATE_MAX_MESSAGE_BYTES`` dead-letters valid decisions as OVERSIZE;
the redrive goes to a worker with the default limit, which decides them once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import time
import uuid
from dataclasses import dataclass

import asyncpg
import orjson
import pytest
from confluent_kafka import Consumer

from riskgate.settings import Settings, Topics
from riskgate.store.connect import connect as db_connect
from tests.integration.test_pipe import seed_world
from tests.integration.test_poison_sizes import create_small_dlq
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics, worker_env

pytestmark = pytest.mark.integration

SMALL_LIMIT = 600  # the first worker's RISKGATE_MAX_MESSAGE_BYTES


def records(unique: str, p: str, now: float) -> dict[str, bytes]:
    """The record values, by role: valid but over SMALL_LIMIT (``big``, and ``old`` an hour old),
    valid but over the default limit too and over the DLQ topic's (``huge``), schema-invalid
    (``bad``), and one that fits (``ok``)."""
    def valid(name: str, blob: int, created_at: float = now) -> bytes:
        return b.dumps(b.proposal(f"D{unique}-{name}", p, "AAPL", qty=5.0, created_at=created_at,
                                  metadata={"blob": "x" * blob}))
    return {
        "big": valid("big", 1500), "old": valid("old", 1500, now - 3600),
        "huge": valid("huge", 300_000), "ok": valid("ok", 10),
        "bad": b.dumps(b.proposal(f"D{unique}-bad", p, "AAPL", created_at=now) | {
            "target_quantity": "10"}),
    }


async def dead_letter_them(s, unique: str, p: str, now: float) -> dict[str, bytes]:
    """Run the small-limit worker over the records until four are dead-lettered, one decided."""
    values = records(unique, p, now)
    small = s.model_copy(update={"max_message_bytes": SMALL_LIMIT})
    await seed_world(s, now, [p], {"AAPL": "TECH"})
    async with running_worker(small):
        await produce(s, s.topics.proposed, [(p.encode(), v) for v in values.values()])
        await collect(s, s.topics.dlq, 4)
        await collect(s, s.topics.actions, 1)
    return values


async def riskgate(s, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the ``riskgate`` command with the settings ``s`` (and ``env`` on top)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "riskgate.cli", *args, env=worker_env(s, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


def listed(stdout: str) -> dict[str, dict]:
    """``dlq list --json`` by sha256 of the full value."""
    return {d["value_sha256"]: d for d in map(json.loads, stdout.splitlines())}


def sha(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


async def redrives(s) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    conn = await db_connect(s)
    try:
        runs = await conn.fetch("SELECT * FROM dlq_redrives WHERE source_topic=$1 ORDER BY "
                                "started_at", s.topics.proposed)
        rows = await conn.fetch(
            "SELECT r.* FROM dlq_redrive_records r JOIN dlq_redrives d USING (redrive_id) "
            "WHERE d.source_topic=$1", s.topics.proposed)
    finally:
        await conn.close()
    return runs, rows


def read_redriven(s, expected: int, deadline_s: float = 30.0) -> list:
    """The records on the decisions topic that carry a redrive header, read by an outside
    client (confluent-kafka, read_committed)."""
    consumer = Consumer({"bootstrap.servers": s.bootstrap_servers, "group.id": f"o{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([s.topics.proposed])
    found, end = [], time.monotonic() + deadline_s
    try:
        while time.monotonic() < end and len(found) < expected:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = dict(msg.headers() or [])
            if "riskgate-redrive-of" in headers:
                found.append((msg.partition(), msg.offset(), msg.key(), msg.value(), headers))
    finally:
        consumer.close()
    return found


class TestListAndShow:
    @pytest.mark.timeout(300)
    async def test_list_and_show_give_each_dead_letter_with_its_full_original_bytes(
            self, test_settings, unique, tmp_path):
        """list names every dead letter with its code and full size; show gives the full bytes
        (length, sha256, preview, --out, --json) even where the envelope holds a prefix only."""
        s, now, p = test_settings, time.time(), f"P{unique}"
        await create_small_dlq(s)
        async with topics(s):
            values = await dead_letter_them(s, unique, p, now)
            rc, out, err = await riskgate(s, "dlq", "list", "--json")
            assert rc == 0, err
            letters = listed(out)
            huge = letters[sha(values["huge"])]
            rc, text, err = await riskgate(s, "dlq", "show", f"{huge['partition']}:{huge['offset']}",
                                           "--out", str(tmp_path / "huge.bin"))
            assert rc == 0, err
            rc, as_json, _ = await riskgate(s, "dlq", "show", f"{huge['partition']}:{huge['offset']}",
                                            "--json")
            rc_filtered, filtered, _ = await riskgate(s, "dlq", "list", "--error-code", "OVERSIZE")
            rc_missing, _, missing = await riskgate(s, "dlq", "show", "0:999999")
            rc_usage, _, usage = await riskgate(s, "dlq", "show", "zero:1")
        assert {d["error_code"] for d in letters.values()} == {"OVERSIZE", "SCHEMA_INVALID"}
        assert set(letters) == {sha(values[k]) for k in ("big", "old", "huge", "bad")}
        assert all(letters[sha(v)]["value_length"] == len(v) for k, v in values.items() if k != "ok")
        assert f"{len(values['huge'])} bytes, sha256 {sha(values['huge'])}" in text
        assert "the envelope holds a prefix only (value_truncated)" in text
        assert f"D{unique}-huge" in text.split("preview", 1)[1].splitlines()[0]
        assert "redrive now   DEAD_LETTER: OVERSIZE" in text  # over the default limit as well
        assert (tmp_path / "huge.bin").read_bytes() == values["huge"]
        body = json.loads(as_json)
        assert base64.b64decode(body["value_b64"]) == values["huge"]
        assert body["envelope"]["value_truncated"] is True
        assert len(base64.b64decode(body["envelope"]["value_b64"])) < len(values["huge"])
        assert rc_filtered == 0 and filtered.count(" OVERSIZE ") == 3
        assert "4 dead letters" not in filtered and "3 dead letters" in filtered
        assert rc_missing == 1 and missing.strip() == (
            f"riskgate dlq show: no dead letter of {s.topics.proposed} at 0:999999")
        assert rc_usage == 2 and usage.count("\n") == 1


@dataclass
class RedriveRun:
    """What one redrive scenario printed, published and stored."""

    s: Settings
    unique: str
    values: dict[str, bytes]
    letters: dict[str, dict]  # dlq list --json before any redrive, by sha256
    dry: tuple[int, str, str]  # --all --dry-run
    kafka_down: tuple[int, str, str]
    no_reason: tuple[int, str, str]
    recorded_before: tuple[list, list]  # dlq_redrives rows after the dry and failed runs
    first: tuple[int, str, str]  # --all, as alice
    second: tuple[int, str, str]  # the decided record again, as bob
    actions: list[tuple[bytes | None, dict]]
    targets: list[tuple[bytes | None, dict]]
    dead: list[tuple[bytes | None, dict]]
    runs: list[asyncpg.Record]
    rows: list[asyncpg.Record]
    redriven: list  # read by confluent-kafka
    relisted: dict[str, dict]  # dlq list --json at the end

    def decided(self, name: str) -> list[str]:
        return [a["action_type"] for _, a in self.actions
                if a["decision_id"] == f"D{self.unique}-{name}"]


@pytest.fixture(scope="module")
async def redrive_run(infra: Settings) -> RedriveRun:
    """Dead-letter the records on a small-limit worker; redrive them all to a default-limit
    worker, then the decided one again; a dry run and two failing runs first."""
    unique = uuid.uuid4().hex[:10]
    names = {field: f"t{unique}.{default}" for field, default in Topics().model_dump().items()}
    s = infra.model_copy(update={"topics": Topics(**names), "group_id": f"g{unique}",
                                 "transactional_id_prefix": f"x{unique}", "partitions": 4,
                                 "http_port": 0, "batch_timeout_ms": 20})
    now, p = time.time(), f"P{unique}"
    await create_small_dlq(s)
    async with topics(s):
        values = await dead_letter_them(s, unique, p, now)
        letters = listed((await riskgate(s, "dlq", "list", "--json"))[1])
        big = letters[sha(values["big"])]
        dry = await riskgate(s, "dlq", "redrive", "--all", "--dry-run", "--reason", "limit raised")
        down = await riskgate(s, "dlq", "redrive", "--all", "--reason", "x",
                              RISKGATE_BOOTSTRAP_SERVERS="127.0.0.1:1")
        no_reason = await riskgate(s, "dlq", "redrive", "--all")
        recorded_before = await redrives(s)
        first = await riskgate(s, "dlq", "redrive", "--all", "--reason", "limit raised",
                               "--as", "alice")
        assert first[0] == 0, first[2]
        async with running_worker(s):
            await collect(s, s.topics.actions, 3)  # ok, then big and old
            second = await riskgate(s, "dlq", "redrive", "--record",
                                    f"{big['partition']}:{big['offset']}", "--reason",
                                    "once more", "--as", "bob")
            actions = await collect(s, s.topics.actions, 4, settle_s=2.0)
            targets = await collect(s, s.topics.targets, 3, settle_s=2.0)
            dead = await collect(s, s.topics.dlq, 6)
        runs, rows = await redrives(s)
        redriven = await asyncio.to_thread(read_redriven, s, 5)
        relisted = listed((await riskgate(s, "dlq", "list", "--json"))[1])
    return RedriveRun(s, unique, values, letters, dry, down, no_reason, recorded_before, first,
                      second, actions, targets, dead, runs, rows, redriven, relisted)


@pytest.mark.timeout(400)
class TestRedrive:
    async def test_the_command_says_up_front_what_will_come_back(self, redrive_run):
        """Before publishing, the counts: one decided, one EXPIRED, two dead-lettered again."""
        rc, dry, _ = redrive_run.dry
        assert rc == 0
        for line in ("DECIDED          1", "DUPLICATE        0", "EXPIRED          1",
                     "DEAD_LETTER      2  still invalid: dead-lettered again (OVERSIZE 1, "
                     "SCHEMA_INVALID 1)"):
            assert line in dry and line in redrive_run.first[1], dry
        assert "dry run: nothing published, nothing recorded" in dry
        assert "4 of 4 published" in redrive_run.first[1]
        assert "DUPLICATE        1" in redrive_run.second[1]
        assert "1 of them redriven before" in redrive_run.second[1]

    async def test_a_dry_run_and_failing_runs_record_and_publish_nothing(self, redrive_run):
        """A dry run, Kafka unreachable (one line, exit 3) and no reason (exit 2) leave no record."""
        rc, _, err = redrive_run.kafka_down
        assert rc == 3 and err.count("\n") == 1
        assert err.startswith("riskgate dlq redrive: cannot reach Kafka at 127.0.0.1:1")
        assert redrive_run.no_reason[0] == 2
        assert redrive_run.recorded_before == ([], [])

    async def test_a_redriven_decision_is_decided_once_and_again_is_a_duplicate(self, redrive_run):
        """The valid decision is decided once; redriven again it is a DUPLICATE, never a second
        target; the old one comes back EXPIRED."""
        run = redrive_run
        assert run.decided("big")[0] in {"OK", "CAPPED", "SCALED_DOWN"}
        assert run.decided("big")[1:] == ["DUPLICATE"]
        assert run.decided("old") == ["EXPIRED"]
        assert [t["decision_id"] for _, t in run.targets].count(f"D{run.unique}-big") == 1

    async def test_a_record_still_invalid_is_dead_lettered_again_with_its_full_bytes(
            self, redrive_run):
        """The schema-invalid and the too-large one are dead-lettered again, as redrives of the
        first dead letters, the large one with all its bytes although its envelope was cut."""
        run = redrive_run
        assert len(run.dead) == 6
        again = [d for d in run.relisted.values() if d["redrive_of"]]
        assert sorted(d["error_code"] for d in again) == ["OVERSIZE", "SCHEMA_INVALID"]
        assert run.relisted[sha(run.values["huge"])]["value_length"] == len(run.values["huge"])
        assert run.relisted[sha(run.values["big"])]["redriven"] == 2

    async def test_every_redrive_is_recorded_with_who_why_and_which_offsets(self, redrive_run):
        """dlq_redrives: who, why, status, count and the prediction; one record row per offset."""
        run = redrive_run
        assert [(r["requested_by"], r["reason"], r["status"], r["record_count"])
                for r in run.runs] == [("alice", "limit raised", "PUBLISHED", 4),
                                       ("bob", "once more", "PUBLISHED", 1)]
        assert not any(r["authenticated"] for r in run.runs)
        assert all(r["finished_at"] >= r["started_at"] for r in run.runs)
        assert orjson.loads(run.runs[0]["expected"]) == {"DECIDED": 1, "EXPIRED": 1,
                                                         "DEAD_LETTER": 2}
        assert len(run.rows) == 5

    async def test_an_outside_client_reads_the_original_bytes_key_partition_and_headers(
            self, redrive_run):
        """confluent-kafka reads each redriven record: the full original bytes and key, on the
        dead letter's partition, with headers naming it and the redrive."""
        run = redrive_run
        assert len(run.redriven) == 5
        published = {(r["published_partition"], r["published_offset"]) for r in run.rows}
        for partition, offset, key, value, headers in run.redriven:
            topic, part, off = headers["riskgate-redrive-of"].decode().rsplit(":", 2)
            assert topic == run.s.topics.proposed and key == f"P{run.unique}".encode()
            source = run.letters[sha(value)]  # the full bytes: their digest is the dead letter's
            assert int(part) == source["partition"] == partition and int(off) == source["offset"]
            assert (partition, offset) in published
            assert headers["riskgate-redrive-id"].decode() in {str(r["redrive_id"]) for r in run.runs}
        assert sum(1 for x in run.redriven if x[3] == run.values["big"]) == 2
