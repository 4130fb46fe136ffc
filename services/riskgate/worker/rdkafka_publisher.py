"""One KIP-447 transactional producer per worker (librdkafka), shared by every owned partition.

The fencing rule is in docs/kafka-clients.md. In short: a zombie is fenced by the group
coordinator, because every offset commit carries the consumer's group metadata; the
transactional id is the worker's own; the next owner of a partition reads its committed
offset with ``require_stable``, which waits for the previous owner's transaction to end.

Each owned partition's pipeline gets a ``SharedPartitionPublisher`` (``ports.Publisher``).
Its ``publish`` queues the partition's batch; one committer task puts every batch that is
ready when a transaction begins, with their offsets, into that one transaction. A late batch
waits for the next transaction, so a slow partition holds no other. Each pipeline awaits its
own batch, so per partition at most one batch is in flight and offsets commit in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from aiokafka.structs import TopicPartition
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as RdTopicPartition

from riskgate.errors import PublisherFenced, PublishRefused, RetryablePublishError
from riskgate.kafka.clients import confluent_producer
from riskgate.kafka.options import PRODUCER, options
from riskgate.records import OutRecord
from riskgate.settings import Settings

log = structlog.get_logger("riskgate.worker")
_CALL_TIMEOUT_S = 20.0

# Errors a retry of the same records cannot change: the records or the permissions must.
# aiokafka's list, in its own error types, is publisher._NOT_RETRIABLE: change both together.
_REFUSALS = frozenset({
    KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD,
    KafkaError.TOPIC_EXCEPTION, KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED, KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
})
_FENCED = frozenset({KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH})
# Answers after which an aborted transaction has nothing left in flight, so the producer is
# kept: the broker refused the records, or the group refused the offsets (a rebalance).
_DEFINITE = _REFUSALS | {
    KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.FENCED_INSTANCE_ID,
}


def worker_transactional_id(s: Settings) -> str:
    """The worker's one transactional id: stable for its ``worker_id`` (a restarted pod
    fences its own zombie at once), else unique to this host and process."""
    own = s.worker_id or f"{socket.gethostname()}-{os.getpid()}"
    return f"{s.transactional_id_prefix}-w-{own}"


def producer_config(s: Settings, txn_id: str, max_batch_bytes: int) -> dict[str, Any]:
    return options(PRODUCER, "confluent", transactional_id=txn_id, linger_ms=s.publish_linger_ms,
                   max_batch_size=max_batch_bytes, max_request_size=s.publish_max_request_bytes)


class _Batch:
    __slots__ = ("records", "tp", "next_offset", "done", "refused")

    def __init__(self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int,
                 done: asyncio.Future[None]) -> None:
        self.records = records
        self.tp = tp
        self.next_offset = next_offset
        self.done = done
        self.refused: KafkaError | None = None


class _Failed(Exception):
    """A transaction that did not commit: ``cause``, and whether the producer is now unusable."""

    def __init__(self, cause: KafkaError, broken: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.broken = broken


class WorkerTransactions:
    """The worker's transactional producer and the committer task that feeds it."""

    def __init__(self, settings: Settings, txn_id: str, group_metadata: Callable[[], Any],
                 max_batch_bytes: int = 256 * 1024,
                 make_producer: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.txn_id = txn_id
        self._group_metadata = group_metadata
        self._config = producer_config(settings, txn_id, max_batch_bytes)
        self._make_producer = make_producer or (lambda config: confluent_producer(settings, **config))
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rdkafka-producer")
        self._producer: Any = None
        self._lock = asyncio.Lock()  # one start or re-creation at a time
        self._ready: list[_Batch] = []
        self._wake = asyncio.Event()
        self._committer: asyncio.Task | None = None

    async def _on_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def start(self) -> None:
        """Make sure a producer is up (init transactions: resolves this id's open transaction)."""
        async with self._lock:
            if self._producer is None:
                self._producer = await self._on_thread(self._create)
            if self._committer is None or self._committer.done():
                self._committer = asyncio.create_task(self._commit_ready(), name="rdkafka-committer")

    def _create(self) -> Any:
        producer = self._make_producer(self._config)
        try:
            producer.init_transactions(_CALL_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() in _REFUSALS:
                raise PublishRefused(f"{self.txn_id}: the broker refuses the producer: "
                                     f"{error.name()}: {error.str()}") from exc
            raise RetryablePublishError(f"{self.txn_id}: init transactions: {error.str()}") from exc
        return producer

    async def close(self) -> None:
        if self._committer is not None:
            self._committer.cancel()
            await asyncio.gather(self._committer, return_exceptions=True)
        for batch in self._take_ready():
            _settle(batch, RetryablePublishError(f"{self.txn_id}: publisher closed"))
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await self._on_thread(producer.flush, 5.0)
        self._thread.shutdown(wait=False)

    async def publish(self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int) -> None:
        if self._producer is None:
            raise RetryablePublishError(f"{self.txn_id}: the producer is being re-created")
        batch = _Batch(records, tp, next_offset, asyncio.get_running_loop().create_future())
        self._ready.append(batch)
        self._wake.set()
        await batch.done

    def _take_ready(self) -> list[_Batch]:
        """The queued batches whose pipelines still wait for them. A pipeline cancelled while
        its batch waited (its partition revoked past the grace) has given the partition up: its
        batch must not join a transaction that carries the next generation's group metadata."""
        taken, self._ready = self._ready, []
        return [b for b in taken if not b.done.done()]

    async def _commit_ready(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batches = self._take_ready()
            if not batches:
                continue
            producer = self._producer
            try:
                if producer is None:
                    raise _Failed(KafkaError(KafkaError._STATE, "no producer"), broken=True)
                await self._on_thread(self._transaction, producer, batches, self._group_metadata())
            except _Failed as failed:
                await self._failed(producer, batches, failed)
                continue
            except Exception as exc:  # noqa: BLE001 - a bug: unknown outcome, never a lost batch
                log.exception("transaction_bug", txn_id=self.txn_id)
                await self._failed(producer, batches, _Failed(KafkaError(KafkaError._FAIL, repr(exc)), broken=True))
                continue
            for batch in batches:
                _settle(batch, None)

    def _transaction(self, producer: Any, batches: list[_Batch], group_metadata: Any) -> None:
        """One transaction: every batch's records, then every batch's offset (on the producer's
        thread). Raises _Failed, which says whether the producer must be replaced."""
        if group_metadata is None:  # before the first assignment: nothing begun, nothing to settle
            raise _Failed(KafkaError(KafkaError._STATE, "no consumer group metadata yet"), broken=False)
        try:
            producer.begin_transaction()
        except KafkaException as exc:
            raise _Failed(exc.args[0], broken=True) from exc
        try:
            for batch in batches:
                _produce(producer, batch)
            producer.flush(_CALL_TIMEOUT_S)  # serves the delivery reports: a refusal is named
            refused = [b.refused for b in batches if b.refused is not None]
            if refused:
                raise KafkaException(refused[0])
            offsets = [RdTopicPartition(b.tp.topic, b.tp.partition, b.next_offset) for b in batches]
            producer.send_offsets_to_transaction(offsets, group_metadata, _CALL_TIMEOUT_S)
            producer.commit_transaction(_CALL_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0]
            if error.fatal() or error.code() in _FENCED:
                raise _Failed(error, broken=True) from exc
            # Abort. The producer is kept only where the broker's answer was definite (a
            # refusal, a stale generation) and the abort succeeded. After anything else (a
            # transport failure, a timeout) a request of this transaction may still land, so
            # only a new producer settles it: its init transactions ends this one for good.
            try:
                producer.abort_transaction(_CALL_TIMEOUT_S)
            except KafkaException:
                raise _Failed(error, broken=True) from exc
            raise _Failed(error, broken=error.code() not in _DEFINITE) from exc

    async def _failed(self, producer: Any, batches: list[_Batch], failed: _Failed) -> None:
        error = failed.cause
        log.warning("transaction_failed", txn_id=self.txn_id, error=error.str(), broken=failed.broken,
                    partitions=sorted(b.tp.partition for b in batches))
        if failed.broken and self._producer is producer:
            self._producer = None  # the next start (a pipeline's resync) makes a new one
        fenced = error.code() in _FENCED
        for batch in batches:
            if fenced:
                _settle(batch, PublisherFenced(f"{self.txn_id}: fenced: {error.str()}"))
            elif batch.refused is not None or error.code() in _REFUSALS - _PER_RECORD:
                cause = batch.refused or error
                _settle(batch, PublishRefused(f"{self.txn_id}: the broker refuses the batch of "
                                              f"partition {batch.tp.partition}: {cause.name()}: "
                                              f"{cause.str()}"))
            else:  # aborted, or unknown: the pipeline resyncs from the committed offset
                _settle(batch, RetryablePublishError(f"{self.txn_id}: {error.str()}"))


# Refusals of one batch's records: the other batches in the transaction were not refused.
_PER_RECORD = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD,
                         KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT,
                         KafkaError.TOPIC_EXCEPTION, KafkaError.TOPIC_AUTHORIZATION_FAILED})


def _produce(producer: Any, batch: _Batch) -> None:
    def delivered(error: KafkaError | None, _message: Any) -> None:
        if error is not None and error.code() in _REFUSALS and batch.refused is None:
            batch.refused = error

    for r in batch.records:
        try:
            producer.produce(r.topic, r.value, r.key, on_delivery=delivered)
        except BufferError:
            producer.poll(1.0)  # the local queue is full: let deliveries drain it once
            producer.produce(r.topic, r.value, r.key, on_delivery=delivered)
        except KafkaException as exc:  # refused before sending (e.g. larger than the maximum)
            batch.refused = exc.args[0]
            raise


def _settle(batch: _Batch, error: Exception | None) -> None:
    if batch.done.done():
        return
    if error is None:
        batch.done.set_result(None)
    else:
        batch.done.set_exception(error)


class SharedPartitionPublisher:
    """``ports.Publisher`` for one owned partition, over the worker's shared transactions."""

    def __init__(self, transactions: WorkerTransactions, tp: TopicPartition) -> None:
        self._txns = transactions
        self.tp = tp
        self.txn_id = transactions.txn_id

    async def start(self) -> None:
        await self._txns.start()

    async def restart(self) -> None:
        """After a failed transaction: a new producer only if the old one is unusable (the one
        producer serves every partition; an aborted transaction leaves it usable)."""
        await self._txns.start()

    async def close(self) -> None:
        """The partition is released; the worker's producer stays for the others."""

    async def publish(self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int) -> None:
        await self._txns.publish(records, tp, next_offset)
