"""The librdkafka client's shared transactions: batches of several partitions in one
transaction, and each failure's fate per batch (docs/kafka-clients.md, rules 3 and 4)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiokafka.structs import TopicPartition
from confluent_kafka import KafkaError, KafkaException

from riskgate.errors import PublisherFenced, PublishRefused, RetryablePublishError
from riskgate.records import OutRecord
from riskgate.settings import Settings
from riskgate.worker.rdkafka_publisher import SharedPartitionPublisher, WorkerTransactions

pytestmark = pytest.mark.service


def _error(code: int, *, fatal: bool = False, abortable: bool = False) -> KafkaException:
    return KafkaException(KafkaError(code, "injected", fatal=fatal, txn_requires_abort=abortable))


class FakeRdProducer:
    """The calls WorkerTransactions makes on confluent-kafka's Producer, recorded; a failure
    can be injected per call name, once."""

    def __init__(self) -> None:
        self.transactions: list[dict] = []  # committed: {"records": [...], "offsets": [...]}
        self.aborted = 0
        self.fail: dict[str, KafkaException] = {}
        self.refuse_topic: str | None = None  # delivery reports refuse this topic's records
        self.gate: threading.Event | None = None  # commit waits for it (a slow transaction)
        self._open: dict | None = None
        self._pending: list = []

    def _maybe_fail(self, call: str) -> None:
        if call in self.fail:
            raise self.fail.pop(call)

    def init_transactions(self, timeout: float) -> None:
        self._maybe_fail("init_transactions")

    def begin_transaction(self) -> None:
        self._maybe_fail("begin_transaction")
        self._open = {"records": [], "offsets": []}

    def produce(self, topic, value, key, on_delivery) -> None:
        assert self._open is not None, "produce outside a transaction"
        self._open["records"].append((topic, key, value))
        self._pending.append((topic, on_delivery))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for topic, callback in self._pending:
            refused = topic == self.refuse_topic
            callback(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE) if refused else None, None)
        self._pending = []
        return 0

    def send_offsets_to_transaction(self, offsets, metadata, timeout: float) -> None:
        self._maybe_fail("send_offsets_to_transaction")
        assert self._open is not None
        self._open["offsets"] = [(o.topic, o.partition, o.offset) for o in offsets]

    def commit_transaction(self, timeout: float) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        self._maybe_fail("commit_transaction")
        self.transactions.append(self._open)
        self._open = None

    def abort_transaction(self, timeout: float) -> None:
        self._maybe_fail("abort_transaction")
        self.aborted += 1
        self._open = None
        self._pending = []


class Rig:
    def __init__(self) -> None:
        self.made: list[FakeRdProducer] = []
        self.txns = WorkerTransactions(Settings(), "rg-w-test", lambda: "metadata",
                                       make_producer=self._make)
        self.next_fake = FakeRdProducer()

    def _make(self, config: dict) -> FakeRdProducer:
        assert config["transactional.id"] == "rg-w-test"
        made, self.next_fake = self.next_fake, FakeRdProducer()
        self.made.append(made)
        return made

    def publisher(self, partition: int) -> SharedPartitionPublisher:
        return SharedPartitionPublisher(self.txns, TopicPartition("in", partition))


def _records(partition: int, topic: str = "out") -> list[OutRecord]:
    return [OutRecord(topic, b"k%d" % partition, b"v%d" % partition)]


class TestSharedTransactions:
    async def test_batches_ready_together_commit_in_one_transaction_with_their_offsets(self):
        """Two partitions' batches that are ready while a transaction runs go out together in
        the next one, each with its own offset."""
        # Arrange
        rig = Rig()
        p0, p1, p2 = rig.publisher(0), rig.publisher(1), rig.publisher(2)
        await p0.start()
        producer = rig.made[0]
        producer.gate = threading.Event()
        # Act: p0's transaction is slow; p1 and p2 arrive meanwhile
        first = asyncio.create_task(p0.publish(_records(0), p0.tp, 5))
        await asyncio.sleep(0.05)
        later = [asyncio.create_task(p.publish(_records(p.tp.partition), p.tp, 7)) for p in (p1, p2)]
        await asyncio.sleep(0.05)
        producer.gate.set()
        await asyncio.gather(first, *later)
        await rig.txns.close()
        # Assert
        assert [t["offsets"] for t in producer.transactions] == [
            [("in", 0, 5)], [("in", 1, 7), ("in", 2, 7)]]
        assert producer.transactions[1]["records"] == [("out", b"k1", b"v1"), ("out", b"k2", b"v2")]

    async def test_a_batch_whose_pipeline_gave_up_while_queued_is_never_committed(self):
        """A batch queued behind a slow transaction, whose pipeline is cancelled meanwhile (its
        partition revoked), is left out of the next transaction: records and offset."""
        # Arrange
        rig = Rig()
        p0, p1 = rig.publisher(0), rig.publisher(1)
        await p0.start()
        producer = rig.made[0]
        producer.gate = threading.Event()
        first = asyncio.create_task(p0.publish(_records(0), p0.tp, 5))
        await asyncio.sleep(0.05)
        abandoned = asyncio.create_task(p1.publish(_records(1), p1.tp, 9))
        await asyncio.sleep(0.05)
        # Act
        abandoned.cancel()
        await asyncio.gather(abandoned, return_exceptions=True)
        producer.gate.set()
        await first
        await p0.publish(_records(0), p0.tp, 6)
        await rig.txns.close()
        # Assert
        assert [t["offsets"] for t in producer.transactions] == [[("in", 0, 5)], [("in", 0, 6)]]
        assert all(r[1] != b"k1" for t in producer.transactions for r in t["records"])

    @pytest.mark.parametrize(("code", "producers"), [(KafkaError.ILLEGAL_GENERATION, 1),
                                                     (KafkaError._TRANSPORT, 2)])
    async def test_an_abortable_error_aborts_and_the_restart_keeps_the_producer_only_if_definite(
            self, code, producers):
        """An abortable failure while adding the offsets aborts the transaction and the batch
        retries. After a definite answer (a stale generation) the restart keeps the producer;
        after a transport failure a request of that transaction may still land, so the restart
        replaces it."""
        # Arrange
        rig = Rig()
        p0 = rig.publisher(0)
        await p0.start()
        first = rig.made[0]
        first.fail["send_offsets_to_transaction"] = _error(code, abortable=True)
        # Act
        with pytest.raises(RetryablePublishError):
            await p0.publish(_records(0), p0.tp, 3)
        await p0.restart()
        await p0.publish(_records(0), p0.tp, 3)
        await rig.txns.close()
        # Assert
        assert first.aborted == 1
        assert len(rig.made) == producers
        assert [t["offsets"] for p in rig.made for t in p.transactions] == [[("in", 0, 3)]]

    async def test_an_unknown_outcome_makes_a_new_producer_before_the_next_batch(self):
        """A commit whose abort also fails leaves the outcome unknown: the batch is retryable,
        publishing refuses until a restart, and the restart makes a new producer."""
        # Arrange
        rig = Rig()
        p0 = rig.publisher(0)
        await p0.start()
        first = rig.made[0]
        first.fail["commit_transaction"] = _error(KafkaError._TIMED_OUT)
        first.fail["abort_transaction"] = _error(KafkaError._STATE)
        # Act
        with pytest.raises(RetryablePublishError):
            await p0.publish(_records(0), p0.tp, 1)
        with pytest.raises(RetryablePublishError):
            await p0.publish(_records(0), p0.tp, 1)  # no producer until the restart
        await p0.restart()
        await p0.publish(_records(0), p0.tp, 1)
        await rig.txns.close()
        # Assert
        assert len(rig.made) == 2
        assert first.transactions == []
        assert [t["offsets"] for t in rig.made[1].transactions] == [[("in", 0, 1)]]

    async def test_a_refused_batch_halts_only_its_own_partition(self):
        """Records the broker refuses (too large) make their batch PublishRefused; the other
        batch in the same transaction is only retried."""
        # Arrange
        rig = Rig()
        p0, p1 = rig.publisher(0), rig.publisher(1)
        await p0.start()
        producer = rig.made[0]
        producer.refuse_topic = "huge"
        producer.gate = threading.Event()
        blocker = asyncio.create_task(p0.publish(_records(0), p0.tp, 1))
        await asyncio.sleep(0.05)
        # Act: both batches land in the second transaction
        bad = asyncio.create_task(p0.publish(_records(0, topic="huge"), p0.tp, 2))
        good = asyncio.create_task(p1.publish(_records(1), p1.tp, 4))
        await asyncio.sleep(0.05)
        producer.gate.set()
        await blocker
        results = await asyncio.gather(bad, good, return_exceptions=True)
        await rig.txns.close()
        # Assert
        assert isinstance(results[0], PublishRefused) and "partition 0" in str(results[0])
        assert isinstance(results[1], RetryablePublishError)
        assert producer.aborted == 1

    async def test_fencing_is_a_fenced_error_for_every_batch_in_the_transaction(self):
        """A producer fenced by another holder of the id drops every partition in the transaction."""
        # Arrange
        rig = Rig()
        p0 = rig.publisher(0)
        await p0.start()
        rig.made[0].fail["commit_transaction"] = _error(KafkaError.PRODUCER_FENCED, fatal=True)
        # Act / Assert
        with pytest.raises(PublisherFenced):
            await p0.publish(_records(0), p0.tp, 1)
        await rig.txns.close()

    async def test_a_refused_transactional_id_is_a_refusal_at_start(self):
        """init_transactions refused for authorisation is PublishRefused: no retry can help."""
        # Arrange
        rig = Rig()
        rig.next_fake.fail["init_transactions"] = _error(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        # Act / Assert
        with pytest.raises(PublishRefused):
            await rig.publisher(0).start()
        await rig.txns.close()

    async def test_an_unexpected_error_is_an_unknown_outcome_and_the_committer_goes_on(self):
        """A bug inside the transaction (here produce raising TypeError) settles the batch as
        retryable, discards the producer, and the next batch commits on a new one."""
        # Arrange
        rig = Rig()
        p0 = rig.publisher(0)
        await p0.start()
        broken = rig.made[0]

        def bug(*args, **kwargs):
            raise TypeError("a bug")
        broken.produce = bug
        # Act
        with pytest.raises(RetryablePublishError):
            await asyncio.wait_for(p0.publish(_records(0), p0.tp, 1), timeout=5)
        await p0.restart()
        await asyncio.wait_for(p0.publish(_records(0), p0.tp, 1), timeout=5)
        await rig.txns.close()
        # Assert
        assert len(rig.made) == 2
        assert [t["offsets"] for t in rig.made[1].transactions] == [[("in", 0, 1)]]
