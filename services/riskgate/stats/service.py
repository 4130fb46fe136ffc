"""``riskgate stats``: count risk.actions into windows and publish them on risk.override_stats.

One process reads every partition of ``risk.actions`` (read_committed). It assigns them itself
and uses its consumer group only to store offsets: a window's counts need every partition, so
a second process must not split them. Every ``commit_interval_s`` one Kafka transaction
(``checkpoint``) carries, in this order:

1. the window revisions that became due (``OverrideWindows.advance``) to risk.override_stats;
2. the open windows that changed, the final ones as tombstones, and the moved horizons, to the
   compacted changelog topic;
3. the positions reached on risk.actions, as the stats group's committed offsets.

Why a kill -9 at any point loses and duplicates nothing: a session starts by creating the
producer with the deployment's one transactional id, which fences the previous process and
aborts its open transaction. Only then is the state read back (the changelog, read_committed,
to its end) and the consumer seeked to the committed offsets. Both are exactly what the last
committed transaction left, and so is what readers of risk.override_stats saw. Any failed or
uncertain checkpoint ends the session the same way, discarding the in-memory state.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from riskgate.errors import PublisherFenced, RetryableError
from riskgate.kafka.clients import kafka_consumer
from riskgate.settings import Settings
from riskgate.stats import codec
from riskgate.stats import metrics as m
from riskgate.stats.kafka import (
    Outgoing,
    checkpoint,
    checkpoint_producer,
    ensure_state_topic,
    read_to_end,
)
from riskgate.stats.settings import StatsSettings, stats_group_id, stats_transactional_id
from riskgate.stats.windows import US, OverrideWindows, Watermarks
from riskgate.worker.inputs import partitions_of

log = structlog.get_logger("riskgate.stats")


class StatsService:
    """The stats process: sessions of restore, follow and checkpoint until stopped."""

    def __init__(self, settings: Settings, stats: StatsSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.stats, self.clock = settings, stats, clock
        self.rules = stats.rules()
        self.group_id = stats_group_id(settings)
        self.state_topic = stats.state_topic_for(settings)
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, install_signals: bool = True) -> None:
        """Run sessions until SIGTERM; a fault starts a new session after a backoff. Raises
        PublisherFenced when another stats process took over."""
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
        backoff = 0.5
        while not self._stop.is_set():
            try:
                await self._session()
            except PublisherFenced:
                raise
            except (KafkaError, RetryableError, OSError, TimeoutError) as exc:
                m.SESSIONS.inc()
                log.warning("stats_session_failed", error=f"{type(exc).__name__}: {exc}",
                            retry_in_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 30.0)

    async def _session(self) -> None:
        s = self.settings
        await ensure_state_topic(s, self.state_topic)
        producer = checkpoint_producer(s, stats_transactional_id(s))
        consumer: AIOKafkaConsumer | None = None
        try:
            await producer.start()  # init_transactions: fences and resolves the previous process
            windows = OverrideWindows(self.rules, *codec.restore(
                await read_to_end(s, self.state_topic)))
            consumer = kafka_consumer(s, group_id=self.group_id,
                enable_auto_commit=False, isolation_level="read_committed",
                auto_offset_reset="earliest")
            await consumer.start()
            tps = [TopicPartition(s.topics.actions, p)
                   for p in await partitions_of(s, s.topics.actions)]
            consumer.assign(tps)
            committed = await self._seek(consumer, tps)
            log.info("stats_session_started", open_windows=len(windows.windows),
                     partitions=len(tps), committed={tp.partition: o for tp, o in committed.items()})
            await self._follow(consumer, producer, windows, tps, committed)
        finally:
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)

    @staticmethod
    async def _seek(consumer: AIOKafkaConsumer, tps: list[TopicPartition]
                    ) -> dict[TopicPartition, int]:
        committed: dict[TopicPartition, int] = {}
        for tp in tps:
            offset = await consumer.committed(tp)
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
                committed[tp] = offset
        return committed

    async def _follow(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                      windows: OverrideWindows, tps: list[TopicPartition],
                      committed: dict[TopicPartition, int]) -> None:
        loop = asyncio.get_running_loop()
        marks = Watermarks(tp.partition for tp in tps)
        interval = self.stats.commit_interval_s
        due = loop.time()
        while not self._stop.is_set():
            batches = await consumer.getmany(timeout_ms=int(interval * 1000), max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    self._count(windows, marks, tp.partition, record)
            if loop.time() >= due:
                await self._checkpoint(consumer, producer, windows, marks, tps, committed)
                due = loop.time() + interval
        await self._checkpoint(consumer, producer, windows, marks, tps, committed)

    def _count(self, windows: OverrideWindows, marks: Watermarks, partition: int, record) -> None:
        written_us = record.timestamp * 1000
        marks.saw(partition, written_us)
        m.ACTIONS.inc()
        try:
            tally = codec.tally(record.value)
        except codec.UndecodableAction as exc:
            m.UNDECODABLE.inc()
            log.warning("stats_undecodable_action", partition=partition, offset=record.offset,
                        error=str(exc))
            return
        for size in windows.add(tally, written_us):
            m.TOO_LATE.labels(str(size)).inc()

    async def _checkpoint(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                          windows: OverrideWindows, marks: Watermarks,
                          tps: list[TopicPartition], committed: dict[TopicPartition, int]) -> None:
        asked_us = round(self.clock() * US)
        ends = await consumer.end_offsets(tps)  # read_committed: the last stable offsets
        positions = {tp: await consumer.position(tp) for tp in tps}
        for tp in tps:
            if positions[tp] >= ends[tp]:
                marks.caught_up(tp.partition, asked_us)
        emissions = windows.advance(marks.value())
        stored, finalized, horizons = windows.drain()
        moved = {tp: pos for tp, pos in positions.items() if committed.get(tp) != pos}
        if not (emissions or stored or finalized or horizons or moved):
            return
        now_us = round(self.clock() * US)
        out, state = self.settings.topics.override_stats, self.state_topic
        records: list[Outgoing] = [(out, *codec.stats_bytes(e, self.rules.grace_us, now_us))
                                   for e in emissions]
        records += [(state, codec.window_key_bytes(k), codec.counts_bytes(c))
                    for k, c in stored.items()]
        records += [(state, codec.window_key_bytes(k), None) for k in finalized]
        records += [(state, codec.horizon_key_bytes(size), codec.horizon_bytes(end))
                    for size, end in horizons.items()]
        await checkpoint(producer, records, moved, self.group_id)
        committed.update(moved)
        m.CHECKPOINTS.inc()
        for e in emissions:
            m.EMITTED.labels(str(e.key.size_s), "close" if e.revision == 0 else "correction").inc()
        m.OPEN_WINDOWS.set(len(windows.windows))
        mark = marks.value()
        if mark is not None:
            m.WATERMARK_LAG.set(max(0.0, (now_us - mark) / US))
