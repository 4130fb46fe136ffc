"""The worker's Kafka client options, written once for both clients.

Each row is one option in aiokafka's name and in librdkafka's (empty where that client has no
such option), with the value the worker uses, or ``None`` where the caller gives it. The bench
pass-throughs take the same rows, so that they measure what the worker runs.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

Client = Literal["aiokafka", "confluent"]


class Option(NamedTuple):
    aiokafka: str
    librdkafka: str
    value: Any = None


CONSUMER = (
    Option("group_id", "group.id"),
    Option("fetch_max_wait_ms", "fetch.wait.max.ms"),
    Option("enable_auto_commit", "enable.auto.commit", False),
    Option("", "enable.auto.offset.store", False),
    Option("isolation_level", "isolation.level", "read_committed"),
    Option("auto_offset_reset", "auto.offset.reset", "earliest"),
    Option("max_partition_fetch_bytes", "max.partition.fetch.bytes", 4 * 1024 * 1024),
    Option("session_timeout_ms", "session.timeout.ms", 10_000),
    Option("heartbeat_interval_ms", "heartbeat.interval.ms", 2_000),
    Option("max_poll_interval_ms", "max.poll.interval.ms", 300_000),
    # Eager, as aiokafka's default is: a rebalance revokes everything, then assigns.
    Option("", "partition.assignment.strategy", "range"),
)

PRODUCER = (
    Option("transactional_id", "transactional.id"),
    Option("linger_ms", "linger.ms"),
    Option("max_batch_size", "batch.size"),
    Option("max_request_size", "message.max.bytes"),
    Option("enable_idempotence", "enable.idempotence", True),
    Option("acks", "acks", "all"),
    Option("transaction_timeout_ms", "transaction.timeout.ms", 60_000),
    Option("request_timeout_ms", "request.timeout.ms", 30_000),
    # Keyed records land where aiokafka's (and Java's) default partitioner puts them.
    Option("", "partitioner", "murmur2_random"),
)


def options(rows: tuple[Option, ...], client: Client, **given: Any) -> dict[str, Any]:
    """``rows`` in ``client``'s names. ``given``, by aiokafka name, fills the rows without a
    value; every such row must be given."""
    column = 0 if client == "aiokafka" else 1
    return {row[column]: given[row.aiokafka] if row.value is None else row.value
            for row in rows if row[column]}
