"""The worker loop's ports: what it needs from PostgreSQL, Kafka and time, and nothing more.

Each has a real adapter (``batch.BatchCommitter``; ``publisher.PartitionPublisher`` and aiokafka's
consumer, or ``rdkafka_publisher`` and ``rdkafka_consumer``; ``SystemClock``) wired by
``bootstrap.bootstrap``, and an in-memory fake in
``tests/support/loop_fakes.py`` for the service tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener
from aiokafka.structs import TopicPartition

from riskgate.records import InRecord, OutRecord


class Clock(Protocol):
    """Wall time for decisions, monotonic time for bounds, and sleeping."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock; ``wall`` is injectable so that tests can pin the decisions' time."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.now = wall

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class BatchTransaction(Protocol):
    """One PostgreSQL transaction over one input partition (steps 1-3 of the commit)."""

    async def lock_progress(self) -> tuple[int, str | None]:
        """Lock the progress row: the last stored offset (-1 if none) and the halt reason."""
        ...

    async def stored_outputs(self, records: Sequence[InRecord]) -> list[OutRecord]:
        """The outputs stored for ``records`` (all at or below the progress), in offset order."""
        ...

    async def compute(self, records: Sequence[InRecord], now: float) -> list[OutRecord]:
        """Decide ``records`` (all above the progress), store the results, return the outputs."""
        ...

    async def set_progress(self, offset: int) -> None: ...


class StateStore(Protocol):
    """What the commit and the partition set-up need from PostgreSQL. Faults surface as
    RetryableStateError; a stored halt as PartitionHalted."""

    def transaction(self, topic: str, partition: int) -> AbstractAsyncContextManager[BatchTransaction]:
        """Commits on a clean exit, rolls back on an error."""
        ...

    async def check_progress(self, topic: str, partition: int, committed: int | None) -> None: ...

    async def halt(self, topic: str, partition: int, reason: str) -> None: ...

    async def still_halted(self, topic: str, candidates: list[int]) -> set[int]: ...


class Publisher(Protocol):
    """The transactional publishing of one input partition: its own producer (aiokafka), or
    its share of the worker's one producer (librdkafka)."""

    txn_id: str

    async def start(self) -> None:
        """Init transactions: fences every older producer with this transactional id."""
        ...

    async def restart(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int) -> None:
        """``records`` and the consumer offset ``next_offset`` in one Kafka transaction."""
        ...


class GroupConsumer(Protocol):
    """The part of aiokafka's group consumer the loop uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Any]]: ...

    def assignment(self) -> set[TopicPartition]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    async def committed(self, partition: TopicPartition) -> int | None: ...

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...


PublisherFactory = Callable[[TopicPartition], Publisher]
ConsumerFactory = Callable[[ConsumerRebalanceListener], GroupConsumer]
