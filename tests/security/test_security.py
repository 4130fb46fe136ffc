"""The data plane secured: SASL_SSL to Kafka with ACLs, verify-full TLS to PostgreSQL.

Against the local broker's SASL_SSL listener and the local database's TLS-only role
(deploy/local); every refusal must be one clear line, never ready, nothing approved or lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from pydantic import SecretStr

from riskgate.kafka.clients import confluent_config
from riskgate.worker.access import AccessRefused, check_kafka
from tests.e2e.test_worker_process import _free_port, _probe, wait_ready
from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.config import config_cli
from tests.support.kafka import collect, produce, topics, worker_env
from tests.support.secure import MTLS, TLS, acls, as_principal, password, with_verified_tls

pytestmark = [pytest.mark.security, pytest.mark.timeout(600)]


def read_committed(s, topic: str, partitions: int, deadline_s: float = 30.0) -> list[dict]:
    """Every committed record of ``topic``, read with confluent-kafka as ``s``'s principal."""
    consumer = Consumer({**confluent_config(s), "group.id": "unused", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out, seen, end = [], dict.fromkeys(ends, 0), time.monotonic() + deadline_s
        while any(seen[p] < ends[p] for p in ends) and time.monotonic() < end:
            msg = consumer.poll(0.5)
            # With no group of its own (assign only), librdkafka still reports the group
            # coordinator refusing this principal; the records are what counts.
            if msg is None or msg.error() is not None:
                continue
            seen[msg.partition()] = msg.offset() + 1
            out.append(orjson.loads(msg.value()))
        return out
    finally:
        consumer.close()


async def run_worker(s, log: Path, port: int):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "riskgate.cli", "worker",
        env=worker_env(s, RISKGATE_HTTP_PORT=str(port), RISKGATE_LOG_LEVEL="DEBUG"),
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("wb"))


async def refused(s, log: Path, deadline_s: float = 120.0) -> tuple[int, str, bool]:
    """Run a worker that must refuse to start: (exit code, its last line, was it ever ready)."""
    port = _free_port()
    proc = await run_worker(s, log, port)
    ever_ready, end = False, time.monotonic() + deadline_s
    try:
        while proc.returncode is None and time.monotonic() < end:
            ever_ready |= await _probe(port, "/ready") == 200
            await asyncio.sleep(0.2)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    lines = log.read_text().strip().splitlines()
    return proc.returncode, (lines[-1] if lines else ""), ever_ready


@pytest.fixture()
async def world(test_settings, unique):
    """The test's topics, ACLs for its names, a market and a portfolio, and 10 decisions."""
    s, now = test_settings.model_copy(update={"partitions": 2}), time.time()
    async with topics(s):
        acls(s, "grant")
        await seed_world(s, now, [f"P{unique}"], {"AAPL": "TECH"})
        decisions = [b.proposal(f"D{unique}-{i}", f"P{unique}", "AAPL", qty=float(i + 1),
                                created_at=now) for i in range(10)]
        await produce(s, s.topics.proposed,
                      [(d["portfolio_id"].encode(), b.dumps(d)) for d in decisions])
        try:
            yield s, decisions
        finally:
            acls(s, "remove")


def secrets_of(s) -> list[str]:
    return [v.get_secret_value() for v in (s.kafka_sasl_password, s.database_password) if v]


class TestSecurePipe:
    async def test_decisions_flow_over_sasl_ssl_and_verified_tls(self, world, tmp_path) -> None:
        """A worker on SASL_SSL and verify-full TLS decides every decision; its log, metrics,
        `config show` and settings repr never show a password."""
        # Arrange
        plain, decisions = world
        s = with_verified_tls(as_principal(plain, "worker"))
        port, log = _free_port(), tmp_path / "worker.log"
        # Act
        proc = await run_worker(s, log, port)
        try:
            await wait_ready(port, proc)
            actions = await collect(plain, plain.topics.actions, len(decisions))
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
            metrics = (await reader.read()).decode()
            writer.close()
            shown = config_cli(s, "show")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), timeout=60)
        # Assert
        assert code == 0
        ids = sorted(d["decision_id"] for d in decisions)
        assert sorted(a["decision_id"] for _, a in actions) == ids
        as_replay = as_principal(plain, "replay")
        assert sorted(t["decision_id"] for t in read_committed(
            as_replay, plain.topics.targets, plain.partitions)) == ids
        assert shown.returncode == 0, shown.stderr
        everything = log.read_text() + metrics + shown.stdout + shown.stderr + repr(s) + str(s)
        assert "riskgate_risk_actions_total{" in metrics
        for secret in secrets_of(s):
            assert secret not in everything


