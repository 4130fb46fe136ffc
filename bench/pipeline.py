"""Bytes to bytes without the worker around it: decode, chain, encode action and target.

This is what the in-process "bytes to bytes" number times, and what the faust pipeline runs
per event, so both do exactly the worker's per-decision CPU work minus its I/O and storage.
The two payloads carry the fields ``riskgate.worker.outputs`` puts on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from riskgate.contracts.decode import decode_proposed
from riskgate.core import Environment, MarketData, Outcome, PortfolioBook, action_id, assess
from riskgate.worker import codec

MAX_BYTES = 64 * 1024


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def decide(raw: bytes, book: PortfolioBook, markets: Mapping[str, MarketData],
           env: Environment, now_text: str) -> tuple[Outcome, bytes, bytes]:
    """One decision: the outcome, the risk action payload and the target payload."""
    message = decode_proposed(raw, max_bytes=MAX_BYTES)
    market = markets.get(message.ticker)
    outcome = assess(codec.proposal(message), book, market, env)
    aid = action_id(message.decision_id)
    common = {
        "schema_version": "1.0", "action_id": aid, "decision_id": message.decision_id,
        "portfolio_id": message.portfolio_id, "strategy_id": message.strategy_id,
        "ticker": message.ticker, "timestamp": now_text,
    }
    action_type = outcome.action_type.value
    action = {
        **common, "action_type": action_type, "reason_codes": list(outcome.reason_codes),
        "risk_reasoning_summary": outcome.risk_reasoning_summary,
        "proposed_position": outcome.proposed_position,
        "approved_position": outcome.approved_position,
        "max_passing_position": outcome.max_passing_position,
        "details_json": outcome.details(), "profile": env.profile,
        "config_version": env.config_version, "snapshot_version": book.snapshot_version,
        "market_version": market.version if market is not None else -1,
        "emergency_version": env.emergency_version,
    }
    target = {
        **common, "target_position": outcome.target_position,
        "delta_position": outcome.delta_position, "target_notional": outcome.target_notional,
        "target_weight": outcome.target_weight, "priority": outcome.priority,
        "action_type": action_type, "risk_reasoning_summary": outcome.risk_reasoning_summary,
        "decision_created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }
    return outcome, orjson.dumps(action), orjson.dumps(target)
