"""One transactional producer per input partition (aiokafka has no KIP-447).

The transactional id is derived from the input partition, so whoever owns the partition next
fences whoever owned it before: starting a producer runs ``init_transactions``, which bumps the
epoch and aborts or completes the previous owner's open transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    InvalidProducerEpoch,
    InvalidTopicError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedForMessageFormatError,
)
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from riskgate.errors import PublisherFenced, PublishRefused, RetryablePublishError
from riskgate.kafka.clients import kafka_producer
from riskgate.kafka.options import PRODUCER, options
from riskgate.records import OutRecord
from riskgate.settings import Settings
from riskgate.worker.partitioner import CachedPartitioner

_PUBLISH_TIMEOUT_S = 20.0


def transactional_id(prefix: str, topic: str, partition: int) -> str:
    return f"{prefix}-{topic}-{partition}"


class PartitionPublisher:
    """Owns the transactional producer of one input partition."""

    def __init__(self, settings: Settings, txn_id: str, group_id: str,
                 max_batch_bytes: int = 256 * 1024, max_request_bytes: int = 4 * 1024 * 1024) -> None:
        self._settings = settings
        self.txn_id = txn_id
        self._group_id = group_id
        # A batch the broker refuses as too large is never split by aiokafka: keep every batch
        # within the smallest output topic's limit (riskgate.kafka.limits).
        self._max_batch_bytes = max_batch_bytes
        self._max_request_bytes = max_request_bytes
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = CachedPartitioner()  # kept across restarts: same keys, same hashes

    async def start(self) -> None:
        """Create the producer and init transactions: this fences any zombie owner. Raises
        PublishRefused when the broker refuses the producer for good."""
        producer = kafka_producer(
            self._settings,
            **options(PRODUCER, "aiokafka", transactional_id=self.txn_id,
                      linger_ms=self._settings.publish_linger_ms,
                      max_batch_size=self._max_batch_bytes, max_request_size=self._max_request_bytes),
            partitioner=self._partitioner,  # the default's partitions, each key hashed once
        )
        try:
            await producer.start()
        except BaseException as exc:
            await _quietly_stop(producer)
            refused = refusal(exc)
            if refused is not None:  # e.g. not authorised for the transactional id
                raise PublishRefused(f"{self.txn_id}: the broker refuses the producer: "
                                     f"{type(refused).__name__}: {refused}") from exc
            raise
        self._producer = producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _quietly_stop(producer)

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def publish(
        self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int
    ) -> None:
        """Publish ``records`` and commit the consumer offset ``next_offset`` in one transaction.

        Raises RetryablePublishError when the transaction did not commit or its outcome is
        unknown; the caller then restarts this publisher and re-seeks from Kafka. Raises
        PublishRefused when the broker refuses the records for a reason no retry can change
        (too large, not authorised), and PublisherFenced when a newer owner has taken over.
        """
        producer = self._producer
        if producer is None:
            raise RetryablePublishError(f"{self.txn_id}: publisher is closed")
        try:
            # aiokafka can leave a transaction waiting forever once its sender task has died
            # (after fencing, for one); a bounded wait turns that into a retry or a drop.
            await asyncio.wait_for(self._transaction(producer, records, tp, next_offset),
                                   timeout=_PUBLISH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the outcome unknown
            if _was_fenced(producer, exc):
                raise PublisherFenced(f"{self.txn_id}: fenced by a newer owner: {exc}") from exc
            refused = refusal(exc)
            if refused is not None:
                raise PublishRefused(f"{self.txn_id}: the broker refuses the batch: "
                                     f"{type(refused).__name__}: {refused}") from exc
            # KafkaError and timeouts, but also aiokafka's state assertions after a fenced or
            # half-finished transaction: all mean "restart the producer and re-seek".
            raise RetryablePublishError(f"{self.txn_id}: {type(exc).__name__}: {exc}") from exc

    async def _transaction(self, producer: AIOKafkaProducer, records: Sequence[OutRecord],
                           tp: TopicPartition, next_offset: int) -> None:
        await producer.begin_transaction()
        futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
        if futures:
            await asyncio.gather(*futures)
        offsets = {tp: OffsetAndMetadata(next_offset, "")}
        await producer.send_offsets_to_transaction(offsets, self._group_id)
        await producer.commit_transaction()


def _was_fenced(producer: AIOKafkaProducer, exc: BaseException) -> bool:
    """Fencing surfaces as ProducerFenced, or, once aiokafka's sender task has died of it, as
    an IllegalOperation on the next call; look at both."""
    if isinstance(exc, _FENCED):
        return True
    sender = getattr(getattr(producer, "_sender", None), "_sender_task", None)
    if sender is not None and sender.done() and not sender.cancelled():
        return isinstance(sender.exception(), _FENCED)
    return False


_FENCED = (ProducerFenced, InvalidProducerEpoch)

# Errors a retry of the same records cannot change: the records or the permissions must.
# (A corrupt record is left out: a request damaged in transit is retried, as Kafka's clients do.)
# The librdkafka client's list is rdkafka_publisher._REFUSALS: a change here is made there too.
_NOT_RETRIABLE = (
    MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError,
    InvalidTopicError, UnsupportedForMessageFormatError, TopicAuthorizationFailedError,
    GroupAuthorizationFailedError, ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)


def refusal(exc: BaseException) -> BaseException | None:
    """The non-retriable Kafka error behind ``exc``, following its causes, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _NOT_RETRIABLE):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    # Closing a broken producer must not mask the error that made us close it.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), timeout=10)
