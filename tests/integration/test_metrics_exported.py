"""/metrics of a running worker exports every metric the dashboard and the alert rules query,
and the production gauges (lag, emergency level, end-to-end age, readiness) carry real values."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import builders as b
from tests.support.kafka import collect, eventually, produce, running_worker, topics
from tests.support.promql import SCRAPE_SERIES, referenced_metrics

pytestmark = pytest.mark.integration

# The sample names each family type exposes (prometheus_client strips _total from a counter's
# family name), so that a declared family whose labelled series has no child yet still counts.
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": (
    "_bucket", "_sum", "_count", "_created"), "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",), "stateset": ("",), "unknown": ("",)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def scrape(port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    return body.decode()


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
        names |= {sample.name for sample in family.samples}
    return names


def samples(text: str, name: str) -> list:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def value(text: str, name: str) -> float | None:
    found = samples(text, name)
    return found[0].value if found else None


class TestMetricsExported:
    async def test_dashboard_and_rule_metrics_are_exported_with_live_values(self, test_settings, unique):
        """Every metric name in the dashboard and the rules is on /metrics; after an ELEVATED
        state, a decided batch and a dead letter, lag is 0 on every partition, the level is
        1, the end-to-end age was observed and the worker reports ready."""
        s = test_settings.model_copy(update={"http_port": free_port()})
        now = time.time()
        p = f"P{unique}"
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            await produce(s, s.topics.black_swan, [
                (b"global", b.dumps(b.emergency(f"E{unique}", "ELEVATED", version=1, as_of=now)))])
            async with running_worker(s):
                before = value(await scrape(s.http_port), "riskgate_end_to_end_seconds_count") or 0
                decisions = [b.proposal(f"D{unique}-{i}", p, "AAPL", qty=1.0, created_at=now)
                             for i in range(3)]
                await produce(s, s.topics.proposed, [(p.encode(), b.dumps(d)) for d in decisions]
                              + [(p.encode(), b"not json")])
                await collect(s, s.topics.actions, 3)
                await collect(s, s.topics.dlq, 1, settle_s=0.2)

                async def settled() -> str | None:
                    text = await scrape(s.http_port)
                    lag = {x.labels["partition"]: x.value for x in samples(text, "riskgate_consumer_lag")}
                    if lag == {str(i): 0.0 for i in range(s.partitions)}:
                        return text
                    return None

                text = await eventually(settled, deadline_s=30, what="lag 0 on every partition")

        referenced = referenced_metrics()
        missing = {name: sorted(files) for name, files in referenced.items()
                   if name not in exported_names(text) and name not in SCRAPE_SERIES}
        assert missing == {}, f"queried but not exported: {missing}"
        assert len(referenced) >= 10  # the extraction found the queries at all
        assert value(text, "riskgate_emergency_level") == 1.0
        assert value(text, "riskgate_end_to_end_seconds_count") > before
        assert value(text, "riskgate_ready") == 1.0
        assert samples(text, "riskgate_dead_letters_total")
