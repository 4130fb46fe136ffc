"""In-memory fakes of the worker loop's ports (riskgate.worker.ports) for the service tests.

``FakeBroker`` holds the input log, the group's committed offsets, the transactional ids'
epochs and what ``read_committed`` readers see. A ``FakePublisher`` started with a transactional
id fences every earlier one with that id, as ``init_transactions`` does. ``FakeStore`` keeps the
progress rows, stored outputs and halts, and applies a transaction's writes only on its commit.
Each records any breach of the one-in-flight-per-partition rule in ``violations``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import TopicPartition

from riskgate.errors import (
    PartitionHalted,
    PublisherFenced,
    RetryablePublishError,
    RetryableStateError,
)
from riskgate.records import InRecord, OutRecord

OUT = "out"


class FakeClock:
    """Wall and monotonic time that move only when someone sleeps."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        await asyncio.sleep(0.001)  # let the other tasks run, in real time


@dataclass(frozen=True)
class Raw:
    """A consumed record as aiokafka hands it out."""

    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = -1


@dataclass
class FakeBroker:
    logs: dict[TopicPartition, list[Raw]] = field(default_factory=lambda: defaultdict(list))
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)
    published: list[OutRecord] = field(default_factory=list)  # what read_committed readers see
    commits: list[tuple[TopicPartition, int]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: list[Exception | str] = field(default_factory=list)  # next publishes: raise, or "applied"
    gate: asyncio.Event | None = None  # when set, publishes wait for it
    publishing: set[str] = field(default_factory=set)
    publish_calls: int = 0

    def produce(self, tp: TopicPartition, *values: bytes) -> None:
        log = self.logs[tp]
        for v in values:
            log.append(Raw(len(log), v[:4], v, timestamp=1))


class FakePublisher:
    """A transactional producer on the fake broker."""

    def __init__(self, broker: FakeBroker, txn_id: str) -> None:
        self._broker, self.txn_id = broker, txn_id
        self._epoch: int | None = None

    async def start(self) -> None:
        self._epoch = self._broker.epochs.get(self.txn_id, 0) + 1
        self._broker.epochs[self.txn_id] = self._epoch  # fences every earlier producer

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def close(self) -> None:
        self._epoch = None

    async def publish(self, records: Sequence[OutRecord], tp: TopicPartition, next_offset: int) -> None:
        b = self._broker
        b.publish_calls += 1
        if self._epoch is None:
            raise RetryablePublishError(f"{self.txn_id}: publisher is closed")
        if self.txn_id in b.publishing:
            b.violations.append(f"two Kafka transactions in flight on {self.txn_id}")
        b.publishing.add(self.txn_id)
        try:
            if b.gate is not None:
                await b.gate.wait()
            if b.epochs.get(self.txn_id) != self._epoch:
                raise PublisherFenced(f"{self.txn_id}: fenced by a newer owner")
            fault = b.faults.pop(0) if b.faults else None
            if isinstance(fault, Exception):
                raise fault
            b.published.extend(records)
            b.committed[tp] = next_offset
            b.commits.append((tp, next_offset))
            if fault == "applied":  # committed, but the answer was lost
                raise RetryablePublishError(f"{self.txn_id}: outcome unknown")
        finally:
            b.publishing.discard(self.txn_id)


class FakeConsumer:
    """The group consumer: positions, pauses, seeks and committed offsets on the fake broker."""

    def __init__(self, broker: FakeBroker, topic: str, partitions: int = 4) -> None:
        self._broker, self._topic, self._count = broker, topic, partitions
        self.assigned: set[TopicPartition] = set()
        self.position: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned |= set(tps)
        for tp in tps:
            self.position[tp] = self._broker.committed.get(tp, 0)

    def revoke(self, tps: list[TopicPartition]) -> None:
        self.assigned -= set(tps)
        self.paused -= set(tps)

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        out: dict[TopicPartition, list[Any]] = {}
        left = max_records or 10**9
        for tp in sorted(self.assigned - self.paused):
            records = self._broker.logs[tp][self.position[tp]:][:left]
            if records:
                out[tp] = records
                self.position[tp] = records[-1].offset + 1
                left -= len(records)
        await asyncio.sleep(0 if out else 0.002)
        return out

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.position[partition] = offset

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused -= set(partitions)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self._broker.committed.get(partition)

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in partitions}

    def highwater(self, partition: TopicPartition) -> int | None:
        return len(self._broker.logs[partition])

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(self._count)) if topic == self._topic else None


