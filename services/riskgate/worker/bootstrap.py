"""The one place the worker loop's real graph is wired: the PostgreSQL store and the Kafka
client the settings choose (``kafka_client``; docs/kafka-clients.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener
from aiokafka.structs import TopicPartition

from riskgate.kafka.clients import kafka_consumer
from riskgate.kafka.limits import OutputLimits
from riskgate.settings import Settings
from riskgate.worker.app import DecisionLoop
from riskgate.worker.batch import BatchCommitter
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.ports import Clock, GroupConsumer, Publisher
from riskgate.worker.publisher import PartitionPublisher, transactional_id

log = structlog.get_logger("riskgate.worker")


def bootstrap(settings: Settings, pool: asyncpg.Pool, handler: DecisionHandler, clock: Clock, *,
              limits: OutputLimits | None = None,
              on_assigned: Callable[[set[int]], Awaitable[None]] | None = None) -> DecisionLoop:
    """The decision loop over the real store (``pool``), consumer and per-partition publishers."""
    if settings.kafka_client == "confluent":
        return _rdkafka_loop(settings, pool, handler, clock, limits=limits, on_assigned=on_assigned)
    s = settings

    def consumer(listener: ConsumerRebalanceListener) -> GroupConsumer:
        made = kafka_consumer(
            s, group_id=s.group_id,
            enable_auto_commit=False, isolation_level="read_committed",
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=10_000, heartbeat_interval_ms=2_000, max_poll_interval_ms=300_000,
            fetch_max_wait_ms=s.batch_timeout_ms,
        )
        made.subscribe([s.topics.proposed], listener=listener)
        return made

    def publisher(tp: TopicPartition) -> Publisher:
        # A batch the broker refuses as too large is never split by aiokafka: keep every batch
        # within the smallest output topic's limit (riskgate.kafka.limits).
        return PartitionPublisher(
            s, transactional_id(s.transactional_id_prefix, tp.topic, tp.partition), s.group_id,
            max_request_bytes=s.publish_max_request_bytes,
            **({"max_batch_bytes": limits.batch_bytes} if limits is not None else {}),
        )

    return DecisionLoop(s, BatchCommitter(pool, handler), clock, consumers=consumer,
                        publishers=publisher, on_assigned=on_assigned)


def _rdkafka_loop(s: Settings, pool: asyncpg.Pool, handler: DecisionHandler, clock: Clock, *,
                  limits: OutputLimits | None,
                  on_assigned: Callable[[set[int]], Awaitable[None]] | None) -> DecisionLoop:
    """librdkafka: one consumer, and one KIP-447 producer shared by every owned partition."""
    # confluent-kafka is an optional extra: imported only when chosen.
    from riskgate.worker.rdkafka_consumer import RdKafkaGroupConsumer
    from riskgate.worker.rdkafka_publisher import (
        SharedPartitionPublisher,
        WorkerTransactions,
        worker_transactional_id,
    )

    current: list[RdKafkaGroupConsumer] = []  # the loop makes a new consumer after a failed start

    def consumer(listener: ConsumerRebalanceListener) -> GroupConsumer:
        current[:] = [RdKafkaGroupConsumer(s, s.topics.proposed, listener)]
        return current[0]

    txn_id = worker_transactional_id(s)
    log.info("kafka_client", client="confluent", transactional_id=txn_id)
    transactions = WorkerTransactions(
        s, txn_id, lambda: current[0].group_metadata if current else None,
        **({"max_batch_bytes": limits.batch_bytes} if limits is not None else {}))
    return DecisionLoop(s, BatchCommitter(pool, handler), clock, consumers=consumer,
                        publishers=lambda tp: SharedPartitionPublisher(transactions, tp),
                        on_assigned=on_assigned, on_stopped=transactions.close)
