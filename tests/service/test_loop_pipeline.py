"""One pipeline per partition: independence, adaptive batches, back-pressure, crash and back-off."""

from __future__ import annotations

import asyncio

import pytest

from riskgate.errors import RetryablePublishError
from riskgate.settings import Settings
from tests.support.loop_fakes import state_fault
from tests.support.loop_rig import LoopRig, until

pytestmark = pytest.mark.service

SETTINGS = Settings().model_copy(update={"batch_max_records": 10})


class TestExactlyOnce:
    async def test_every_record_is_published_once_and_commits_run_in_offset_order(self):
        """Across two partitions, each input's output appears once, and each partition's Kafka
        commits carry growing offsets."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0, 1)
            sent = {p: rig.produce(p, 25) for p in (0, 1)}

            await until(lambda: all(len(rig.seen(p)) == 25 for p in (0, 1)), what="all published")

        assert {p: rig.seen(p) for p in (0, 1)} == sent
        for p in (0, 1):
            offsets = [o for tp, o in rig.broker.commits if tp.partition == p]
            assert offsets == sorted(offsets) and offsets[-1] == 25
        assert rig.store.violations == [] and rig.broker.violations == []


class TestIndependentPartitions:
    async def test_a_slow_partition_does_not_delay_another(self):
        """While partition 0's commit waits on PostgreSQL, partition 1 keeps publishing."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0, 1)
            rig.store.delays[0] = gate = asyncio.Event()
            rig.produce(0, 3)
            rig.produce(1, 3)

            await until(lambda: len(rig.seen(1)) == 3, what="partition 1 published")
            blocked = rig.seen(0)
            gate.set()
            await until(lambda: len(rig.seen(0)) == 3, what="partition 0 published")

        assert blocked == []

    async def test_records_arriving_during_a_commit_wait_for_one_commit_and_form_the_next_batch(self):
        """The next batch is whatever accumulated meanwhile, up to batch_max_records."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.store.delays[0] = gate = asyncio.Event()
            rig.produce(0, 1)
            await until(lambda: rig.store.open, what="the first commit in flight")
            rig.produce(0, 14, start=1)
            await asyncio.sleep(0.05)
            gate.set()

            await until(lambda: len(rig.seen(0)) == 15, what="all published")

        assert [o for _, o in rig.broker.commits] == [1, 11, 15]

    async def test_a_full_buffer_pauses_its_partition_until_it_drains(self):
        """Back-pressure: the consumer stops fetching a partition whose pipeline is full."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.store.delays[0] = gate = asyncio.Event()
            rig.produce(0, 60)

            await until(lambda: rig.tp(0) in rig.consumer.paused, what="paused")
            fetched_while_full = rig.consumer.position[rig.tp(0)]
            gate.set()
            await until(lambda: len(rig.seen(0)) == 60, what="all published")

        assert fetched_while_full < 60
        assert rig.tp(0) not in rig.consumer.paused


class TestBackOff:
    async def test_a_database_fault_backs_off_then_publishes_once(self):
        """PostgreSQL faults retry the same records after 0.2 s, 0.4 s ...; readiness dips."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.store.faults.extend([state_fault(), state_fault()])
            rig.produce(0, 2)

            await until(lambda: not rig.loop.state_ok, what="state not ok")
            await until(lambda: len(rig.seen(0)) == 2, what="published")

        assert rig.seen(0) == [b"d0-0", b"d0-1"]
        assert [d for d in rig.clock.slept if d in (0.2, 0.4)][:2] == [0.2, 0.4]
        assert rig.loop.state_ok

    async def test_a_database_fault_at_set_up_is_retried_and_readiness_comes_back(self):
        """A progress check that fails at assignment is retried; readiness recovers with no traffic."""
        async with LoopRig(SETTINGS) as rig:
            rig.store.faults.append(state_fault())
            await rig.assign(0)

            await until(lambda: rig.loop.state_ok and rig.store.faults == [], what="state ok")
            rig.produce(0, 1)
            await until(lambda: rig.seen(0), what="published")

        assert rig.clock.slept[:1] == [0.2]

    async def test_an_unknown_publish_outcome_resyncs_and_publishes_once(self):
        """A lost Kafka commit re-creates the producer, re-seeks, republishes the stored bytes."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.broker.faults.append(RetryablePublishError("timeout"))
            rig.produce(0, 3)

            await until(lambda: len(rig.seen(0)) == 3, what="published")

        assert rig.seen(0) == [b"d0-0", b"d0-1", b"d0-2"]
        assert rig.broker.epochs[f"x-{rig.topic}-0"] == 2  # restarted once: fenced its past
        assert all(n == 1 for n in rig.store.computed.values())

    async def test_a_commit_applied_without_an_answer_is_not_published_again(self):
        """After the resync the committed offset is past the batch: the floor skips it."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.broker.faults.append("applied")
            rig.produce(0, 3)
            await until(lambda: rig.broker.committed.get(rig.tp(0)) == 3, what="committed")
            rig.produce(0, 1, start=3)

            await until(lambda: len(rig.seen(0)) == 4, what="published")
            await asyncio.sleep(0.05)

        assert rig.seen(0) == [b"d0-0", b"d0-1", b"d0-2", b"d0-3"]
