"""The one place the worker loop's real graph is wired: PostgreSQL store, aiokafka clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
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


def bootstrap(settings: Settings, pool: asyncpg.Pool, handler: DecisionHandler, clock: Clock, *,
              limits: OutputLimits | None = None,
              on_assigned: Callable[[set[int]], Awaitable[None]] | None = None) -> DecisionLoop:
    """The decision loop over the real store (``pool``), consumer and per-partition publishers."""
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
