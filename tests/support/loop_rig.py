"""The real DecisionLoop over the fakes of tests/support/loop_fakes.py, driven like a group."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.structs import TopicPartition

from riskgate.worker.app import DecisionLoop
from tests.support.loop_fakes import FakeBroker, FakeClock, FakeConsumer, FakePublisher, FakeStore


async def until(check, deadline_s: float = 5.0, what: str = "condition"):
    """Wait (in real time) until ``check()`` is truthy; fail at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not (result := check()):
        if loop.time() > end:
            raise AssertionError(f"{what} not reached within {deadline_s} s")
        await asyncio.sleep(0.002)
    return result


class LoopRig:
    """A real DecisionLoop over the fakes; the test drives assignments like the group would."""

    def __init__(self, settings: Any, partitions: int = 2, revoke_grace_s: float = 5.0) -> None:
        self.s = settings
        self.topic = settings.topics.proposed
        self.broker, self.store, self.clock = FakeBroker(), FakeStore(), FakeClock()
        self.consumer = FakeConsumer(self.broker, self.topic, partitions)
        self.listener: Any = None
        self.publishers: list[FakePublisher] = []
        self.loop = DecisionLoop(settings, self.store, self.clock, consumers=self._consumer,
                                 publishers=self._publisher, revoke_grace_s=revoke_grace_s)
        self.task: asyncio.Task | None = None

    def _consumer(self, listener: Any) -> FakeConsumer:
        self.listener = listener
        return self.consumer

    def _publisher(self, tp: TopicPartition) -> FakePublisher:
        made = FakePublisher(self.broker, f"x-{tp.topic}-{tp.partition}")
        self.publishers.append(made)
        return made

    def tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def __aenter__(self) -> LoopRig:
        self.task = asyncio.create_task(self.loop.run())
        await until(lambda: self.listener is not None, what="consumer started")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.loop.request_stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=10)

    async def assign(self, *partitions: int) -> None:
        tps = [self.tp(p) for p in partitions]
        self.consumer.assign(tps)
        await self.listener.on_partitions_assigned(tps)
        await until(lambda: {tp for tp in tps} <= set(self.loop.owned), what="set up")

    async def revoke(self, *partitions: int) -> None:
        tps = [self.tp(p) for p in partitions]
        await self.listener.on_partitions_revoked(tps)
        self.consumer.revoke(tps)

    def produce(self, partition: int, count: int, start: int = 0) -> list[bytes]:
        values = [b"d%d-%d" % (partition, i) for i in range(start, start + count)]
        self.broker.produce(self.tp(partition), *values)
        return values

    def seen(self, partition: int) -> list[bytes]:
        """What read_committed readers see for ``partition``'s inputs, as input values."""
        tag = b"d%d-" % partition
        return [o.value.split(b":", 1)[1] for o in self.broker.published
                if o.value.split(b":", 1)[1].startswith(tag)]
