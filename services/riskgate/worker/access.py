"""The worker's start-up checks of its credentials and permissions (docs/security.md).

A refused login, an untrusted certificate or a missing ACL is a deployment error: the worker
says which, in one line, and stops before it consumes anything, so nothing is approved and
every record stays on its topic for a worker that is set up right. A broker or database that
is merely unreachable is not one of these: the caller retries it as before.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from riskgate.kafka.access import KafkaAccessError, diagnose, probe_worker
from riskgate.settings import Settings
from riskgate.store.connect import CONNECT_TIMEOUT_S, create_pool


class AccessRefused(Exception):
    """Credentials, a certificate or a permission are wrong; the message says which."""


def worker_topics(s: Settings) -> tuple[list[str], list[str]]:
    """What the worker reads, and the outputs whose WRITE the probe checks.

    The probe's aborted transaction leaves an abort marker on each partition it adds. That is
    harmless on an output topic, but on ``proposed`` it would take an input offset and show as
    lag, so the worker's WRITE there (its de-risk commands) is checked only by DESCRIBE here
    and met, if missing, at the first EMERGENCY."""
    t = s.topics
    inputs = [t.proposed, t.black_swan, t.snapshots, t.market, t.config]
    return inputs, [t.targets, t.actions, t.dlq, t.shadow]


async def check_kafka(s: Settings) -> None:
    """Raise AccessRefused if the broker refuses this worker a login or anything it needs."""
    cause = await diagnose(s)
    if cause is not None:
        raise AccessRefused(cause)
    try:
        await probe_worker(s, *worker_topics(s))
    except KafkaAccessError as exc:
        raise AccessRefused(str(exc)) from None


async def open_pool(s: Settings, *, min_size: int, **options: Any) -> asyncpg.Pool:
    """The worker's pool, its first connection the check: a refused login or an untrusted
    certificate raises AccessRefused; any other failure is raised as it is, to be retried."""
    if min_size < 1:
        raise ValueError("min_size must be at least 1: the first connection is the check")
    try:
        return await create_pool(s, min_size=min_size, timeout=CONNECT_TIMEOUT_S, **options)
    except BaseException as exc:
        cause = database_security_fault(s, exc)
        if cause is None:
            raise
        raise AccessRefused(cause) from None


def database_security_fault(s: Settings, exc: BaseException) -> str | None:
    """What a connection failure says about credentials or TLS, or None if it says nothing."""
    parts = urlsplit(s.database_url)
    where = f"PostgreSQL at {parts.hostname}:{parts.port or 5432}"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return (f"{where} refused the login of user {parts.username!r}: wrong password "
                "(RISKGATE_DATABASE_PASSWORD)")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"{where} refused the connection: {exc} (RISKGATE_DATABASE_SSLMODE, pg_hba.conf)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"the certificate of {where} is not trusted: {exc.verify_message} "
                "(RISKGATE_DATABASE_SSLROOTCERT)")
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed: {exc.reason or exc} (RISKGATE_DATABASE_SSLMODE)"
    return None
