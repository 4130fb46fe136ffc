"""Bytes to bytes without the worker around it: decode, chain, encode action and target.

This is what the in-process "bytes to bytes" number times, and what the faust pipeline runs
per event, so both do exactly the worker's per-decision CPU work minus its I/O and storage.
The two payloads are built by the worker's own ``decision_payloads``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from riskgate.contracts.decode import decode_proposed
from riskgate.core import Environment, MarketData, Outcome, PortfolioBook, action_id, assess
from riskgate.worker import codec
from riskgate.worker.outputs import decision_payloads

MAX_BYTES = 64 * 1024


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def decide(raw: bytes, book: PortfolioBook, markets: Mapping[str, MarketData],
           env: Environment, now_text: str) -> tuple[Outcome, bytes, bytes]:
    """One decision: the outcome, the risk action payload and the target payload."""
    message = decode_proposed(raw, max_bytes=MAX_BYTES)
    market = markets.get(message.ticker)
    outcome = assess(codec.proposal(message), book, market, env)
    action, target = decision_payloads(message, action_id(message.decision_id), outcome, env,
                                       book.snapshot_version, market, now_text, 0, 0)
    return outcome, orjson.dumps(action), orjson.dumps(target)
