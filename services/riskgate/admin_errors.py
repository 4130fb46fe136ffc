"""Admin commands fail in one line: which system, where, which setting, and why.

``run_admin`` runs an admin command's coroutine. When the broker or the database cannot be
reached, refuses the login or fails the request, it prints one line to stderr, such as

    riskgate migrate: cannot reach PostgreSQL at 127.0.0.1:1 (RISKGATE_DATABASE_URL): connection refused

and exits with status 2, without a traceback. The password never appears: it is not part of
the address, and any message that might quote the URL has it masked. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from riskgate.settings import Settings
from riskgate.store.connect import CONNECT_TIMEOUT_S, connect

EXIT_UNAVAILABLE = 2

T = TypeVar("T")


class InvalidAddress(ValueError):
    """The setting itself cannot be parsed as an address of the system."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What an admin command talks to: the system, its address and the setting naming it."""

    system: str
    address: str
    setting: str
    secrets: tuple[str, ...] = ()  # masked in every message

    @classmethod
    def postgres(cls, settings: Settings) -> Endpoint:
        parts = urlsplit(settings.database_url)
        try:
            port = parts.port or 5432
        except ValueError:  # a port that is not a number: asyncpg names it in its own error
            port = "?"
        # As a URL would quote it, encoded or not; the bare word could be any ordinary word.
        secrets = tuple({f":{p}@" for p in (parts.password, unquote(parts.password or ""))
                         if p})
        return cls("PostgreSQL", f"{parts.hostname or 'localhost'}:{port}",
                   "RISKGATE_DATABASE_URL", secrets)

    @classmethod
    def kafka(cls, settings: Settings) -> Endpoint:
        return cls("Kafka", settings.bootstrap_servers, "RISKGATE_BOOTSTRAP_SERVERS")

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, ":***@")
        return text


def _unreachable(exc: BaseException) -> str | None:
    """Why a connection could not be made, or None when this is not such a fault."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror or exc})"
    if isinstance(exc, TimeoutError | KafkaTimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, KafkaConnectionError):
        return "no broker answered"
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    if isinstance(exc, asyncpg.InterfaceError):
        return f"connection lost ({exc})"
    return None


def failure_line(command: str, endpoint: Endpoint, exc: BaseException) -> str | None:
    """The one line for an infrastructure fault, or None when ``exc`` is something else."""
    where = f"{endpoint.system} at {endpoint.address}"
    reason = _unreachable(exc)
    if isinstance(exc, InvalidAddress):
        line = f"riskgate {command}: {endpoint.setting} is not a valid {endpoint.system} URL: {exc}"
    elif reason is not None:
        line = f"riskgate {command}: cannot reach {where} ({endpoint.setting}): {reason}"
    elif isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        line = f"riskgate {command}: {where} refused the login: {exc} ({endpoint.setting})"
    elif isinstance(exc, asyncpg.PostgresError):
        line = f"riskgate {command}: {where} ({endpoint.setting}): {exc}"
    elif isinstance(exc, KafkaError):
        line = f"riskgate {command}: {where} ({endpoint.setting}): {type(exc).__name__}: {exc}"
    else:
        return None
    return endpoint.mask(" ".join(line.split()))  # one line, whatever the driver's message


def run_admin(command: str, endpoint: Endpoint, action: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(action())``; an infrastructure fault exits 2 with one line on stderr."""
    # aiokafka logs every failed connection itself; the one line below says it once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(action())
    except Exception as exc:
        line = failure_line(command, endpoint, exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_UNAVAILABLE) from None


def with_database(command: str, settings: Settings, fn, *args, init: bool = True):
    """``fn(conn, *args)`` on one connection; an unreachable database is one line, exit 2.
    ``init`` installs the jsonb codec the store's functions expect."""

    async def on_connection():
        from riskgate.store.state import init_connection

        conn = await connect_postgres(settings)
        try:
            if init:
                await init_connection(conn)
            return await fn(conn, *args)
        finally:
            await conn.close()

    return run_admin(command, Endpoint.postgres(settings), on_connection)


async def connect_postgres(settings: Settings) -> asyncpg.Connection:
    """A connection for an admin command, given up after CONNECT_TIMEOUT_S."""
    try:
        return await connect(settings, timeout=CONNECT_TIMEOUT_S)
    except ValueError as exc:  # asyncpg parses the URL before it connects
        raise InvalidAddress(str(exc)) from exc
