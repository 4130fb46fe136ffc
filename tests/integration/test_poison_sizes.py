"""Records of every size never stall a partition: each is dead-lettered with its full bytes kept,
its envelope fits the DLQ topic, and the decision behind it is decided."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError
from jsonschema import Draft202012Validator

from riskgate import metrics
from riskgate.kafka.limits import read_topic_limits
from riskgate.store.connect import connect as db_connect
from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, eventually, produce, running_worker, topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DLQ_LIMIT = 256 * 1024
KAFKA_LIB = Path(os.environ.get("RISKGATE_LOCAL_HOME", "/var/tmp/riskgate-local")) / "kafka" / "lib"


def dlq_validator() -> Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / "decisions.proposed.dlq.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def kafka_configs(bootstrap: str, *args: str) -> str:
    """Kafka's own ConfigCommand (the class behind kafka-configs.sh), from the broker's jars."""
    done = subprocess.run(
        ["java", "-cp", f"{KAFKA_LIB}/*", "kafka.admin.ConfigCommand", "--bootstrap-server",
         bootstrap, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def create_small_dlq(s) -> None:
    """The DLQ topic, made before the others, with a smaller limit than the input topic's."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(s.topics.dlq, s.partitions, 1, topic_configs={
            "max.message.bytes": str(DLQ_LIMIT)})])
    finally:
        await admin.close()


async def largest_accepted_value(s, key: bytes) -> int:
    """The largest value the input topic takes under ``key``, found by trial on a scratch topic
    with the same ``max.message.bytes``."""
    limit = (await read_topic_limits(s, [s.topics.proposed]))[s.topics.proposed]
    scratch = f"{s.topics.proposed}.sizeprobe"
    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap_servers)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, max_request_size=4 * limit,
                                max_batch_size=16 * 1024, linger_ms=0)
    try:
        await admin.create_topics([NewTopic(scratch, 1, 1, topic_configs={
            "max.message.bytes": str(limit)})])
        await producer.start()
        lo, hi = limit - 1024, limit  # lo is accepted (the record overhead is well under 1 KiB)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            try:
                await (await producer.send(scratch, b"x" * mid, key=key))
                lo = mid
            except MessageSizeTooLargeError:
                hi = mid - 1
        return lo
    finally:
        await producer.stop()
        await admin.delete_topics([scratch])
        await admin.close()


async def collect_raw(s, topic: str, expected: int, deadline_s: float = 90.0) -> list[bytes]:
    """The raw values of ``topic`` (read_committed) once ``expected`` arrived, or at the deadline."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=s.bootstrap_servers,
                                isolation_level="read_committed", auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    out: list[bytes] = []
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end and len(out) < expected:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(r.value for r in records)
        await asyncio.sleep(1.0)  # and see any extra record too
        for records in (await consumer.getmany(timeout_ms=500)).values():
            out.extend(r.value for r in records)
    finally:
        await consumer.stop()
    return out


async def stored_dead_letters(s) -> dict[str, tuple[str, bytes, str]]:
    conn = await db_connect(s)
    try:
        rows = await conn.fetch(
            "SELECT error_code, value, value_sha256 FROM dead_letters WHERE source_topic=$1",
            s.topics.proposed)
    finally:
        await conn.close()
    return {r["value_sha256"]: (r["error_code"], r["value"], r["value_sha256"]) for r in rows}


class TestEverySize:
    @pytest.mark.timeout(400)
    async def test_records_of_every_size_are_dead_lettered_and_the_partition_keeps_flowing(
            self, test_settings, unique):
        """0 B, 1 B, the decode limit ±1, the DLQ limit ±1, the largest the topic takes and several
        near-limit records in one batch: each dead-lettered, fitting, fully stored; all decided."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        key = p.encode()
        cap = s.max_message_bytes
        await create_small_dlq(s)
        async with topics(s):
            largest = await largest_accepted_value(s, key)
            records, valid_ids, everything = poison_records(unique, p, now, cap, largest)
            refused_before = metrics.PUBLISH_FAILURES.labels("refused")._value.get()
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                for batch in records:  # the last batch holds several near-limit records
                    await produce(s, s.topics.proposed, batch)
                actions = await collect(s, s.topics.actions, len(valid_ids), deadline_s=120)
                envelopes = await collect_raw(s, s.topics.dlq, len(everything))
                halted, stuck = service.loop.halted, service.loop.stuck
            stored = await stored_dead_letters(s)
        assert sorted(a["decision_id"] for _, a in actions) == sorted(valid_ids)
        assert halted == [] and stuck == []
        assert metrics.PUBLISH_FAILURES.labels("refused")._value.get() == refused_before
        assert len(envelopes) == len(everything)
        validator = dlq_validator()
        by_digest = {}
        for raw in envelopes:
            assert len(raw) <= DLQ_LIMIT - 64  # fits the topic with the record and batch headers
            envelope = json.loads(raw)
            validator.validate(envelope)
            by_digest[envelope["value_sha256"]] = envelope
        for label, value in everything.items():
            digest = hashlib.sha256(value).hexdigest()
            envelope = by_digest[digest]
            code, full, _ = stored[digest]
            assert code == label.split(":")[0] == envelope["error_code"], label
            assert full == value, label
            assert envelope["value_length"] == len(value)
            prefix = base64.b64decode(envelope["value_b64"])
            assert value.startswith(prefix)
            assert envelope["value_truncated"] is (len(prefix) < len(value)), label


