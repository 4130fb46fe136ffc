"""The one place PostgreSQL connections are made: the URL, the password beside it, and TLS."""

from __future__ import annotations

import ssl
from typing import Any

import asyncpg

from riskgate.settings import Settings

#: How long one connection attempt may take: a dead or silent host fails in seconds.
CONNECT_TIMEOUT_S = 10.0

# What a PostgreSQL outage or restart can raise: retry on a fresh connection, never crash.
# InternalClientError is asyncpg's "another operation is in progress" on a connection that a
# restart broke mid-query (seen in the chaos run's PostgreSQL restart).
DB_FAULTS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)

def _ssl(s: Settings) -> ssl.SSLContext | str | None:
    mode = s.database_sslmode
    if mode is None:
        return None  # whatever the URL's own sslmode says (asyncpg's default: prefer)
    if mode in ("disable", "prefer", "require") and s.database_sslcert is None:
        return mode
    context = ssl.create_default_context(
        cafile=str(s.database_sslrootcert) if s.database_sslrootcert else None)
    if mode in ("prefer", "require"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        context.check_hostname = False
    if s.database_sslcert is not None:
        context.load_cert_chain(str(s.database_sslcert), str(s.database_sslkey))
    return context


def connect_options(s: Settings) -> dict[str, Any]:
    """Keyword arguments for asyncpg.connect / create_pool."""
    options: dict[str, Any] = {"dsn": s.database_url}
    if s.database_password is not None:
        options["password"] = s.database_password.get_secret_value()
    tls = _ssl(s)
    if tls is not None:
        options["ssl"] = tls
    return options


async def connect(s: Settings, **kwargs: Any) -> asyncpg.Connection:
    return await asyncpg.connect(**connect_options(s), **kwargs)


def create_pool(s: Settings, **kwargs: Any) -> asyncpg.Pool:
    """An asyncpg pool (await it, or use it as an async context manager)."""
    return asyncpg.create_pool(**connect_options(s), **kwargs)
