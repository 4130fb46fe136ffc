"""Apply the ordered SQL files in ``migrations/`` once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import asyncpg

from riskgate.settings import Settings
from riskgate.store.connect import connect

_LOCK_KEY = 0x7269736B  # "risk": one migrator at a time across workers

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) for every migration, in file-name order."""
    folder = resources.files("riskgate.store") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the pending migrations; return the names applied (empty when up to date)."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_LEDGER)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied


async def migrate_settings(settings: Settings) -> list[str]:
    """Connect, migrate and close."""
    conn = await connect(settings)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
