"""A database of its own in the test cluster, for tests and bench runs that must not share the
worker's tables (tests/integration/test_audit_prune.py, bench/replay.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from riskgate.settings import Settings
from riskgate.store.connect import connect

DROP_ATTEMPTS = 6  # a plain DROP waits up to 5 s for autovacuum to leave, each attempt


@contextlib.asynccontextmanager
async def scratch_database(base: Settings, name: str, *, keep: bool = False
                           ) -> AsyncIterator[str]:
    """Creates ``name`` beside ``base``'s database and yields its URL; drops it afterwards
    unless ``keep``."""
    admin = await connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(base.database_url)._replace(path=f"/{name}"))
    finally:
        if not keep:
            await drop_database(base, name)


async def drop_database(base: Settings, name: str) -> None:
    """Ends this role's sessions on ``name``, then drops it.

    Not ``DROP DATABASE ... WITH (FORCE)``: for a role that is not a superuser it refuses
    ("must be a member of the role whose process is being terminated") whenever an autovacuum
    worker is on the database, as one often is right after a migration. A plain DROP asks
    autovacuum to leave and waits for it; a session that is still ending is retried."""
    admin = await connect(base)
    try:
        for attempt in range(DROP_ATTEMPTS):
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1"
                " AND usename = current_user AND pid <> pg_backend_pid()", name)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except asyncpg.ObjectInUseError:
                if attempt == DROP_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
