"""The librdkafka client's fencing rule (docs/kafka-clients.md), against the real broker.

With one KIP-447 producer per worker, a zombie is fenced by the group coordinator: its offset
commit carries a generation the group has left behind, so its transaction can only abort.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.structs import TopicPartition
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from riskgate.errors import RetryablePublishError
from riskgate.kafka.clients import confluent_config
from riskgate.records import OutRecord
from riskgate.worker.rdkafka_publisher import WorkerTransactions
from tests.support.kafka import collect, produce, topics

pytestmark = [pytest.mark.integration, pytest.mark.client_mechanism]


def _member(s, deadline_s: float = 30.0) -> Consumer:
    """A group member of ``s.group_id`` on decisions.proposed, once it has its assignment."""
    consumer = Consumer({**confluent_config(s), "group.id": s.group_id, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": 6000,
                         "partition.assignment.strategy": "range"})
    consumer.subscribe([s.topics.proposed])
    for _ in range(int(deadline_s / 0.5)):
        consumer.poll(0.5)
        if consumer.assignment():
            return consumer
    consumer.close()
    raise AssertionError("no assignment before the deadline")


def _committed(s, partition: int) -> int:
    from confluent_kafka import ConsumerGroupTopicPartitions
    from confluent_kafka import TopicPartition as RdTopicPartition
    admin = AdminClient(confluent_config(s))
    request = ConsumerGroupTopicPartitions(s.group_id, [RdTopicPartition(s.topics.proposed, partition)])
    found = admin.list_consumer_group_offsets([request])[s.group_id].result(timeout=15)
    return found.topic_partitions[0].offset


class TestGenerationFence:
    async def test_a_zombie_with_a_stale_generation_publishes_nothing_and_the_heir_publishes_once(
            self, test_settings):
        """A batch sent with the group metadata of a member that has left aborts (nothing is seen
        and the offset stays); the same producer with the current member's metadata commits once."""
        s = test_settings.model_copy(update={"partitions": 1})
        async with topics(s):
            await produce(s, s.topics.proposed, [(b"k", b"{}")])
            old = _member(s)
            stale = old.consumer_group_metadata()
            old.close()  # leaves the group: its member id and generation are gone
            heir = _member(s)
            current = heir.consumer_group_metadata()
            metadata = {"now": stale}
            txns = WorkerTransactions(s, f"{s.transactional_id_prefix}-w-fence", lambda: metadata["now"])
            tp = TopicPartition(s.topics.proposed, 0)
            try:
                await txns.start()
                with pytest.raises(RetryablePublishError):
                    await txns.publish([OutRecord(s.topics.targets, b"k", b'{"zombie": true}')], tp, 1)
                offset_after_zombie = await asyncio.to_thread(_committed, s, 0)
                metadata["now"] = current
                await txns.start()  # after an aborted transaction: the same producer, usable
                await txns.publish([OutRecord(s.topics.targets, b"k", b'{"heir": true}')], tp, 1)
                seen = await collect(s, s.topics.targets, 1, deadline_s=20, settle_s=2)
                offset_after_heir = await asyncio.to_thread(_committed, s, 0)
            finally:
                await txns.close()
                heir.close()
        assert offset_after_zombie < 0  # nothing committed (librdkafka's "no offset")
        assert [v for _, v in seen] == [{"heir": True}]
        assert offset_after_heir == 1
