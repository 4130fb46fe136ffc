"""``riskgate dlq redrive``: publish dead letters' original bytes to the decisions topic again.

The order, and what a failure at each point leaves behind:

1. Select the dead letters and predict each one's outcome (``plan``); with ``--dry-run`` stop.
2. Start the producer (idempotent, acks=all). Kafka unreachable: nothing is recorded.
3. Record the redrive (who, when, why, the selection, the prediction) as RUNNING, committed.
4. Publish each record's full original bytes (``dead_letters.value``, never the possibly cut
   envelope) with its original key, so that murmur2 puts it on its portfolio's partition, and
   headers naming the dead letter. A key-less record goes back to its own partition.
5. Record every acknowledged record with the offset it landed at, and the status: PUBLISHED,
   or FAILED with the error and what was acknowledged before it. A crash between 3 and 5 leaves
   the row RUNNING. Redriving again is always safe: the worker deduplicates by decision_id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from riskgate import metrics
from riskgate.dlq.plan import Prediction, examine, predict
from riskgate.kafka.clients import kafka_producer
from riskgate.settings import Settings
from riskgate.store import dlq as store
from riskgate.store.state import seen_decisions

HEADER_OF = "riskgate-redrive-of"  # <topic>:<partition>:<offset> of the dead letter's record
HEADER_ID = "riskgate-redrive-id"  # the redrive's id in dlq_redrives


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters: every filter given must match."""

    error_code: str | None = None
    since: datetime | None = None
    records: tuple[tuple[int, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"error_code": self.error_code,
                "since": None if self.since is None else self.since.isoformat(),
                "records": [f"{p}:{o}" for p, o in self.records]}


@dataclass(slots=True)
class RedriveResult:
    predictions: list[Prediction]
    redrive_id: uuid.UUID | None = None
    published: list[store.RedriveRecord] = field(default_factory=list)
    error: str | None = None


async def plan(conn: asyncpg.Connection, settings: Settings, selection: Selection,
               now: float) -> list[Prediction]:
    """Step 1: the selected dead letters, oldest first, each with its expected outcome."""
    letters = await store.list_dead_letters(
        conn, settings.topics.proposed, since=selection.since, error_code=selection.error_code,
        records=selection.records, with_value=True)
    items = [examine(letter, settings.max_message_bytes) for letter in letters]
    ids = [i.decision_id for i in items if i.decision_id is not None]
    processed = await seen_decisions(conn, ids) if ids else set()
    return predict(items, processed, now, settings.max_decision_age_s)


async def redrive(conn: asyncpg.Connection, settings: Settings, predictions: list[Prediction],
                  selection: Selection, by: str, reason: str) -> RedriveResult:
    """Steps 2-5 for ``predictions`` (from ``plan``)."""
    result = RedriveResult(predictions)
    producer = kafka_producer(settings, enable_idempotence=True, acks="all",
        max_request_size=settings.publish_max_request_bytes, request_timeout_ms=30_000)
    try:
        await producer.start()
        expected: dict[str, int] = {}
        for p in predictions:
            expected[p.expect.value] = expected.get(p.expect.value, 0) + 1
        result.redrive_id = await store.start_redrive(
            conn, source_topic=settings.topics.proposed, target_topic=settings.topics.proposed,
            by=by, authenticated=False, reason=reason, selection=selection.as_dict(),
            expected=expected)
        result.published, result.error = await _publish(
            producer, settings.topics.proposed, predictions, result.redrive_id)
    finally:
        await producer.stop()
    assert result.redrive_id is not None
    await store.finish_redrive(conn, result.redrive_id, result.published, result.error)
    for r in result.published:
        metrics.REDRIVES.labels(r.error_code).inc()
    return result


async def _publish(producer: AIOKafkaProducer, topic: str, predictions: Sequence[Prediction],
                   redrive_id: uuid.UUID) -> tuple[list[store.RedriveRecord], str | None]:
    """Send every record, then wait for all; return the acknowledged ones and the first error."""
    futures = []
    error: str | None = None
    for p in predictions:
        letter = p.letter
        headers = [(HEADER_OF, f"{topic}:{letter.partition}:{letter.offset}".encode()),
                   (HEADER_ID, str(redrive_id).encode())]
        try:
            futures.append(await producer.send(
                topic, letter.value, key=letter.key, headers=headers,
                partition=letter.partition if letter.key is None else None))
        except Exception as exc:  # noqa: BLE001 - recorded with what was sent before it
            error = f"{type(exc).__name__}: {exc}"
            break
    answers = await asyncio.gather(*futures, return_exceptions=True)
    published = []
    for p, answer in zip(predictions, answers, strict=False):
        if isinstance(answer, BaseException):
            error = error or f"{type(answer).__name__}: {answer}"
            continue
        published.append(store.RedriveRecord(
            p.letter.partition, p.letter.offset, p.letter.error_code, p.expect.value,
            answer.partition, answer.offset))
    return published, error
