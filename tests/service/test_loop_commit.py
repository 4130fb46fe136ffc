"""The one commit step (riskgate.worker.commit) against the fake store and publisher."""

from __future__ import annotations

import pytest
from aiokafka.structs import TopicPartition

from riskgate.errors import OwnershipLost, PartitionHalted, PublisherFenced, RetryablePublishError
from riskgate.records import InRecord
from riskgate.worker.commit import PartitionCommit
from tests.support.loop_fakes import FakeBroker, FakeClock, FakePublisher, FakeStore

pytestmark = pytest.mark.service

TP = TopicPartition("decisions", 0)


def records(first: int, count: int) -> list[InRecord]:
    return [InRecord(TP.topic, TP.partition, o, b"k", b"v%d" % o) for o in range(first, first + count)]


async def started(broker: FakeBroker, txn_id: str = "x-0") -> FakePublisher:
    publisher = FakePublisher(broker, txn_id)
    await publisher.start()
    return publisher


class TestPartitionCommit:
    async def test_a_batch_is_stored_then_published_with_its_offset_in_one_transaction(self):
        """The outputs and the next offset commit together, the progress and the floor move."""
        broker, store = FakeBroker(), FakeStore()
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now)

        outputs = await commit.commit(records(0, 3))

        assert [o.value for o in broker.published] == [o.value for o in outputs] == [
            b"0:v0", b"1:v1", b"2:v2"]
        assert broker.commits == [(TP, 3)]
        assert store.progress[(TP.topic, 0)] == 2 and commit.floor == 3

    async def test_records_below_the_floor_are_never_published_again(self):
        """A retry that hands over records already committed in this epoch publishes only the rest."""
        broker, store = FakeBroker(), FakeStore()
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now)
        await commit.commit(records(0, 2))

        await commit.commit(records(0, 4))

        assert [o.value for o in broker.published] == [b"0:v0", b"1:v1", b"2:v2", b"3:v3"]
        assert broker.commits == [(TP, 2), (TP, 4)]

    async def test_outputs_stored_before_a_lost_kafka_commit_are_republished_not_recomputed(self):
        """After a crash between the two transactions, the stored bytes are published once."""
        broker, store = FakeBroker(), FakeStore()
        await PartitionCommit(TP, store, None, FakeClock().now).commit(records(0, 2))  # crash here
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now)

        await commit.commit(records(0, 3))

        assert [o.value for o in broker.published] == [b"0:v0", b"1:v1", b"2:v2"]
        assert all(n == 1 for n in store.computed.values())

    async def test_a_revoked_epoch_stores_but_publishes_nothing(self):
        """The ownership epoch is checked after PostgreSQL commits and before Kafka is touched."""
        broker, store = FakeBroker(), FakeStore()
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now, epoch=1,
                                 owns=lambda tp, epoch: epoch == 2)

        with pytest.raises(OwnershipLost):
            await commit.commit(records(0, 2))

        assert broker.published == [] and broker.publish_calls == 0
        assert store.progress[(TP.topic, 0)] == 1 and commit.floor == 0

    async def test_a_halted_partition_stores_nothing(self):
        """A halt stored in the progress row stops the commit at step 1."""
        broker, store = FakeBroker(), FakeStore()
        store.halts[(TP.topic, 0)] = "an operator looks"
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now)

        with pytest.raises(PartitionHalted):
            await commit.commit(records(0, 1))

        assert store.outputs == {} and broker.published == []

    async def test_a_second_publisher_with_the_same_id_fences_the_first(self):
        """Starting a producer with a transactional id fences every older one with that id."""
        broker, store = FakeBroker(), FakeStore()
        zombie = await started(broker)
        await started(broker)
        commit = PartitionCommit(TP, store, zombie, FakeClock().now)

        with pytest.raises(PublisherFenced):
            await commit.commit(records(0, 1))

        assert broker.published == []

    async def test_a_commit_applied_without_an_answer_moves_the_floor_past_it_on_resync(self):
        """The re-fetched committed offset shows the batch went through: it is not sent twice."""
        broker, store = FakeBroker(), FakeStore()
        commit = PartitionCommit(TP, store, await started(broker), FakeClock().now)
        broker.faults.append("applied")
        with pytest.raises(RetryablePublishError):
            await commit.commit(records(0, 2))

        commit.resynced(broker.committed[TP])
        await commit.commit(records(0, 3))

        assert [o.value for o in broker.published] == [b"0:v0", b"1:v1", b"2:v2"]
