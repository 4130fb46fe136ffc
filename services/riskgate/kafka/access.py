"""What the broker lets this principal do, checked before the first decision.

aiokafka cannot ask the broker for its authorised operations, and it reports a refused login
or an untrusted certificate only as "Unable to bootstrap". So a worker starts by connecting
once itself (``diagnose``), which names the cause, and then probes what it will need
(``probe_worker``): a describe of every topic it uses, a read of each input, and an aborted
transaction that adds every output partition and the consumer group without writing a record.
A missing ACL is then reported at once, by name, rather than at the first decision.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid

from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.producer.transaction_manager import TransactionState
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from riskgate.kafka.clients import kafka_admin, kafka_consumer, kafka_options, kafka_producer
from riskgate.settings import Settings

PROBE_TIMEOUT_S = 15.0
_TOPIC_AUTHORIZATION_FAILED = 29
_UNKNOWN_TOPIC = 3


class KafkaAccessError(Exception):
    """The broker refused this process something it needs; the message names what."""


class TopicAccessDenied(RuntimeError):
    """This principal may not even describe a topic: an ACL is missing, not the topic."""

    def __init__(self, s: Settings, topic: str) -> None:
        super().__init__(f"Kafka refuses {_principal(s)} DESCRIBE on topic {topic!r}: an ACL "
                         "is missing (docs/security.md)")


def refused_topics(described: list[dict]) -> list[str]:
    """The topics of a describe_topics answer that this principal may not describe."""
    return [d["topic"] for d in described if d.get("error_code") == _TOPIC_AUTHORIZATION_FAILED]


def _principal(s: Settings) -> str:
    if s.kafka_sasl_username:
        return f"User:{s.kafka_sasl_username}"
    return "this client certificate" if s.kafka_ssl_certfile else "this client"


async def diagnose(s: Settings) -> str | None:
    """Why the first bootstrap server refuses this client, or None if it accepts it."""
    host, _, port = s.bootstrap_servers.split(",")[0].strip().rpartition(":")
    options = {k: v for k, v in kafka_options(s).items() if k != "bootstrap_servers"}
    for attempt in range(2):
        try:
            conn = await create_conn(host, int(port), request_timeout_ms=10_000, **options)
        except KafkaConnectionError as exc:
            # The broker checks a client certificate after the TLS handshake: one it does not
            # trust shows only as the connection closing at once. Twice, to tell a restart.
            if s.kafka_ssl_certfile is None or "closed" not in str(exc):
                return None
            if attempt == 1:
                return (f"Kafka at {s.bootstrap_servers} closed the connection after the TLS "
                        "handshake, twice: it does not trust the client certificate "
                        "(RISKGATE_KAFKA_SSL_CERTFILE)")
            await asyncio.sleep(1.0)
            continue
        except SaslAuthenticationFailed:
            return (f"Kafka at {s.bootstrap_servers} refused the SASL login of "
                    f"{_principal(s)} ({s.kafka_sasl_mechanism}): wrong user or password "
                    "(RISKGATE_KAFKA_SASL_USERNAME, RISKGATE_KAFKA_SASL_PASSWORD)")
        except UnsupportedSaslMechanismError:
            return (f"Kafka at {s.bootstrap_servers} does not offer SASL mechanism "
                    f"{s.kafka_sasl_mechanism} (RISKGATE_KAFKA_SASL_MECHANISM)")
        except ssl.SSLCertVerificationError as exc:
            return (f"the certificate of Kafka at {s.bootstrap_servers} is not trusted: "
                    f"{exc.verify_message} (RISKGATE_KAFKA_SSL_CAFILE)")
        except ssl.SSLError as exc:
            return (f"TLS with Kafka at {s.bootstrap_servers} failed: {exc.reason or exc} "
                    "(RISKGATE_KAFKA_SECURITY_PROTOCOL, RISKGATE_KAFKA_SSL_*)")
        except (TimeoutError, OSError, KafkaError):
            return None  # not a security fault: the caller's retry and its message apply
        conn.close()
        return None
    return None


async def probe_worker(s: Settings, inputs: list[str], outputs: list[str]) -> None:
    """Raise KafkaAccessError naming every topic, group or transactional id refused.

    A topic that does not exist yet is not probed: the worker's own start-up waits for it."""
    missing, absent = await _described(s, sorted(set(inputs) | set(outputs)))
    if not missing:
        inputs = [t for t in inputs if t not in absent]
        missing += await _unreadable(s, inputs)
        missing += await _unwritable(s, [t for t in outputs if t not in absent],
                                     TopicPartition(inputs[0], 0) if inputs else None)
    if missing:
        raise KafkaAccessError(f"Kafka refuses {_principal(s)}: " + "; ".join(sorted(missing)))


async def _described(s: Settings, topics: list[str]) -> tuple[list[str], set[str]]:
    """(the topics this principal may not describe, the topics that do not exist)."""
    admin = kafka_admin(s, request_timeout_ms=int(PROBE_TIMEOUT_S * 1000))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return ([f"DESCRIBE on topic {t}" for t in refused_topics(described)],
            {d["topic"] for d in described if d.get("error_code") == _UNKNOWN_TOPIC})


async def _unreadable(s: Settings, topics: list[str]) -> list[str]:
    missing = []
    consumer = kafka_consumer(s, group_id=None, enable_auto_commit=False,
                              isolation_level="read_committed")
    await consumer.start()
    try:
        for topic in topics:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_end(tp)
            try:
                await consumer.getmany(tp, timeout_ms=500)
            except TopicAuthorizationFailedError:
                missing.append(f"READ on topic {topic}")
    finally:
        await consumer.stop()
    return missing


async def _unwritable(s: Settings, topics: list[str], input_tp: TopicPartition | None
                      ) -> list[str]:
    txn_id = f"{s.transactional_id_prefix}-access-probe-{uuid.uuid4().hex[:12]}"
    producer = kafka_producer(s, transactional_id=txn_id, enable_idempotence=True,
                              request_timeout_ms=int(PROBE_TIMEOUT_S * 1000))
    try:
        await producer.start()
    except TransactionalIdAuthorizationFailed:
        await producer.stop()
        return [f"WRITE on transactional id {txn_id} (prefix {s.transactional_id_prefix})"]
    try:
        return await _aborted_transaction(producer, topics, input_tp, s.group_id)
    finally:
        await producer.stop()


async def _aborted_transaction(producer, topics: list[str], input_tp: TopicPartition | None,
                               group_id: str) -> list[str]:
    # aiokafka adds a partition to a transaction only when it sends to it; its transaction
    # manager can add one without a record, which is all the WRITE check needs.
    txn = producer._txn_manager
    await producer.begin_transaction()
    missing = []
    try:
        for topic in topics:
            txn.maybe_add_partition_to_txn(TopicPartition(topic, 0))
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            while txn.partitions_to_add() and txn.state == TransactionState.IN_TRANSACTION:
                await asyncio.sleep(0.02)
        failure = txn.wait_for_transaction_end()
        if failure.done() and isinstance(failure.exception(), TopicAuthorizationFailedError):
            refused = failure.exception().args[0] if failure.exception().args else topics
            missing += [f"WRITE on topic {t}" for t in sorted(refused)]
        elif txn.state == TransactionState.IN_TRANSACTION and input_tp is not None:
            try:
                await producer.send_offsets_to_transaction(
                    {input_tp: OffsetAndMetadata(0, "")}, group_id)
            except GroupAuthorizationFailedError:
                missing.append(f"READ on group {group_id}")
    finally:
        await producer.abort_transaction()
    return missing
