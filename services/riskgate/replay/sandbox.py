"""``riskgate replay --to-topic PREFIX``: the replayed outputs, on sandbox topics only.

Each replayed action and target goes to ``PREFIX.<its live topic>`` (created if missing, with the
live topic's partition count), in one Kafka transaction per portfolio, on a producer with a
transactional id of its own, so a sandbox write can never fence or be fenced by a worker. A
prefix that would name a live topic is refused before anything connects.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from riskgate.kafka.admin import REQUEST_TIMEOUT_MS, TopicSpec, admin_client
from riskgate.kafka.clients import kafka_producer
from riskgate.records import OutRecord
from riskgate.settings import Settings

_LEGAL = re.compile(r"[A-Za-z0-9._-]+")


class SandboxError(ValueError):
    """A prefix that is not a legal topic name, or that would write to a live topic."""


class Sandbox:
    def __init__(self, settings: Settings, prefix: str) -> None:
        prefix = prefix.rstrip(".")
        if not _LEGAL.fullmatch(prefix or "-"):
            raise SandboxError(f"--to-topic {prefix!r}: a topic prefix is letters, digits, '.', "
                               "'_' and '-' only")
        t = settings.topics
        live = set(t.model_dump().values())
        self._names = {topic: f"{prefix}.{topic}" for topic in (t.actions, t.targets)}
        clash = sorted(set(self._names.values()) & live)
        if clash:
            raise SandboxError(f"--to-topic {prefix!r} would write to the live topic {clash[0]}")
        self._settings = settings
        self.transactional_id = f"{settings.transactional_id_prefix}-replay-{prefix}-{uuid.uuid4().hex[:8]}"
        self._producer: AIOKafkaProducer | None = None
        self.written: Counter = Counter()

    async def start(self) -> None:
        await self._create_topics()
        self._producer = kafka_producer(
            self._settings, transactional_id=self.transactional_id, enable_idempotence=True,
            acks="all", request_timeout_ms=REQUEST_TIMEOUT_MS,
            max_request_size=self._settings.publish_max_request_bytes)
        await self._producer.start()

    async def send(self, records: list[OutRecord]) -> None:
        """Publish one portfolio's replayed records in one transaction."""
        mine = [(self._names[r.topic], r) for r in records if r.topic in self._names]
        if not mine or self._producer is None:
            return
        async with self._producer.transaction():
            for topic, r in mine:
                await self._producer.send(topic, r.value, key=r.key)
        self.written.update(topic for topic, _ in mine)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def line(self) -> str:
        parts = " ".join(f"{name}={self.written[name]}" for name in self._names.values())
        return f"sandbox: {parts} transactional_id={self.transactional_id}"

    async def _create_topics(self) -> None:
        admin = admin_client(self._settings)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            specs = [TopicSpec(n, self._settings.partitions, False) for n in self._names.values()
                     if n not in existing]
            limit = self._settings.publish_max_request_bytes
            # A concurrent sandbox may make a topic first: that is success.
            with contextlib.suppress(TopicAlreadyExistsError):
                if specs:
                    await admin.create_topics([NewTopic(s.name, s.partitions, 1,
                                                        topic_configs=s.config(limit)) for s in specs])
        finally:
            await admin.close()
