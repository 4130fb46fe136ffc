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

import asyncpg
import orjson
import pytest
from confluent_kafka import Consumer

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
    conn = await asyncpg.connect(s.database_url)
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


class TestRedrive:
    @pytest.mark.timeout(400)
    async def test_redrive_decides_once_says_what_comes_back_and_is_recorded(
            self, test_settings, unique):
        """Redriven to a default-limit worker, the valid decision is decided once and redriving it
        again gives a DUPLICATE, never a second target; the command said up front which come
        back EXPIRED or dead-letter again; the redrive is recorded; headers name the source."""
        s, now, p = test_settings, time.time(), f"P{unique}"
        await create_small_dlq(s)
        async with topics(s):
            values = await dead_letter_them(s, unique, p, now)
            letters = listed((await riskgate(s, "dlq", "list", "--json"))[1])
            big = letters[sha(values["big"])]
            big_at = f"{big['partition']}:{big['offset']}"
            rc_dry, dry, _ = await riskgate(s, "dlq", "redrive", "--all", "--dry-run",
                                            "--reason", "limit raised")
            rc_down, _, down = await riskgate(s, "dlq", "redrive", "--all", "--reason", "x",
                                              RISKGATE_BOOTSTRAP_SERVERS="127.0.0.1:1")
            rc_none, _, _ = await riskgate(s, "dlq", "redrive", "--all")  # no --reason
            after_dry = await redrives(s)
            rc, first, err = await riskgate(s, "dlq", "redrive", "--all", "--reason",
                                            "limit raised", "--as", "alice")
            assert rc == 0, err
            async with running_worker(s):
                actions = await collect(s, s.topics.actions, 3)  # ok, then big and old
                rc2, second, err2 = await riskgate(s, "dlq", "redrive", "--record", big_at,
                                                   "--reason", "once more", "--as", "bob")
                actions = await collect(s, s.topics.actions, 4, settle_s=2.0)
                targets = await collect(s, s.topics.targets, 3, settle_s=2.0)
                dead = await collect(s, s.topics.dlq, 6)
            runs, rows = await redrives(s)
            redriven = await asyncio.to_thread(read_redriven, s, 5)
            relisted = listed((await riskgate(s, "dlq", "list", "--json"))[1])
        # Up front: what the worker will make of each.
        assert rc_dry == 0
        for line in ("DECIDED          1", "DUPLICATE        0", "EXPIRED          1",
                     "DEAD_LETTER      2  still invalid: dead-lettered again (OVERSIZE 1, "
                     "SCHEMA_INVALID 1)"):
            assert line in dry, dry
        assert "dry run: nothing published, nothing recorded" in dry
        assert after_dry == ([], [])  # neither the dry run nor the failed runs recorded anything
        assert rc_down == 3 and down.startswith("riskgate dlq redrive: cannot reach Kafka at "
                                                "127.0.0.1:1") and down.count("\n") == 1
        assert rc_none == 2
        assert "4 of 4 published" in first and "EXPIRED          1" in first
        assert rc2 == 0, err2
        assert "DUPLICATE        1" in second and "1 of them redriven before" in second
        # The worker: decided once, EXPIRED, then DUPLICATE; still-invalid ones dead-lettered again.
        by_decision: dict[str, list[str]] = {}
        for _, a in actions:
            by_decision.setdefault(a["decision_id"], []).append(a["action_type"])
        assert by_decision[f"D{unique}-big"][0] in {"OK", "CAPPED", "SCALED_DOWN"}
        assert by_decision[f"D{unique}-big"][1:] == ["DUPLICATE"]
        assert by_decision[f"D{unique}-old"] == ["EXPIRED"]
        assert [t["decision_id"] for _, t in targets].count(f"D{unique}-big") == 1
        assert len(dead) == 6
        again = [d for d in relisted.values() if d["redrive_of"]]
        assert sorted(d["error_code"] for d in again) == ["OVERSIZE", "SCHEMA_INVALID"]
        assert relisted[sha(values["huge"])]["value_length"] == len(values["huge"])
        assert relisted[sha(values["big"])]["redriven"] == 2
        # Recorded: who, when, why, which offsets.
        assert [(r["requested_by"], r["reason"], r["status"], r["record_count"]) for r in runs] == [
            ("alice", "limit raised", "PUBLISHED", 4), ("bob", "once more", "PUBLISHED", 1)]
        assert not any(r["authenticated"] for r in runs)
        assert orjson.loads(runs[0]["expected"]) == {"DECIDED": 1, "EXPIRED": 1, "DEAD_LETTER": 2}
        assert len(rows) == 5
        # The outside client: full original bytes, original key, same partition, headers.
        assert len(redriven) == 5
        published = {(r["published_partition"], r["published_offset"]) for r in rows}
        for partition, offset, key, value, headers in redriven:
            topic, part, off = headers["riskgate-redrive-of"].decode().rsplit(":", 2)
            assert topic == s.topics.proposed and key == p.encode()
            source = letters[sha(value)]  # the full bytes: their digest is the dead letter's
            assert int(part) == source["partition"] == partition and int(off) == source["offset"]
            assert (partition, offset) in published
            assert headers["riskgate-redrive-id"].decode() in {str(r["redrive_id"]) for r in runs}
        assert sum(1 for x in redriven if x[3] == values["big"]) == 2
