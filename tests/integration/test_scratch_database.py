"""tests.support.databases against the real PostgreSQL: a scratch database is dropped whatever
is still on it, as the audit-prune tests and the replay bench need."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from riskgate.settings import Settings
from riskgate.store.connect import connect
from tests.support.databases import drop_database, scratch_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def superuser(sql: str) -> str:
    """One statement as the cluster's superuser (deploy/local/postgres.sh psql)."""
    return subprocess.run(["bash", str(ROOT / "deploy/local/postgres.sh"), "psql", "-tA", "-c",
                           sql], check=True, capture_output=True, text=True).stdout.strip()


def on(s: Settings, url: str) -> Settings:
    return s.model_copy(update={"database_url": url})


async def exists(s: Settings, name: str) -> bool:
    conn = await connect(s)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1",
                                        name))
    finally:
        await conn.close()


async def autovacuum_arrives(name: str, within_s: float) -> bool:
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
           f" AND datname = '{name}'")
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(superuser, sql) != "0":
            return True
        await asyncio.sleep(0.05)
    return False


class TestScratchDatabase:
    @pytest.mark.timeout(150)
    async def test_a_database_autovacuum_is_working_on_is_dropped(self, infra, unique):
        """With an autovacuum worker on the database, where ``DROP DATABASE ... WITH (FORCE)``
        refuses a role that is not a superuser (the CI failure of stop 17), the drop waits for
        it to leave and the database is gone."""
        name = f"riskgate_scratch_av_{unique}"
        superuser("ALTER SYSTEM SET autovacuum_naptime = 1")
        superuser("SELECT pg_reload_conf()")
        try:
            async with scratch_database(infra, name, keep=True) as url:
                conn = await connect(on(infra, url))
                try:
                    await conn.execute("CREATE TABLE churn (a int, b text)")
                    await conn.execute("INSERT INTO churn SELECT g, repeat('x', 200)"
                                       " FROM generate_series(1, 300000) g")
                    await conn.execute("DELETE FROM churn WHERE a % 2 = 0")
                finally:
                    await conn.close()
            arrived = await autovacuum_arrives(name, within_s=60)
            await drop_database(infra, name)
        finally:
            superuser("ALTER SYSTEM RESET autovacuum_naptime")
            superuser("SELECT pg_reload_conf()")
        assert arrived, "no autovacuum worker came to the database within 60 s"
        assert not await exists(infra, name)

    @pytest.mark.timeout(60)
    async def test_a_session_left_open_on_it_is_ended_and_the_database_dropped(
            self, infra, unique):
        """A connection of the test's own role, left idle inside a transaction, does not keep
        the database: it is ended and the database is gone."""
        name = f"riskgate_scratch_open_{unique}"
        async with scratch_database(infra, name) as url:
            left_open = await connect(on(infra, url))
            await left_open.execute("BEGIN")
        assert not await exists(infra, name)
        assert left_open.is_closed() or await _fails(left_open.fetchval("SELECT 1"))
        left_open.terminate()


async def _fails(awaitable) -> bool:
    try:
        await awaitable
    except Exception:  # noqa: BLE001 - any failure shows the session is gone
        return True
    return False
