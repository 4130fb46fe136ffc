"""Read risk.override_stats back: the highest revision of each window of one strategy.

Each request reads the strategy's partition (murmur2 of the key, as the stats process's
producer picks it) with read_committed, from the first record written at or after ``since`` to
the end offset the partition had when the request started. A window's revisions are all
written after its end, so none written before ``since`` can belong to a window that starts at
or after it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import orjson
import structlog
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition
from pydantic import ValidationError

from riskgate.contracts.outputs import OverrideStats
from riskgate.errors import RetryableError
from riskgate.kafka.access import TopicAccessDenied
from riskgate.kafka.clients import kafka_consumer
from riskgate.settings import Settings
from riskgate.worker.inputs import partitions_of

log = structlog.get_logger("riskgate.stats")

_FIELDS = frozenset(OverrideStats.model_fields)


class StatsUnavailable(RetryableError):
    """risk.override_stats cannot be read now (broker down, topic missing, too slow)."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def decode_stats(value: bytes | None) -> OverrideStats | None:
    """A record of risk.override_stats, ignoring fields a newer minor version added; None when
    it is not one."""
    try:
        body = orjson.loads(value or b"")
        known = {k: v for k, v in body.items() if k in _FIELDS}
        return OverrideStats.model_validate_json(orjson.dumps(known))
    except (orjson.JSONDecodeError, AttributeError, ValidationError):
        return None


def latest_revisions(records: list[OverrideStats]) -> list[OverrideStats]:
    """The highest revision of each window, ordered by window start."""
    latest: dict[object, OverrideStats] = {}
    for record in records:
        seen = latest.get(record.window_id)
        if seen is None or record.revision > seen.revision:
            latest[record.window_id] = record
    return sorted(latest.values(), key=lambda r: (r.window_start, r.window_size_s))


class TopicOverrideStats:
    """The override statistics as risk.override_stats says them (a service of ``riskgate api``;
    nothing to start: each request opens its own read)."""

    def __init__(self, settings: Settings, deadline_s: float = 10.0) -> None:
        self._settings = settings
        self.topic = settings.topics.override_stats
        self._deadline_s = deadline_s

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def windows(self, strategy_id: str, since: datetime, until: datetime,
                      window_size_s: int) -> list[OverrideStats]:
        """The latest revision of every window of ``window_size_s`` of the strategy that lies
        within [since, until)."""
        try:
            async with asyncio.timeout(self._deadline_s):
                found = await self._read(strategy_id.encode(), since)
        except TimeoutError:
            raise StatsUnavailable(f"reading {self.topic} took over {self._deadline_s:g} s") from None
        except KafkaError as exc:
            raise StatsUnavailable(f"reading {self.topic} at {self._settings.bootstrap_servers}: "
                                   f"{type(exc).__name__}: {exc}") from None
        return [r for r in latest_revisions(found)
                if r.strategy_id == strategy_id and r.window_size_s == window_size_s
                and r.window_start >= since and r.window_end <= until]

    async def _read(self, key: bytes, since: datetime) -> list[OverrideStats]:
        consumer = kafka_consumer(self._settings, group_id=None,
                                    enable_auto_commit=False, isolation_level="read_committed",
                                    request_timeout_ms=int(self._deadline_s * 1000))
        await consumer.start()
        try:
            try:
                partitions = await partitions_of(self._settings, self.topic)
            except TopicAccessDenied as exc:
                raise StatsUnavailable(str(exc)) from None
            except RuntimeError:
                raise StatsUnavailable(f"topic {self.topic!r} does not exist; run `riskgate "
                                       f"topics create` and `riskgate stats`") from None
            tp = TopicPartition(self.topic, partition_for(key, len(partitions)))
            consumer.assign([tp])
            first = (await consumer.offsets_for_times({tp: int(since.timestamp() * 1000)}))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            if first is None or first.offset >= end:
                return []
            consumer.seek(tp, first.offset)
            out: list[OverrideStats] = []
            while await consumer.position(tp) < end:
                for record in (await consumer.getmany(tp, timeout_ms=200)).get(tp, []):
                    if record.key != key or record.offset >= end:
                        continue
                    decoded = decode_stats(record.value)
                    if decoded is None:
                        log.warning("override_stats_unreadable", offset=record.offset)
                    else:
                        out.append(decoded)
            return out
        finally:
            await consumer.stop()
