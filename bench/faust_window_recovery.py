"""Does a faust-streaming tumbling window survive a kill -9? (docs/override-stats.md)

A faust app with ``processing_guarantee="exactly_once"`` counts one key in 4 s tumbling windows
(``expires`` 6 s) and writes every ``on_window_close`` to a file. The driver sends ten records a
second for 30 s, kills the app with SIGKILL in the middle of a window, restarts it 3 s later,
and prints, per window, how many records were sent and what was emitted when it closed.

    python -m bench.faust_window_recovery [--bootstrap 127.0.0.1:9092]

Needs the faust extra and a running broker; creates topics named ``fx<random>.*``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path


def run_app(app_id: str, bootstrap: str, topic: str, out: str) -> None:
    import faust

    def closed(key, value) -> None:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"start": key[1][0], "count": value}) + "\n")

    app = faust.App(app_id, broker=f"kafka://{bootstrap}", store="memory://",
                    processing_guarantee="exactly_once", topic_partitions=1,
                    topic_replication_factor=1, web_enabled=False,
                    consumer_auto_offset_reset="earliest", table_cleanup_interval=1.0,
                    broker_session_timeout=10, broker_heartbeat_interval=1,
                    datadir=tempfile.mkdtemp(prefix="faust-"))
    source = app.topic(topic, key_serializer="raw", value_serializer="raw", partitions=1)
    counts = app.Table("counts", default=int, partitions=1, on_window_close=closed).tumbling(
        timedelta(seconds=4), expires=timedelta(seconds=6)).relative_to_stream()

    @app.agent(source)
    async def count(stream):
        async for event in stream.events():
            counts[event.key.decode()] += 1

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


async def drive(bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    tag = uuid.uuid4().hex[:6]
    topic, app_id = f"fx{tag}.in", f"fx{tag}"
    out = Path(tempfile.mkdtemp(prefix="faust-windows-")) / "closed.jsonl"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bench.faust_window_recovery", "--app",
                                 app_id, "--bootstrap", bootstrap, "--topic", topic,
                                 "--out", str(out)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    sent: dict[int, int] = {}
    app, killed = start(), None
    await asyncio.sleep(12)  # group join and recovery
    t0 = time.time()
    while time.time() < t0 + 30:
        now = time.time()
        await producer.send_and_wait(topic, b"x", key=b"S1")
        sent[int(now // 4 * 4)] = sent.get(int(now // 4 * 4), 0) + 1
        if killed is None and now - t0 > 10 and 1.5 < now % 4 < 2.5:
            os.kill(app.pid, signal.SIGKILL)
            app.wait()
            killed = int(now // 4 * 4)
            await asyncio.sleep(3)
            app = start()
        await asyncio.sleep(0.1)
    await producer.stop()
    await asyncio.sleep(45)  # the dead member's session times out; the restart recovers
    app.send_signal(signal.SIGTERM)
    app.wait(timeout=60)
    emitted: dict[int, list[int]] = {}
    for line in out.read_text().splitlines() if out.exists() else []:
        record = json.loads(line)
        emitted.setdefault(int(record["start"]), []).append(record["count"])
    for start_s in sorted(sent):
        mark = "  <- killed in this window" if start_s == killed else ""
        print(f"window {start_s}: sent {sent[start_s]:3d}, emitted {emitted.get(start_s)}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--app")
    parser.add_argument("--topic")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.app:
        run_app(args.app, args.bootstrap, args.topic, args.out)
    else:
        asyncio.run(drive(args.bootstrap))


if __name__ == "__main__":
    main()
