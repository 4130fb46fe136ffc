"""Halts and fencing in the worker loop, against the fakes."""

from __future__ import annotations

import asyncio

import pytest

from riskgate.errors import PublishRefused, RetryablePublishError
from riskgate.settings import Settings
from tests.support.loop_rig import LoopRig, until

pytestmark = pytest.mark.service

SETTINGS = Settings().model_copy(update={"batch_max_records": 10, "publish_halt_after_s": 4.0,
                                         "fenced_recheck_s": 3.0, "halt_recheck_s": 0.5})


def key(rig: LoopRig, partition: int) -> tuple[str, int]:
    return (rig.topic, partition)


class TestHalts:
    async def test_a_refused_batch_halts_its_partition_and_stores_why(self):
        """A refusal halts at once (stored, for the next owner), and the other partition goes on."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0, 1)
            rig.broker.faults.append(PublishRefused("MessageSizeTooLargeError"))
            rig.produce(0, 1)

            await until(lambda: rig.loop.halted == [0], what="halted")
            rig.produce(1, 1)
            await until(lambda: rig.seen(1), what="partition 1 published")

        assert "MessageSizeTooLargeError" in rig.store.halts[key(rig, 0)]
        assert rig.seen(0) == []

    async def test_a_halt_lifted_by_an_operator_resumes_where_it_stopped(self):
        """Once the stored halt is gone, the partition resyncs and decides what waited."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.broker.faults.append(PublishRefused("TopicAuthorizationFailedError"))
            rig.produce(0, 2)
            await until(lambda: rig.loop.halted == [0], what="halted")

            del rig.store.halts[key(rig, 0)]
            await until(lambda: len(rig.seen(0)) == 2, what="published after the resume")

        assert rig.loop.halted == [] and rig.seen(0) == [b"d0-0", b"d0-1"]

    async def test_a_stored_halt_holds_the_partition_for_its_next_owner(self):
        """A partition halted by its last owner decides nothing here until resumed."""
        async with LoopRig(SETTINGS) as rig:
            rig.store.halts[key(rig, 0)] = "halted by the last owner"
            rig.produce(0, 1)
            await rig.assign(0)

            await until(lambda: rig.loop.halted == [0], what="halted at assignment")
            during = list(rig.broker.published)

        assert during == [] and rig.store.computed == {}

    async def test_progress_behind_the_committed_offset_halts(self):
        """Kafka committed past what PostgreSQL holds: the state was lost, so the partition halts."""
        async with LoopRig(SETTINGS) as rig:
            rig.broker.committed[rig.tp(0)] = 5
            rig.produce(0, 6)
            await rig.assign(0)

            await until(lambda: rig.loop.halted == [0], what="halted")

        assert "behind the committed offset" in rig.store.halts[key(rig, 0)]
        assert rig.broker.published == []

    async def test_failing_publishes_show_stuck_then_halt_after_the_bound(self):
        """Publishes failing for publish_halt_after_s back off 0.5 s, 1 s ... and then halt."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            rig.broker.faults.extend(RetryablePublishError("timeout") for _ in range(20))
            rig.produce(0, 1)

            stuck = await until(lambda: rig.loop.stuck, what="stuck")
            await until(lambda: rig.loop.halted == [0], what="halted")

        assert stuck == [0]
        assert "publishing has failed for" in rig.store.halts[key(rig, 0)]
        waits = [d for d in rig.clock.slept if d >= 0.5]
        assert waits[:3] == [0.5, 1.0, 2.0]


class TestFencing:
    async def test_a_fenced_partition_is_dropped_then_taken_back_and_answered_once(self):
        """A usurper's producer fences ours: we stop instead of fencing back, and once
        fenced_recheck_s has passed with the partition still ours, we take it up again."""
        async with LoopRig(SETTINGS) as rig:
            await rig.assign(0)
            usurper = rig._publisher(rig.tp(0))
            await usurper.start()
            rig.produce(0, 2)

            await until(lambda: rig.tp(0) in rig.consumer.paused and rig.loop.owned == [],
                        what="dropped")
            await asyncio.sleep(0.05)
            epoch_while_dropped = rig.broker.epochs[usurper.txn_id]
            rig.clock.t += SETTINGS.fenced_recheck_s
            await until(lambda: len(rig.seen(0)) == 2, what="published after taking it back")

        assert epoch_while_dropped == 2  # ours never fenced the usurper back while dropped
        assert rig.seen(0) == [b"d0-0", b"d0-1"]
