"""The one place the worker loop's real graph is wired: the PostgreSQL store and the Kafka
client the settings choose (``kafka_client``; docs/kafka-clients.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener
from aiokafka.structs import TopicPartition

from riskgate.kafka.clients import kafka_consumer
from riskgate.kafka.limits import OutputLimits
from riskgate.kafka.options import CONSUMER, options
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
        made = kafka_consumer(s, **options(CONSUMER, "aiokafka", group_id=s.group_id,
                                           fetch_max_wait_ms=s.batch_timeout_ms))
        made.subscribe([s.topics.proposed], listener=listener)
        return made

    def publisher(tp: TopicPartition) -> Publisher:
        # A batch the broker refuses as too large is never split by aiokafka: keep every batch
        # within the smallest output topic's limit (riskgate.kafka.limits).
        return PartitionPublisher(
            s, transactional_id(s.transactional_id_prefix, tp.topic, tp.partition), s.group_id,
            max_request_bytes=s.publish_max_request_bytes, **_batch_limit(limits),
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

    consumers = _LatestConsumer(lambda listener: RdKafkaGroupConsumer(s, s.topics.proposed, listener))
    txn_id = worker_transactional_id(s)
    log.info("kafka_client", client="confluent", transactional_id=txn_id)
    transactions = WorkerTransactions(s, txn_id, consumers.group_metadata, **_batch_limit(limits))
    return DecisionLoop(s, BatchCommitter(pool, handler), clock, consumers=consumers,
                        publishers=lambda tp: SharedPartitionPublisher(transactions, tp),
                        on_assigned=on_assigned, on_stopped=transactions.close)


def _batch_limit(limits: OutputLimits | None) -> dict[str, int]:
    """The publisher's batch size within the smallest output topic's limit, where known."""
    return {} if limits is None else {"max_batch_bytes": limits.batch_bytes}


class _LatestConsumer:
    """Makes the loop's consumers (a new one after a failed start) and keeps the latest, whose
    group metadata the KIP-447 producer sends with each offset commit."""

    def __init__(self, make: Callable[[ConsumerRebalanceListener], Any]) -> None:
        self._make = make
        self._latest: Any = None

    def __call__(self, listener: ConsumerRebalanceListener) -> GroupConsumer:
        self._latest = self._make(listener)
        return self._latest

    def group_metadata(self) -> Any:
        return None if self._latest is None else self._latest.group_metadata
