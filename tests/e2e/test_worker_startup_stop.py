"""SIGTERM while the worker process is still waiting for its database or broker: exit 0."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import pytest

from tests.support.kafka import worker_env

pytestmark = pytest.mark.e2e

RETRY_SEEN_S = 30.0
STOPPED_S = 15.0


def dead_address() -> str:
    """host:port where nothing listens (bound once to pick a free port, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "riskgate.cli", "worker", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)


async def read_until(proc: asyncio.subprocess.Process, marker: bytes) -> list[bytes]:
    """stderr lines up to and including the first one containing ``marker``."""
    assert proc.stderr is not None
    lines: list[bytes] = []
    while not lines or marker not in lines[-1]:
        line = await proc.stderr.readline()
        if not line:
            raise AssertionError(f"worker exited before logging {marker!r}: {b''.join(lines)!r}")
        lines.append(line)
    return lines


async def sigterm_during_startup(env: dict[str, str]) -> tuple[int | None, bytes, bytes]:
    """Start the worker, wait for its first start-up retry, send SIGTERM: (code, before, after)."""
    proc = await start_worker(env)
    try:
        before = await asyncio.wait_for(read_until(proc, b'"startup_retry"'), RETRY_SEEN_S)
        proc.send_signal(signal.SIGTERM)
        _, after = await asyncio.wait_for(proc.communicate(), STOPPED_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, b"".join(before), after


class TestSigtermDuringStartup:
    async def test_with_the_database_unreachable_it_exits_cleanly(self, test_settings) -> None:
        """Retrying a dead database, the worker stops on SIGTERM with exit 0 and no traceback."""
        # Arrange
        dead = dead_address()
        env = worker_env(test_settings,
                         RISKGATE_DATABASE_URL=f"postgresql://riskgate@{dead}/riskgate")
        # Act
        code, before, after = await sigterm_during_startup(env)
        # Assert
        assert b'"step": "database"' in before
        assert code == 0, after.decode(errors="replace")
        assert b"Traceback" not in before + after
        assert b"worker_stopped_during_startup" in after

    async def test_with_the_broker_unreachable_it_exits_cleanly(self, test_settings) -> None:
        """Retrying a dead broker after the database is up, the worker stops on SIGTERM with
        exit 0 and no traceback."""
        # Arrange
        env = worker_env(test_settings, RISKGATE_BOOTSTRAP_SERVERS=dead_address())
        # Act
        code, before, after = await sigterm_during_startup(env)
        # Assert
        assert b"KafkaConnectionError" in before
        assert code == 0, after.decode(errors="replace")
        assert b"Traceback" not in before + after
        assert b"worker_stopped_during_startup" in after
