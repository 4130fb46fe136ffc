"""Wait until the Kafka broker and PostgreSQL that riskgate needs are ready.

    python -m riskgate.infra_check [--timeout SECONDS]

A listening port is not readiness: a fresh KRaft broker accepts connections
before it can serve a transaction coordinator, and PostgreSQL accepts them
before the riskgate role and database exist. So this checks what the worker
will really do, retrying every half second until a deadline:

* Kafka answers a metadata request;
* a transactional producer can start (``InitProducerId``) and run an empty
  transaction;
* asyncpg can connect with the database URL and ``select 1``.

The addresses come from ``RISKGATE_BOOTSTRAP_SERVERS`` and
``RISKGATE_DATABASE_URL`` (see :mod:`riskgate.settings` for the defaults).
Exit status 0 when everything is ready, 1 with a message naming what was not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from riskgate.kafka.clients import kafka_admin, kafka_producer
from riskgate.settings import Settings
from riskgate.store.connect import connect

RETRY_INTERVAL_S = 0.5
# One attempt may hang (e.g. on a coordinator that is still loading); cut it
# off so the next attempt, and the deadline, stay in charge.
ATTEMPT_TIMEOUT_S = 10.0
TRANSACTIONAL_ID = "riskgate-infra-check"


class NotReady(Exception):
    """A check did not pass before the deadline."""


async def kafka_metadata(settings: Settings) -> None:
    admin = kafka_admin(settings, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.describe_cluster()
    finally:
        await admin.close()


async def kafka_transaction(settings: Settings) -> None:
    producer = kafka_producer(settings, transactional_id=TRANSACTIONAL_ID, request_timeout_ms=5000)
    try:
        await producer.start()  # runs init_transactions
        await producer.begin_transaction()
        await producer.commit_transaction()
    finally:
        await producer.stop()


async def postgres_select(settings: Settings) -> None:
    conn = await connect(settings, timeout=5)
    try:
        await conn.fetchval("select 1")
    finally:
        await conn.close()


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def wait_until(name: str, check: Callable[[], Awaitable[None]], deadline: float) -> None:
    """Retry ``check`` until it passes; raise :class:`NotReady` at the deadline."""
    started = time.monotonic()
    while True:
        remaining = deadline - time.monotonic()
        try:
            await asyncio.wait_for(check(), timeout=max(0.1, min(ATTEMPT_TIMEOUT_S, remaining)))
        except Exception as exc:  # any failure just means "not yet"
            if time.monotonic() + RETRY_INTERVAL_S >= deadline:
                raise NotReady(f"{name}: not ready: {describe(exc)}") from exc
            await asyncio.sleep(RETRY_INTERVAL_S)
        else:
            print(f"infra_check: {name} ready ({time.monotonic() - started:.1f} s)", flush=True)
            return


async def check_kafka(settings: Settings, deadline: float) -> None:
    await wait_until(f"kafka metadata at {settings.bootstrap_servers}",
                     lambda: kafka_metadata(settings), deadline)
    await wait_until("kafka transactions", lambda: kafka_transaction(settings), deadline)


async def check_all(settings: Settings, timeout: float) -> list[str]:
    """Run the Kafka and PostgreSQL checks side by side; return what failed."""
    deadline = time.monotonic() + timeout
    results = await asyncio.gather(
        check_kafka(settings, deadline),
        wait_until("postgres", lambda: postgres_select(settings), deadline),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, NotReady):
            raise failure
    return [str(f) for f in failures]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m riskgate.infra_check", description=__doc__)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection at ERROR while we retry; the
    # one error worth showing is the last one, in our own message.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    failures = asyncio.run(check_all(Settings(), args.timeout))
    for failure in failures:
        print(f"infra_check: gave up after {args.timeout:g} s: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