class _FakeTx:
    def __init__(self, store: FakeStore, key: tuple[str, int]) -> None:
        self._store, self._key = store, key
        self.progress: int | None = None
        self.outputs: dict[int, list[OutRecord]] = {}

    async def lock_progress(self) -> tuple[int, str | None]:
        return self._store.progress.get(self._key, -1), self._store.halts.get(self._key)

    async def stored_outputs(self, records: Sequence[InRecord]) -> list[OutRecord]:
        return [o for r in records for o in self._store.outputs.get((*self._key, r.offset), [])]

    async def compute(self, records: Sequence[InRecord], now: float) -> list[OutRecord]:
        await self._store.slow(self._key[1])
        for r in records:
            self._store.computed[(*self._key, r.offset)] += 1
            self.outputs[r.offset] = [OutRecord(OUT, r.key, b"%d:" % r.offset + (r.value or b""))]
        return [o for r in records for o in self.outputs[r.offset]]

    async def set_progress(self, offset: int) -> None:
        self.progress = offset


class FakeStore:
    """PostgreSQL's progress rows, stored outputs and halts, with injectable faults."""

    def __init__(self) -> None:
        self.progress: dict[tuple[str, int], int] = {}
        self.halts: dict[tuple[str, int], str] = {}
        self.outputs: dict[tuple[str, int, int], list[OutRecord]] = {}
        self.computed: defaultdict[tuple[str, int, int], int] = defaultdict(int)
        self.faults: list[Exception] = []  # the next transactions raise these
        self.delays: dict[int, asyncio.Event] = {}  # partition -> compute waits for the event
        self.violations: list[str] = []
        self.open: set[tuple[str, int]] = set()
        self.transactions = 0

    async def slow(self, partition: int) -> None:
        gate = self.delays.get(partition)
        if gate is not None:
            await gate.wait()

    @contextlib.asynccontextmanager
    async def transaction(self, topic: str, partition: int) -> AsyncIterator[_FakeTx]:
        key = (topic, partition)
        if key in self.open:
            self.violations.append(f"two PostgreSQL transactions in flight on {key}")
        self.open.add(key)
        self.transactions += 1
        try:
            if self.faults:
                raise self.faults.pop(0)
            tx = _FakeTx(self, key)
            yield tx
            # COMMIT: the writes become visible only now.
            for offset, outs in tx.outputs.items():
                self.outputs[(topic, partition, offset)] = outs
            if tx.progress is not None:
                self.progress[key] = tx.progress
        finally:
            self.open.discard(key)

    async def check_progress(self, topic: str, partition: int, committed: int | None) -> None:
        if self.faults:
            raise self.faults.pop(0)
        key = (topic, partition)
        if key in self.halts:
            raise PartitionHalted(self.halts[key])
        if committed is not None and self.progress.get(key, -1) < committed - 1:
            self.halts[key] = "stored progress is behind the committed offset"
            raise PartitionHalted(self.halts[key])

    async def halt(self, topic: str, partition: int, reason: str) -> None:
        if self.faults:
            raise self.faults.pop(0)
        self.halts[(topic, partition)] = reason

    async def still_halted(self, topic: str, candidates: list[int]) -> set[int]:
        return {p for p in candidates if (topic, p) in self.halts}


def state_fault() -> RetryableStateError:
    return RetryableStateError("ConnectionRefusedError: simulated")

