"""``riskgate demo`` against a worker process: it passes again and again on the same topics."""

from __future__ import annotations

import asyncio
import base64
import re
import signal
import sys

import orjson
import pytest

from tests.e2e.test_worker_process import _free_port, start_worker, wait_ready
from tests.support.kafka import produce, topics, worker_env

pytestmark = pytest.mark.e2e

SUMMARY = re.compile(rb"decisions=(\d+) actions=(\d+) targets=(\d+) dead_letters=(\d+)")


async def run_demo(s, deadline_s: float = 120.0) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "riskgate.cli", "demo", env=worker_env(s),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=deadline_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("the demo did not finish before the deadline") from None
    return proc.returncode, out


def old_dead_letter(i: int) -> bytes:
    """A dead letter some earlier run left on the topic."""
    return orjson.dumps({"schema_version": "1.0", "error_code": "NOT_JSON", "error": "old",
                         "source_topic": "decisions.proposed", "partition": 0, "offset": i,
                         "key_b64": None, "value_b64": base64.b64encode(b"{older run").decode(),
                         "received_at": "2026-01-01T00:00:00Z"})


class TestDemo:
    async def test_demo_passes_twice_on_topics_that_already_hold_dead_letters(self, test_settings):
        """Two demo runs in a row on one set of topics each exit 0 and count only their own outputs."""
        s, port = test_settings, _free_port()
        async with topics(s):
            await produce(s, s.topics.dlq, [(b"PF-MACRO", old_dead_letter(i)) for i in range(4)])
            proc = await start_worker(s, port)
            try:
                await wait_ready(port, proc)
                first = await run_demo(s)
                second = await run_demo(s)
            finally:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), timeout=60)
        for code, out in (first, second):
            assert code == 0, out.decode(errors="replace")
            assert SUMMARY.findall(out) == [(b"10", b"10", b"10", b"3")]
            assert b"no output before the deadline" not in out
        assert set(re.findall(rb"demo-\w+-00", first[1])).isdisjoint(re.findall(rb"demo-\w+-00", second[1]))
