"""Helpers for the control-plane tests: the `riskgate config` CLI, the config topic's end offset,
the stored action of a decision, and a writer on the test's settings."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from riskgate.control.writer import ConfigWriter
from riskgate.settings import Settings
from riskgate.store.connect import connect as db_connect
from tests.support.kafka import eventually, worker_env

ROOT = Path(__file__).resolve().parents[2]


def config_cli(s: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``riskgate config ARGS`` with the test's settings (plus RISKGATE_* ``env``)."""
    return subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "riskgate.cli", "config", *args],
                          env=worker_env(s, **env), capture_output=True, text=True, timeout=120)


async def end_offset(s: Settings) -> int:
    """The config topic's end offset (it has one partition)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(s.topics.config, 0)
        return (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()


async def fetch(s: Settings, sql: str, *args) -> list[asyncpg.Record]:
    conn = await db_connect(s)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def action_of(s: Settings, decision_id: str, deadline_s: float = 30.0) -> asyncpg.Record:
    """The stored action of a decision, once the worker has committed it."""
    rows = await eventually(lambda: fetch(
        s, "SELECT action_type, reason_codes, profile, config_version, emergency_version "
           "FROM risk_actions WHERE decision_id = $1", decision_id), deadline_s,
        what=f"the action of {decision_id}")
    return rows[0]


@contextlib.asynccontextmanager
async def writer_for(s: Settings) -> AsyncIterator[ConfigWriter]:
    async with ConfigWriter(s) as writer:
        yield writer
