"""The worker as a real process: ready probe, decisions end to end, SIGTERM commits and exits."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time

import pytest

from tests.integration.test_pipe import seed_world
from tests.support import builders as b
from tests.support.kafka import collect, produce, topics, worker_env

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _probe(port: int, path: str) -> int | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return int(line.split()[1]) if line else None


async def wait_ready(port: int, proc, deadline_s: float = 90.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.returncode is not None:
            raise AssertionError(f"worker exited early with {proc.returncode}")
        if await _probe(port, "/ready") == 200:
            return
        await asyncio.sleep(0.3)
    raise AssertionError("worker never became ready")


async def start_worker(s, port: int):
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "riskgate.cli", "worker", env=worker_env(s, RISKGATE_HTTP_PORT=str(port)),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


class TestWorkerProcess:
    async def test_process_decides_then_exits_cleanly_on_sigterm(self, test_settings, unique):
        """A worker process becomes ready, decides every decision, and exits 0 on SIGTERM."""
        s, now, port = test_settings, time.time(), _free_port()
        p = f"P{unique}"
        decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=float(i + 1), created_at=now) for i in range(20)]
        async with topics(s):
            await seed_world(s, now, [p], {"AAPL": "TECH"})
            proc = await start_worker(s, port)
            try:
                await wait_ready(port, proc)
                assert await _probe(port, "/health") == 200
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions])
                actions = await collect(s, s.topics.actions, 20)
                targets = await collect(s, s.topics.targets, 20)
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), timeout=60)
        assert code == 0
        assert sorted(a["decision_id"] for _, a in actions) == sorted(d["decision_id"] for d in decisions)
        assert len(targets) == 20
