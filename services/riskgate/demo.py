"""``make demo``: publish a small realistic sample through a running worker and print the result."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from riskgate.kafka.clients import kafka_consumer, kafka_producer
from riskgate.settings import Settings

TICKERS = {  # ticker: (price, sector, country, adv)
    "AAPL": (190.0, "TECH", "US", 55_000_000), "MSFT": (410.0, "TECH", "US", 22_000_000),
    "XOM": (105.0, "ENERGY", "US", 17_000_000), "JPM": (195.0, "FINANCIALS", "US", 9_000_000),
    "SAP": (180.0, "TECH", "DE", 1_500_000), "TTE": (62.0, "ENERGY", "FR", 4_000_000),
}
PORTFOLIOS = {"PF-GROWTH": 250_000.0, "PF-INCOME": 1_000_000.0, "PF-MACRO": 50_000.0}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _decisions(run: str, now: float) -> list[dict]:
    rows = [  # portfolio, strategy, ticker, quantity, confidence, age_s
        ("PF-GROWTH", "momo", "AAPL", 5, 0.9, 0), ("PF-GROWTH", "momo", "MSFT", 400, 0.8, 0),
        ("PF-GROWTH", "value", "XOM", -3, 0.7, 0), ("PF-GROWTH", "momo", "NVDA", 10, 0.9, 0),
        ("PF-INCOME", "carry", "JPM", 4, 0.95, 0), ("PF-INCOME", "carry", "TTE", 12, 0.5, 0),
        ("PF-INCOME", "value", "SAP", 5, 0.9, 600), ("PF-INCOME", "carry", "XOM", 2_000, 0.9, 0),
        ("PF-MACRO", "macro", "TTE", -8, 0.8, 0), ("PF-MACRO", "macro", "AAPL", 1, 0.66, 0),
    ]
    return [{
        "schema_version": "1.0", "decision_id": f"demo-{run}-{i:02d}", "strategy_id": strat,
        "portfolio_id": _portfolio(pf, run), "ticker": tk, "target_quantity": float(qty), "confidence": conf,
        "created_at": _iso(now - age),
    } for i, (pf, strat, tk, qty, conf, age) in enumerate(rows)]


def _portfolio(name: str, run: str) -> str:
    """This run's own portfolio: a fresh book, so every run shows what a first run shows (the
    targets of an earlier run would otherwise still count as in flight)."""
    return f"{name}-{run[:4]}"


def _bad(run: str) -> list[bytes]:
    """Three records the worker must dead-letter. Each carries the run id near its start, so a
    dead letter is counted only by the run that wrote it."""
    r = run.encode()
    return [b"{run " + r + b": this is not json",
            b'{"decision_id":"bad-nan-' + r + b'","schema_version":"1.0","target_quantity":NaN}',
            b'{"decision_id":"bad-type-' + r + b'","schema_version":"1.0","strategy_id":"s",'
            b'"portfolio_id":"' + _portfolio("PF-MACRO", run).encode() + b'","ticker":"AAPL","target_quantity":"10","confidence":0.9,'
            b'"created_at":"2026-01-01T00:00:00Z"}']


async def _publish(producer: AIOKafkaProducer, s: Settings, now: float, run: str,
                   decisions: list[dict], bad: list[bytes]) -> None:
    for tk, (price, sector, country, adv) in TICKERS.items():
        await producer.send(s.topics.market, orjson.dumps({
            "schema_version": "1.0", "ticker": tk, "version": int(now * 1000), "as_of": _iso(now),
            "price": price, "adv": adv, "spread_bps": 3.0, "atr": price * 0.02,
            "sector": sector, "country": country, "cluster": sector}), key=tk.encode())
    for name, equity in PORTFOLIOS.items():
        pf = _portfolio(name, run)
        await producer.send(s.topics.snapshots, orjson.dumps({
            "schema_version": "1.0", "portfolio_id": pf, "version": int(now * 1000),
            "as_of": _iso(now), "equity": equity, "pnl_today": 0.0, "peak_equity": equity,
            "positions": [{"ticker": "XOM", "quantity": 10.0}]}), key=pf.encode())
    await producer.flush()
    await asyncio.sleep(1.0)  # let the worker apply the compacted inputs first
    for d in decisions:
        await producer.send(s.topics.proposed, orjson.dumps(d), key=d["portfolio_id"].encode())
    for value in bad:
        await producer.send(s.topics.proposed, value, key=_portfolio("PF-MACRO", run).encode())
    await producer.flush()


async def _reader_at_end(s: Settings, producer: AIOKafkaProducer) -> AIOKafkaConsumer:
    """A read_committed reader of the output topics, positioned at the current end of every
    partition, so that what earlier runs wrote is never counted (taken before publishing)."""
    outputs = (s.topics.actions, s.topics.targets, s.topics.dlq)
    # The producer waits for the topic's metadata; a bare consumer's cache may still be empty.
    tps = [TopicPartition(t, p) for t in outputs for p in sorted(await producer.partitions_for(t))]
    consumer = kafka_consumer(s, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp, end in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, end)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def _is_ours(dead_letter: dict, run: str) -> bool:
    raw = base64.b64decode(dead_letter.get("value_b64") or "")
    return run.encode() in raw


async def _collect(consumer: AIOKafkaConsumer, s: Settings, ids: set[str], run: str, n_bad: int,
                   deadline_s: float = 60.0):
    actions, targets, dead = {}, {}, 0
    end = time.monotonic() + deadline_s
    # Wait for all three: one transaction writes them, but they arrive in separate fetches.
    while time.monotonic() < end and (len(actions) < len(ids) or len(targets) < len(ids)
                                      or dead < n_bad):
        for tp, records in (await consumer.getmany(timeout_ms=300)).items():
            for r in records:
                body = orjson.loads(r.value)
                if tp.topic == s.topics.dlq:
                    dead += _is_ours(body, run)
                elif body.get("decision_id") in ids:
                    (actions if tp.topic == s.topics.actions else targets)[body["decision_id"]] = body
    return actions, targets, dead


async def run_demo(s: Settings) -> int:
    now, run = time.time(), uuid.uuid4().hex[:10]
    decisions, bad = _decisions(run, now), _bad(run)
    async with contextlib.AsyncExitStack() as stack:
        producer = kafka_producer(s, enable_idempotence=True)
        await producer.start()
        stack.push_async_callback(producer.stop)
        consumer = await _reader_at_end(s, producer)
        stack.push_async_callback(consumer.stop)
        await _publish(producer, s, now, run, decisions, bad)
        actions, targets, dead = await _collect(consumer, s, {d["decision_id"] for d in decisions},
                                                run, len(bad))
    _print_table(decisions, actions, targets)
    print(f"\ndecisions={len(decisions)} actions={len(actions)} targets={len(targets)} dead_letters={dead}")
    complete = len(actions) == len(targets) == len(decisions)
    return 0 if complete and dead == len(bad) else 1


def _print_table(decisions: list[dict], actions: dict, targets: dict) -> None:
    print(f"{'decision':<20} {'portfolio':<14} {'ticker':<5} {'proposed':>9} {'action':<12} "
          f"{'target':>9} {'delta':>9}  reason")
    for d in decisions:
        a, t = actions.get(d["decision_id"]), targets.get(d["decision_id"])
        if a is None or t is None:
            print(f"{d['decision_id']:<20} (no output before the deadline)")
            continue
        print(f"{d['decision_id']:<20} {d['portfolio_id']:<14} {d['ticker']:<5} "
              f"{d['target_quantity']:>9.1f} {a['action_type']:<12} {t['target_position']:>9.1f} "
              f"{t['delta_position']:>9.1f}  {','.join(a['reason_codes']) or '-'}")
