"""Create every riskgate topic with its partition count and cleanup policy."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from riskgate.kafka.clients import kafka_admin
from riskgate.settings import Settings

#: Bounds every request, the connection included, so a dead or silent broker fails in seconds
#: (aiokafka's default is 40 s per attempt).
REQUEST_TIMEOUT_MS = 10_000


class TopicLayoutError(KafkaError):
    """An existing topic riskgate cannot use as it is laid out (one line, exit 2)."""

    def __str__(self) -> str:  # KafkaError prefixes its class name, which the line has already
        return str(self.args[0]) if self.args else type(self).__name__


def config_topic_problem(topic: str, partitions: int) -> str | None:
    """Why a config topic with ``partitions`` partitions cannot be used, or None. Versions are
    allocated in PostgreSQL and must be read in order, so risk.config has exactly one."""
    if partitions == 1:
        return None
    return (f"topic {topic!r} has {partitions} partitions; risk.config must have exactly 1 "
            "(config versions are read in order): recreate it with one partition")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool

    def config(self, max_message_bytes: int) -> dict[str, str]:
        policy = "compact" if self.compacted else "delete"
        return {"cleanup.policy": policy, "max.message.bytes": str(max_message_bytes)}


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every riskgate topic (docs/contracts.md) with this deployment's names and partition counts."""
    t, n, g = settings.topics, settings.partitions, settings.global_partitions
    return [
        TopicSpec(t.proposed, n, False),
        TopicSpec(t.targets, n, False),
        TopicSpec(t.actions, n, False),
        TopicSpec(t.dlq, n, False),
        TopicSpec(t.shadow, n, False),
        TopicSpec(t.override_stats, n, False),
        TopicSpec(t.snapshots, n, True),
        TopicSpec(t.black_swan, g, True),
        TopicSpec(t.market, g, True),
        TopicSpec(t.config, 1, True),  # exactly one, whatever global_partitions says
    ]


def admin_client(settings: Settings) -> AIOKafkaAdminClient:
    """An admin client whose requests, connecting included, time out in REQUEST_TIMEOUT_MS."""
    return kafka_admin(settings, request_timeout_ms=REQUEST_TIMEOUT_MS)


async def create_topics(settings: Settings) -> dict[str, str]:
    """Create the missing topics; return name -> "created" | "exists"."""
    # Allow the broker some headroom over our own limit so that an oversize record still
    # reaches the worker and is dead-lettered with a reason instead of vanishing at produce time.
    broker_max = max(1024 * 1024, settings.max_message_bytes * 4)
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        result: dict[str, str] = {}
        wanted = []
        for spec in topic_specs(settings):
            if spec.name in existing:
                result[spec.name] = "exists"
                continue
            wanted.append(NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config(broker_max)))
            result[spec.name] = "created"
        if wanted:
            # A concurrent creator may win the race, or a topic made a moment ago may not be
            # listed yet: the broker says "already exists" per topic, and that is success.
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(wanted)
                for topic, code, *_ in response.topic_errors:
                    if code == TopicAlreadyExistsError.errno:
                        result[topic] = "exists"
                    elif code != 0:
                        raise RuntimeError(f"creating topic {topic!r} failed with error code {code}")
        if result.get(settings.topics.config) == "exists":  # ours is made with one partition
            await _check_config_topic(admin, settings.topics.config)
        return result
    finally:
        await admin.close()


async def _check_config_topic(admin: AIOKafkaAdminClient, topic: str, tries: int = 10) -> None:
    """TopicLayoutError when the config topic has more than one partition; a topic made a
    moment ago may not be described yet, so that is asked again for a few seconds."""
    for _ in range(tries):
        described = await admin.describe_topics([topic])
        parts = [p for d in described if d.get("error_code", 0) == 0 for p in d["partitions"]]
        if parts:
            problem = config_topic_problem(topic, len(parts))
            if problem is not None:
                raise TopicLayoutError(problem)
            return
        await asyncio.sleep(0.5)


async def delete_topics(settings: Settings, names: list[str]) -> None:
    """Delete topics (used by tests to clean up after themselves)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()
