"""Produce and collect with deadlines, and run a worker in-process."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from riskgate.kafka.admin import create_topics, delete_topics, topic_specs
from riskgate.settings import Settings
from riskgate.worker.service import WorkerService

SECURITY_FIELDS = (
    "database_password", "database_sslmode", "database_sslrootcert", "database_sslcert",
    "database_sslkey", "kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username",
    "kafka_sasl_password", "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
    "kafka_ssl_key_password")


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a ``riskgate worker`` process that uses ``settings``."""
    env = dict(os.environ)
    s = settings
    env.update({
        "RISKGATE_BOOTSTRAP_SERVERS": s.bootstrap_servers, "RISKGATE_DATABASE_URL": s.database_url,
        "RISKGATE_GROUP_ID": s.group_id, "RISKGATE_TRANSACTIONAL_ID_PREFIX": s.transactional_id_prefix,
        "RISKGATE_PARTITIONS": str(s.partitions), "RISKGATE_HTTP_PORT": str(s.http_port),
    })
    for field, name in s.topics.model_dump().items():
        env[f"RISKGATE_TOPICS__{field.upper()}"] = name
    for field in SECURITY_FIELDS:
        value = getattr(s, field)
        if value is not None:
            secret = getattr(value, "get_secret_value", None)
            env[f"RISKGATE_{field.upper()}"] = secret() if secret else str(value)
    env.update(overrides)
    return env


async def eventually(check, deadline_s: float = 60.0, what: str = "condition"):
    """Poll ``check`` (sync, or async returning an awaitable) until it returns something truthy;
    return that, or fail at the deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while loop.time() < end:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not reached within {deadline_s} s")


async def produce(settings: Settings, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, enable_idempotence=True,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def collect(settings: Settings, topic: str, expected: int, deadline_s: float = 60.0,
                  settle_s: float = 1.0) -> list[tuple[bytes | None, dict]]:
    """Read ``topic`` with read_committed until ``expected`` records arrive or the deadline passes;
    then keep reading ``settle_s`` longer so that extra (duplicate) records are seen too."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers,
                                isolation_level="read_committed", auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: list[tuple[bytes | None, dict]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    try:
        while loop.time() < end:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                out.extend((r.key, orjson.loads(r.value)) for r in records)
            if len(out) >= expected:
                end = min(end, loop.time() + settle_s)
    finally:
        await consumer.stop()
    return out


@contextlib.asynccontextmanager
async def topics(settings: Settings) -> AsyncIterator[Settings]:
    await create_topics(settings)
    try:
        yield settings
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(settings, [s.name for s in topic_specs(settings)])


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, clock=None, ready_s: float = 60.0) -> AsyncIterator[WorkerService]:
    """A worker in this process; yields once it is ready and owns partitions."""
    service = WorkerService(settings, clock=clock) if clock is not None else WorkerService(settings)
    task = asyncio.create_task(service.run(install_signals=False))
    loop = asyncio.get_running_loop()
    end = loop.time() + ready_s
    # Ready (or not ready only because a partition is halted), and owning every partition:
    # acquire sets partitions up one by one.
    def started() -> bool:
        state = service.readiness()
        return (service.loop is not None and len(service.loop.owned) == settings.partitions
                and (state["ready"] or bool(state["halted"])))

    while not started():
        if task.done():
            task.result()
            raise AssertionError("worker stopped before it became ready")
        if loop.time() > end:
            raise AssertionError("worker not ready before the deadline")
        await asyncio.sleep(0.1)
    try:
        yield service
    finally:
        service.request_stop()
        await asyncio.wait_for(task, timeout=60)