def poison_records(unique: str, p: str, now: float, cap: int, largest: int):
    """Produce batches of (key, value) with a valid decision behind every bad record, the ids
    of those decisions, and every bad value by its expected code."""
    key = p.encode()
    sizes = {
            "EMPTY": 0, "NOT_JSON:1": 1, "NOT_JSON:cap-1": cap - 1, "NOT_JSON:cap": cap,
            "OVERSIZE:cap+1": cap + 1, "OVERSIZE:dlq-1": DLQ_LIMIT - 1,
            "OVERSIZE:dlq": DLQ_LIMIT, "OVERSIZE:dlq+1": DLQ_LIMIT + 1,
            "OVERSIZE:largest": largest,
    }
    # Distinct bytes per record, so each dead letter is known by its digest.
    bad = {label: (bytes([65 + i % 26]) * n) for i, (label, n) in enumerate(sizes.items())}
    burst = {f"OVERSIZE:burst{i}": bytes([97 + i]) * (largest - i) for i in range(3)}
    singles, valid_ids = [], []
    for i, value in enumerate(bad.values()):
        good = b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now)
        valid_ids.append(good["decision_id"])
        singles += [(key, value), (key, b.dumps(good))]
    last = b.proposal(f"D{unique}-after-burst", p, "AAPL", qty=2.0, created_at=now)
    valid_ids.append(last["decision_id"])
    batches = [singles, [(key, v) for v in burst.values()] + [(key, b.dumps(last))]]
    return batches, valid_ids, {**bad, **burst}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def riskgate_cli(s, *args: str) -> subprocess.CompletedProcess:
    from tests.support.kafka import worker_env

    return subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "riskgate.cli", *args],
                          env=worker_env(s), capture_output=True, text=True, timeout=60)


