"""The config in force, rebuilt from the stored history and the topic read to its end.

Either source alone can be short: the topic forgets superseded records once compacted, and the
history lacks a record no worker has read yet (or one published by hand). Together they hold
every version; applied in version order with ``ConfigBook.apply``, as replay does, they give the
book a worker has once it has read the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import TopicPartition

from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import BlackSwanState, RiskConfigEvent
from riskgate.control.model import ConfigTopicInvalid
from riskgate.core import LimitsError
from riskgate.errors import PoisonMessage
from riskgate.kafka.access import TopicAccessDenied
from riskgate.kafka.admin import REQUEST_TIMEOUT_MS, config_topic_problem
from riskgate.kafka.clients import kafka_consumer
from riskgate.settings import Settings
from riskgate.store import config_writes as store
from riskgate.worker import codec
from riskgate.worker.globals import ConfigBook, EmergencyState, next_emergency
from riskgate.worker.inputs import partitions_of

_MAX_BYTES = 1 << 30  # records already passed their size check when written


@dataclass(frozen=True, slots=True)
class Rebuilt:
    book: ConfigBook
    highest: int  # the highest version seen anywhere, refused and unreadable records included


async def read_to_end(settings: Settings, topic: str, single_partition: bool = False,
                      deadline_s: float = 30.0) -> list[bytes]:
    """Every record value on ``topic`` now, read_committed, partition by partition; with
    ``single_partition`` a topic with more than one partition is ConfigTopicInvalid."""
    parts = await _partitions(settings, topic)
    if single_partition and (problem := config_topic_problem(topic, len(parts))):
        raise ConfigTopicInvalid(problem)
    consumer = kafka_consumer(settings, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                auto_offset_reset="earliest", request_timeout_ms=REQUEST_TIMEOUT_MS)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline_s
        values: list[bytes] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                if loop.time() > until:
                    raise KafkaTimeoutError(f"{topic} not read to its end within {deadline_s:g} s")
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                values.extend(r.value for r in batch.get(tp, []) if r.value is not None)
        return values
    finally:
        await consumer.stop()


async def check_config_topic(settings: Settings) -> None:
    """ConfigTopicInvalid unless the config topic exists with exactly one partition."""
    topic = settings.topics.config
    problem = config_topic_problem(topic, len(await _partitions(settings, topic)))
    if problem is not None:
        raise ConfigTopicInvalid(problem)


async def _partitions(settings: Settings, topic: str, tries: int = 6) -> list[int]:
    """The topic's partitions; a topic created a moment ago may take a moment to be described."""
    for attempt in range(tries):
        try:
            return await partitions_of(settings, topic)
        except KafkaError:  # a RuntimeError too, but the broker's fault: exit 3, not 2
            raise
        except TopicAccessDenied as exc:  # an ACL to add, not a topic to wait for
            raise ConfigTopicInvalid(str(exc)) from None
        except RuntimeError as exc:  # the topic does not exist (yet)
            if attempt == tries - 1:
                raise ConfigTopicInvalid(str(exc)) from None
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


def fold_config(payloads: Iterable[bytes]) -> Rebuilt:
    """Apply every decodable record in version order; a refused one is left out, as the
    workers leave it out (the last good config stays in force)."""
    by_version: dict[int, RiskConfigEvent] = {}
    for raw in payloads:
        with contextlib.suppress(PoisonMessage):
            message = decode(RiskConfigEvent, raw, max_bytes=_MAX_BYTES)
            by_version.setdefault(message.version, message)
    book = ConfigBook()
    for version in sorted(by_version):
        with contextlib.suppress(LimitsError, ValueError):
            book.apply(*codec.config_change(by_version[version]))
    return Rebuilt(book, max(by_version, default=-1))


async def rebuild_config(conn: asyncpg.Connection, settings: Settings) -> Rebuilt:
    """The config in force (history and topic) and the highest version in use."""
    topic = settings.topics.config
    stored = await store.stored_records(conn, topic)
    on_topic = await read_to_end(settings, topic, single_partition=True)
    rebuilt = fold_config([*stored.values(), *on_topic])
    highest = max(rebuilt.highest, await store.max_version(conn, topic))
    return Rebuilt(rebuilt.book, highest)


async def rebuild_emergency(conn: asyncpg.Connection, settings: Settings) -> EmergencyState:
    """The global emergency fold (record flags only; ``in_force`` adds the config's re-arms)."""
    topic = settings.topics.black_swan
    rows = await conn.fetch("SELECT payload FROM emergency_events WHERE source_topic=$1", topic)
    by_version: dict[int, BlackSwanState] = {}
    for raw in [bytes(r["payload"]) for r in rows] + await read_to_end(settings, topic):
        with contextlib.suppress(PoisonMessage):
            m = decode(BlackSwanState, raw, max_bytes=_MAX_BYTES)
            if m.scope == "global":
                by_version.setdefault(m.version, m)
    state = EmergencyState()
    for version in sorted(by_version):
        m = by_version[version]
        state = next_emergency(state, EmergencyState(*codec.emergency(m)), m.rearm)
    return state