class TestRefusals:
    CASES = {
        "kafka-password": (lambda s: s.model_copy(update={"kafka_sasl_password": SecretStr("wrong-pw-71")}),
                           "refused the SASL login of User:worker"),
        "kafka-untrusted-ca": (lambda s: s.model_copy(
            update={"kafka_ssl_cafile": TLS / "untrusted-ca.pem"}), "is not trusted"),
        "database-password": (lambda s: s.model_copy(update={"database_password": SecretStr("wrong-pw-72")}),
                              "refused the login of user 'riskgate_tls': wrong password"),
        "database-untrusted-ca": (lambda s: s.model_copy(
            update={"database_sslrootcert": TLS / "untrusted-ca.pem"}),
            "the certificate of PostgreSQL at 127.0.0.1"),
        "missing-acl": (lambda s: s.model_copy(update={
            "kafka_sasl_username": "stats", "kafka_sasl_password": SecretStr(password("kafka-stats"))}),
            "Kafka refuses User:stats: "),
    }

    async def test_each_refusal_is_one_line_and_loses_nothing(self, world, tmp_path) -> None:
        """A wrong password, an untrusted certificate or a missing ACL stops the worker with
        one line naming the cause; it is never ready, approves nothing, and a worker set up
        right afterwards decides every decision exactly once."""
        # Arrange
        plain, decisions = world
        good = with_verified_tls(as_principal(plain, "worker"))
        # Act
        outcomes = {name: await refused(spoil(good), tmp_path / f"{name}.log")
                    for name, (spoil, _) in self.CASES.items()}
        before = await collect(plain, plain.topics.actions, 1, deadline_s=3)
        port, log = _free_port(), tmp_path / "good.log"
        proc = await run_worker(good, log, port)
        try:
            await wait_ready(port, proc)
            after = await collect(plain, plain.topics.actions, len(decisions))
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout=60)
        # Assert
        for name, (_, cause) in self.CASES.items():
            code, line, ever_ready = outcomes[name]
            assert (code, ever_ready) == (2, False), (name, code, line)
            assert line.startswith("riskgate worker: ") and cause in line, (name, line)
            text = (tmp_path / f"{name}.log").read_text()
            assert "wrong-pw-71" not in text and "wrong-pw-72" not in text
            assert password("kafka-worker") not in text
        assert before == []
        assert sorted(a["decision_id"] for _, a in after) == sorted(
            d["decision_id"] for d in decisions)

    async def test_a_missing_acl_is_named(self, world, tmp_path) -> None:
        """The worker principal without WRITE on its actions topic is told exactly that."""
        # Arrange
        plain, _ = world
        s = with_verified_tls(as_principal(plain, "worker"))
        revoke(plain, "worker", "Write", plain.topics.actions)
        # Act
        code, line, ever_ready = await refused(s, tmp_path / "acl.log")
        # Assert
        assert (code, ever_ready) == (2, False)
        assert line == ("riskgate worker: Kafka refuses User:worker: "
                        f"WRITE on topic {plain.topics.actions}")


class TestOperators:
    async def test_only_a_principal_with_write_on_config_switches_a_profile(self, world) -> None:
        """`config set-profile` as an operator without WRITE on risk.config fails in one line
        naming the topic and records nothing; with WRITE granted back it succeeds."""
        # Arrange
        plain, _ = world
        operator = as_principal(plain, "operator")
        args = ("set-profile", "DEFENSIVE", "--reason", "security test", "--no-wait")
        revoke(plain, "operator", "Write", plain.topics.config)
        # Act
        denied = config_cli(operator, *args)
        history_denied = config_cli(plain, "history")
        acls(plain, "grant")
        allowed = config_cli(operator, *args)
        history = config_cli(plain, "history")
        # Assert
        assert denied.returncode != 0
        assert len(denied.stderr.strip().splitlines()) == 1, denied.stderr
        assert plain.topics.config in denied.stderr and "authoriz" in denied.stderr.lower()
        assert "DEFENSIVE" not in history_denied.stdout
        assert allowed.returncode == 0, allowed.stderr
        assert history.stdout.count("DEFENSIVE") == 1, history.stdout


def revoke(s, user: str, operation: str, topic: str) -> None:
    """Remove one ACL with Kafka's own AclCommand over the plaintext (super user) listener."""
    lib = Path(os.environ.get("RISKGATE_LOCAL_HOME", "/var/tmp/riskgate-local")) / "kafka/lib"
    subprocess.run(["java", "-cp", f"{lib}/*", "kafka.admin.AclCommand", "--bootstrap-server",
                    s.bootstrap_servers, "--remove", "--force", "--allow-principal",
                    f"User:{user}", "--operation", operation, "--topic", topic],
                   check=True, capture_output=True, timeout=120)


class TestMutualTls:
    @staticmethod
    def over_mtls(s, cert: str):
        return s.model_copy(update={
            "bootstrap_servers": MTLS, "kafka_security_protocol": "SSL",
            "kafka_ssl_cafile": TLS / "ca.pem", "kafka_ssl_certfile": TLS / f"{cert}.pem",
            "kafka_ssl_keyfile": TLS / f"{cert}.key"})

    async def test_a_trusted_client_certificate_has_the_workers_access(self, world) -> None:
        """Over the mTLS listener the certificate's principal passes every start-up check."""
        # Arrange
        plain, _ = world
        # Act / Assert: raises AccessRefused naming what is refused
        await check_kafka(self.over_mtls(plain, "client"))

    async def test_an_untrusted_client_certificate_is_named(self, world) -> None:
        """A client certificate from another CA is refused, and the check says so."""
        # Arrange
        plain, _ = world
        # Act
        with pytest.raises(AccessRefused) as refused_:
            await check_kafka(self.over_mtls(plain, "untrusted-client"))
        # Assert
        assert "does not trust the client certificate (RISKGATE_KAFKA_SSL_CERTFILE)" in str(
            refused_.value)
