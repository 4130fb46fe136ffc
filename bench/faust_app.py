"""(c) The same risk chain as a plain faust-streaming app, written the way the docs suggest.

One agent on the decisions topic; portfolio state (positions and account) in a faust Table
with its changelog; reference data (market metrics, snapshots) read from the compacted topics
at start-up; ``processing_guarantee="exactly_once"`` (faust's own per-partition transactional
producers, like riskgate's). Per event it decodes, runs ``riskgate.core.assess`` and emits the
risk action and the target exactly as the in-process bytes-to-bytes bench does
(``bench.pipeline.decide``). The batch-size and linger settings match the riskgate worker's.

    python -m bench.faust_app --app-id ID --bootstrap HOST:PORT --partitions N \
        --proposed T --actions T --targets T --market T --snapshots T
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from bench import pipeline, workload
from riskgate.core import MarketData, Portfolio, PortfolioBook


async def read_compacted(bootstrap: str, topic: str, partitions: int) -> dict[bytes, bytes]:
    """Every key's latest value of a compacted topic, read to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        latest: dict[bytes, bytes] = {}
        pending = {tp for tp, end in ends.items() if end > 0}
        while pending:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                latest.update((r.key, r.value) for r in records)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return latest
    finally:
        await consumer.stop()


def reference_data(args: argparse.Namespace) -> tuple[dict[str, MarketData], dict[str, dict]]:
    """Market data by ticker and the snapshot per portfolio, loaded before faust starts."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # faust's worker runs on this same loop afterwards
    market_raw = loop.run_until_complete(read_compacted(args.bootstrap, args.market, 1))
    snaps_raw = loop.run_until_complete(read_compacted(args.bootstrap, args.snapshots,
                                                       args.partitions))
    markets = {}
    for value in market_raw.values():
        body = orjson.loads(value)
        markets[body["ticker"]] = workload.market_data(body, time.time())
    snapshots = {}
    for value in snaps_raw.values():
        body = orjson.loads(value)
        snapshots[body["portfolio_id"]] = {
            "equity": body["equity"], "pnl_today": body["pnl_today"],
            "peak_equity": body["peak_equity"], "version": body["version"], "as_of": time.time(),
            "positions": {p["ticker"]: p["quantity"] for p in body["positions"]},
        }
    return markets, snapshots


def build_app(args: argparse.Namespace) -> faust.App:
    markets, snapshots = reference_data(args)
    app = faust.App(
        args.app_id, broker=f"kafka://{args.bootstrap}", store="memory://",
        processing_guarantee="exactly_once", topic_partitions=args.partitions,
        topic_replication_factor=1, broker_commit_every=500,
        broker_commit_interval=args.commit_interval,
        producer_linger=0.002, producer_max_batch_size=256 * 1024, web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    decisions = app.topic(args.proposed, key_serializer="raw", value_serializer="raw",
                          partitions=args.partitions)
    actions = app.topic(args.actions, key_serializer="raw", value_serializer="raw")
    targets = app.topic(args.targets, key_serializer="raw", value_serializer="raw")
    portfolios = app.Table("portfolios", default=None, partitions=args.partitions,
                           key_type=str, value_type=dict)
    base_env = workload.environment(time.time())

    @app.agent(decisions)
    async def gate(stream):
        async for event in stream.events():
            key, portfolio_id = event.key, event.key.decode()
            state = portfolios.get(portfolio_id) or snapshots.get(portfolio_id)
            if state is None:
                continue  # no snapshot yet: a real team would park it; the bench never sends one
            now = time.time()
            book = PortfolioBook(Portfolio(
                portfolio_id, equity=state["equity"], pnl_today=state["pnl_today"],
                peak_equity=state["peak_equity"], positions=state["positions"],
                as_of=state["as_of"], snapshot_version=state["version"]), markets)
            env = workload.with_now(base_env, now)
            outcome, action, target = pipeline.decide(event.value, book, markets, env,
                                                      pipeline.rfc3339(now))
            if outcome.delta_position != 0.0:
                positions = dict(state["positions"])
                positions[outcome.ticker] = outcome.target_position
                state = {**state, "positions": positions}
                portfolios[portfolio_id] = state
            await actions.send(key=key, value=action)
            await targets.send(key=key, value=target)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("app-id", "bootstrap", "proposed", "actions", "targets", "market", "snapshots"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    # 50 ms like RISKGATE_BATCH_TIMEOUT_MS; faust's own default is 2.8 s (throughput over latency).
    parser.add_argument("--commit-interval", type=float,
                        default=float(os.environ.get("BENCH_FAUST_COMMIT_INTERVAL", "0.05")))
    args = parser.parse_args()
    app = build_app(args)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
