"""Ownership changes in the worker loop: revocations, re-assignment mid-commit, stopping."""

from __future__ import annotations

import asyncio

import pytest

from riskgate.settings import Settings
from tests.support.loop_rig import LoopRig, until

pytestmark = pytest.mark.service

SETTINGS = Settings().model_copy(update={"batch_max_records": 10})


class TestRevocation:
    async def test_a_revocation_waits_only_for_the_revoked_partitions_commits(self):
        """Revoking an idle partition returns while another's commit is stuck; revoking the busy
        one waits for its commit, which publishes before the partition is let go."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0, 1)
            rig.store.delays[0] = gate = asyncio.Event()
            rig.produce(0, 2)
            await until(lambda: rig.store.open, what="partition 0 commit in flight")

            await asyncio.wait_for(rig.revoke(1), timeout=1)
            revoking = asyncio.create_task(rig.revoke(0))
            await asyncio.sleep(0.05)
            waited = not revoking.done()
            gate.set()
            await asyncio.wait_for(revoking, timeout=5)

        assert waited
        assert rig.seen(0) == [b"d0-0", b"d0-1"]
        assert rig.loop.owned == []

    async def test_a_partition_revoked_mid_commit_and_assigned_back_publishes_each_output_once(self):
        """A Kafka transaction cut off by the revocation is redone by the next epoch from the
        stored outputs: nothing twice, nothing skipped, nothing recomputed."""
        rig = LoopRig(SETTINGS, revoke_grace_s=0.05)
        async with rig:
            await rig.assign(0)
            rig.broker.gate = asyncio.Event()  # the publish hangs
            rig.produce(0, 3)
            await until(lambda: rig.broker.publishing, what="publish in flight")

            await rig.revoke(0)  # the grace runs out: the commit is cut off
            rig.broker.gate = None
            rig.produce(0, 2, start=3)
            await rig.assign(0)
            await until(lambda: len(rig.seen(0)) == 5, what="all published")
            await asyncio.sleep(0.05)

        assert rig.seen(0) == [b"d0-%d" % i for i in range(5)]
        assert all(n == 1 for n in rig.store.computed.values()) and len(rig.store.computed) == 5
        offsets = [o for _, o in rig.broker.commits]
        assert offsets == sorted(offsets) and offsets[-1] == 5
        assert rig.store.violations == [] and rig.broker.violations == []

    async def test_a_late_commit_of_an_old_epoch_cannot_publish(self):
        """The epoch is checked before publishing: an old epoch is never current again."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            old = rig.loop._pipelines[rig.tp(0)].epoch
            await rig.revoke(0)
            await rig.assign(0)

            current = rig.loop.owns(rig.tp(0), old)

        assert current is False


class TestStop:
    async def test_a_stop_lets_the_commit_in_flight_finish(self):
        """SIGTERM's stop request ends the loop only after the batch in flight is published."""
        rig = LoopRig(SETTINGS)
        async with rig:
            await rig.assign(0)
            rig.store.delays[0] = gate = asyncio.Event()
            rig.produce(0, 2)
            await until(lambda: rig.store.open, what="commit in flight")
            rig.loop.request_stop()
            await asyncio.sleep(0.05)
            running = not rig.task.done()
            gate.set()

        assert running
        assert rig.seen(0) == [b"d0-0", b"d0-1"]