class TestRefusedPublishHalts:
    @pytest.mark.timeout(400)
    async def test_a_refused_batch_halts_only_its_partition_until_an_operator_resumes_it(
            self, test_settings, unique):
        """The broker refusing a batch halts that partition (stored, on /ready and the gauge) without
        a retry loop; other partitions flow; `riskgate partitions resume` lets it go on."""
        port = free_port()
        s = test_settings.model_copy(update={"http_port": port, "halt_recheck_s": 0.5})
        now = time.time()
        p, q = f"P{unique}-a", f"P{unique}-b"
        from riskgate.worker.handler import expected_partition
        while expected_partition(q.encode(), s.partitions) == expected_partition(p.encode(), s.partitions):
            q += "x"
        part = expected_partition(p.encode(), s.partitions)
        behind = b.proposal(f"D{unique}-behind", p, "AAPL", created_at=now)
        other = b.proposal(f"D{unique}-other", q, "AAPL", created_at=now)
        async with topics(s):
            await seed_world(s, now, [p, q], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                # The worker read the DLQ's 1 MiB limit at start-up; now the topic takes far less.
                await asyncio.to_thread(kafka_configs, s.bootstrap_servers, "--alter", "--entity-type", "topics",
                              "--entity-name", s.topics.dlq, "--add-config", "max.message.bytes=140000")
                refused_before = metrics.PUBLISH_FAILURES.labels("refused")._value.get()
                await produce(s, s.topics.proposed, [(p.encode(), b"z" * 300_000),
                                                     (p.encode(), b.dumps(behind))])
                await eventually(lambda: service.loop.halted == [part], what="halt")
                status, body = await asyncio.to_thread(http_get, port, "/ready")
                gauges = (await asyncio.to_thread(http_get, port, "/metrics"))[1].decode()
                await produce(s, s.topics.proposed, [(q.encode(), b.dumps(other))])
                while_halted = await collect(s, s.topics.actions, 1, deadline_s=30)
                listed = await asyncio.to_thread(riskgate_cli, s, "partitions", "list", "--halted", "--json")
                refusals = metrics.PUBLISH_FAILURES.labels("refused")._value.get() - refused_before
                await asyncio.to_thread(kafka_configs, s.bootstrap_servers, "--alter", "--entity-type", "topics",
                              "--entity-name", s.topics.dlq, "--add-config", "max.message.bytes=1048576")
                resumed = await asyncio.to_thread(riskgate_cli, s, "partitions", "resume", str(part),
                                       "--reason", "DLQ limit restored")
                await eventually(lambda: service.loop.halted == [], what="resume")
                after = await collect(s, s.topics.actions, 2, deadline_s=60)
                dead = await collect(s, s.topics.dlq, 1, deadline_s=30)
                ready_after = (await asyncio.to_thread(http_get, port, "/ready"))[0]
            again = riskgate_cli(s, "partitions", "resume", str(part), "--reason", "twice")
        assert status == 503
        assert json.loads(body) == {"ready": False, "halted": [part], "stuck": []}
        assert f'riskgate_partition_halted{{partition="{part}"}} 1.0' in gauges
        assert [a["decision_id"] for _, a in while_halted] == [other["decision_id"]]
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert listed.returncode == 0 and [r["partition"] for r in rows] == [part]
        too_large = {"aiokafka": "MessageSizeTooLargeError", "confluent": "MSG_SIZE_TOO_LARGE"}[s.kafka_client]
        assert too_large in rows[0]["halted"]
        assert refusals == 1  # halted at once: no retry loop, no climbing producer epochs
        assert resumed.returncode == 0, resumed.stderr
        assert too_large in resumed.stdout
        assert sorted(a["decision_id"] for _, a in after) == sorted(
            [other["decision_id"], behind["decision_id"]])
        assert [d["error_code"] for _, d in dead] == ["OVERSIZE"]
        assert ready_after == 200
        assert again.returncode == 1 and "not halted" in again.stderr


class TestPersistentPublishFailure:
    @pytest.mark.timeout(300)
    async def test_failing_publishes_back_off_then_halt_after_the_bound(
            self, test_settings, unique, monkeypatch):
        """A publish that keeps failing is retried with growing delays, not in a tight loop, and
        halts its partition (stored) once it has failed for publish_halt_after_s."""
        from riskgate.errors import RetryablePublishError
        from riskgate.worker.handler import expected_partition
        from tests.support.publish_faults import fail_publishes

        s = test_settings.model_copy(update={"publish_halt_after_s": 4.0})
        now = time.time()
        p = f"P{unique}"
        part = expected_partition(p.encode(), s.partitions)
        attempts: list[float] = []

        async def failing(self, records, tp, next_offset):
            # Stands in for a broker that keeps timing out: the real path is the refusal test.
            attempts.append(time.monotonic())
            raise RetryablePublishError(f"{self.txn_id}: KafkaTimeoutError: simulated")

        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                fail_publishes(monkeypatch, s, failing)
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(
                    b.proposal(f"D{unique}", p, "AAPL", created_at=now)))])
                await eventually(lambda: service.loop.stuck == [part], what="stuck")
                stuck_readiness = service.readiness()
                await eventually(lambda: service.loop.halted == [part], deadline_s=30, what="halt")
            listed = await asyncio.to_thread(riskgate_cli, s, "partitions", "list", "--halted", "--json")
        gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
        assert stuck_readiness == {"ready": False, "halted": [], "stuck": [part]}
        assert 2 <= len(attempts) <= 6, attempts  # 0.5 s, 1 s, 2 s ... not hundreds a second
        assert all(later >= earlier * 1.5 for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [r["partition"] for r in rows] == [part]
        assert "publishing has failed for" in rows[0]["halted"]


async def read_uncommitted_count(s, topic: str) -> int:
    """Every record on ``topic`` including aborted ones: a retry loop leaves its copies here."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=s.bootstrap_servers,
                                isolation_level="read_uncommitted", auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    count = 0
    try:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                count += len(records)
    finally:
        await consumer.stop()
    return count


class TestTheReportedRepro:
    @pytest.mark.timeout(300)
    async def test_an_800_kb_record_under_the_topic_limit_no_longer_jams_its_partition(
            self, test_settings, unique):
        """The issue's repro on default topics: the 800,000-byte record is dead-lettered within the
        DLQ's limit, the decision behind it is decided, and no aborted copies pile up."""
        s, now = test_settings, time.time()
        p = f"P{unique}"
        behind = b.proposal(f"D{unique}", p, "AAPL", created_at=now)
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            async with running_worker(s) as service:
                await produce(s, s.topics.proposed, [(p.encode(), b"{" + b"x" * 799_999),
                                                     (p.encode(), b.dumps(behind))])
                actions = await collect(s, s.topics.actions, 1, deadline_s=60)
                dead = await collect_raw(s, s.topics.dlq, 1)
                every_action = await read_uncommitted_count(s, s.topics.actions)
                halted, ready = service.loop.halted, service.ready()
            limit = (await read_topic_limits(s, [s.topics.dlq]))[s.topics.dlq]
        assert [a["decision_id"] for _, a in actions] == [behind["decision_id"]]
        assert len(dead) == 1 and len(dead[0]) < limit
        assert json.loads(dead[0])["error_code"] == "OVERSIZE"
        assert every_action == 1  # read_uncommitted sees no aborted copies
        assert halted == [] and ready is True


class TestStoredHaltSurvivesOwnership:
    @pytest.mark.timeout(300)
    async def test_a_new_owner_stays_halted_until_resumed(self, test_settings, unique):
        """A halt stored by a previous owner holds the partition for the next one, which decides
        nothing there until an operator resumes it."""
        from riskgate.store import partitions
        from riskgate.worker.handler import expected_partition

        s = test_settings.model_copy(update={"halt_recheck_s": 0.5})
        now = time.time()
        p = f"P{unique}"
        part = expected_partition(p.encode(), s.partitions)
        decision = b.proposal(f"D{unique}", p, "AAPL", created_at=now)
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            conn = await db_connect(s)
            try:
                await partitions.halt(conn, s.topics.proposed, part, "halted by the last owner")
            finally:
                await conn.close()
            await produce(s, s.topics.proposed, [(p.encode(), b.dumps(decision))])
            async with running_worker(s) as service:
                await eventually(lambda: service.loop.halted == [part], what="halt at assignment")
                during = await collect(s, s.topics.actions, 1, deadline_s=4)
                resumed = await asyncio.to_thread(riskgate_cli, s, "partitions", "resume",
                                                  str(part), "--reason", "checked the state")
                after = await collect(s, s.topics.actions, 1, deadline_s=60)
        assert during == []
        assert resumed.returncode == 0, resumed.stderr
        assert [a["decision_id"] for _, a in after] == [decision["decision_id"]]
