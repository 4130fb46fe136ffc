"""Build the outputs of one decision: the risk action, the target, and their stored rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from riskgate.contracts.enums import ActionType, RefusalCode
from riskgate.contracts.inputs import ForcedDeriskCommand, ProposedDecision
from riskgate.contracts.payloads import ActionPayload, TargetPayload
from riskgate.contracts.versions import ACTIONS_VERSION, TARGETS_VERSION
from riskgate.core import (
    Environment,
    MarketData,
    Portfolio,
    PortfolioBook,
    action_id,
    assess,
    plan_forced_derisk,
)
from riskgate.records import InRecord, OutRecord
from riskgate.store.state import ActionRow, PortfolioRow, TargetRow
from riskgate.worker import audit_record, codec
from riskgate.worker.decision_metrics import ActionRecord
from riskgate.worker.globals import GlobalState

Trace = Callable[[], dict[str, Any]]
"""The full per-constraint trace of a leg, built only when replay or ``audit why`` asks."""

_REJECTED, _FORCED, _DUPLICATE = ActionType.REJECTED, ActionType.FORCED_DERISK, ActionType.DUPLICATE
_ACTIONS, _TARGETS = ACTIONS_VERSION.text, TARGETS_VERSION.text


@dataclass(slots=True)
class BatchContext:
    """Per-batch caches: the processing time, and each portfolio as the core sees it."""

    now: float
    now_text: str
    world: GlobalState
    portfolios: dict[str, PortfolioRow]
    _books: dict[str, PortfolioBook] = field(default_factory=dict)
    _envs: dict[tuple[str, str], Environment] = field(default_factory=dict)

    def book(self, row: PortfolioRow) -> PortfolioBook:
        """The portfolio with its exposure aggregates, built once per batch."""
        cached = self._books.get(row.portfolio_id)
        if cached is None:
            snapshot = Portfolio(
                portfolio_id=row.portfolio_id, equity=row.equity or 0.0,
                pnl_today=row.pnl_today or 0.0, peak_equity=row.peak_equity, nav=row.nav,
                positions=row.projected(self.now, self.world.snapshot_ttl_s),
                as_of=row.snapshot_as_of or 0.0, snapshot_version=row.snapshot_version,
            )
            cached = PortfolioBook(snapshot, self.world.market)
            self._books[row.portfolio_id] = cached
        return cached

    def env(self, portfolio_id: str, strategy_id: str) -> Environment:
        key = (portfolio_id, strategy_id)
        cached = self._envs.get(key)
        if cached is None:
            cached = self.world.environment(portfolio_id, strategy_id, self.now)
            self._envs[key] = cached
        return cached

    def apply(self, row: PortfolioRow, outcome, action_id: str) -> None:
        """Record an issued target so the next decision in this batch sees it as current."""
        row.record_target(outcome.ticker, outcome.target_position, action_id, self.now)
        self.book(row).apply(outcome)


@dataclass(slots=True)
class Leg:
    """One action, and its target unless the decision was a duplicate."""

    action_id: str
    portfolio_id: str
    action: ActionPayload
    target: TargetPayload | None
    trace: Trace | None = None


@dataclass(frozen=True, slots=True, eq=False)
class TracedAction(ActionRecord):
    """A risk action to publish, with its full trace on demand (never published)."""

    trace: Trace | None = None


def proposal(message: ProposedDecision, record: InRecord, ctx: BatchContext,
             shadow: Any = None) -> Leg:
    """The live leg of a proposal; ``shadow`` (a worker.shadow.ShadowPass) also runs the
    candidate on the same book before the live target is applied."""
    row = ctx.portfolios[message.portfolio_id]
    decision = codec.proposal(message)
    aid = action_id(message.decision_id)
    if row.equity is None:
        leg = _refused(message, record, ctx, aid, _REJECTED, RefusalCode.NO_SNAPSHOT,
                       "no portfolio snapshot has been received for this portfolio")
        if shadow is not None:
            shadow.refused(message, record, leg)
        return leg
    book = ctx.book(row)
    env = ctx.env(message.portfolio_id, message.strategy_id)
    market = ctx.world.market.get(message.ticker)
    outcome = assess(decision, book, market, env)
    leg = _leg(message, record, ctx, aid, outcome, book.snapshot_version, env)
    if shadow is not None:
        shadow.assessed(message, record, leg, decision, book, market)
    if outcome.delta_position != 0.0:
        ctx.apply(row, outcome, aid)
    return leg


def forced_derisk(message: ForcedDeriskCommand, record: InRecord, ctx: BatchContext) -> list[Leg]:
    row = ctx.portfolios[message.portfolio_id]
    if row.equity is None:
        aid = action_id(message.decision_id)
        return [_refused(message, record, ctx, aid, _FORCED, RefusalCode.NO_SNAPSHOT,
                         "no snapshot: nothing known to de-risk")]
    book = ctx.book(row)
    env = ctx.env(message.portfolio_id, message.strategy_id)
    outcomes = plan_forced_derisk(book, ctx.world.market, env, message.gross_cut_pct,
                                  event_id=message.emergency_event_id,
                                  created_at=message.created_at.timestamp())
    legs = []
    for outcome in outcomes:
        aid = action_id(message.decision_id, "#" + outcome.ticker)
        legs.append(_leg(message, record, ctx, aid, outcome, book.snapshot_version, env,
                         ticker=outcome.ticker))
        ctx.apply(row, outcome, aid)
    if not legs:
        aid = action_id(message.decision_id)
        legs.append(_refused(message, record, ctx, aid, _FORCED, RefusalCode.NOTHING_TO_CUT,
                             "no open positions to de-risk"))
    return legs


def duplicate(message, record: InRecord, ctx: BatchContext) -> Leg:
    aid = action_id(message.decision_id, f"#dup@{record.partition}:{record.offset}")
    leg = _refused(message, record, ctx, aid, _DUPLICATE, RefusalCode.DUPLICATE_DECISION,
                   f"decision_id {message.decision_id} was processed before; no second target")
    leg.target = None
    return leg


def internal_error(message, record: InRecord, ctx: BatchContext, exc: Exception) -> Leg:
    aid = action_id(message.decision_id)
    return _refused(message, record, ctx, aid, _REJECTED, RefusalCode.INTERNAL_ERROR,
                    f"assessment failed ({type(exc).__name__}: {exc}); nothing approved")


def _ticker(message) -> str:
    return getattr(message, "ticker", None) or "*"


def _common(message, now_text: str, aid: str, ticker: str, version: str) -> dict[str, Any]:
    return {
        "schema_version": version, "action_id": aid, "decision_id": message.decision_id,
        "portfolio_id": message.portfolio_id, "strategy_id": message.strategy_id,
        "ticker": ticker, "timestamp": now_text,
    }


def _leg(message, record, ctx, aid, outcome, snapshot_version: int, env: Environment,
         ticker: str | None = None) -> Leg:
    ticker = ticker or message.ticker
    digest = ctx.world.config.limits_digest(message.portfolio_id, message.strategy_id)
    action, target = decision_payloads(
        message, aid, outcome, env, snapshot_version, ctx.world.market.get(ticker), ctx.now_text,
        record.partition, record.offset, ticker, digest)
    return Leg(aid, message.portfolio_id, action, target, outcome.details)


def decision_payloads(message, aid: str, outcome, env: Environment, snapshot_version: int,
                      market: MarketData | None, now_text: str, partition: int, offset: int,
                      ticker: str | None = None, limits_digest: str | None = None
                      ) -> tuple[ActionPayload, TargetPayload]:
    """The risk action and the target of one decided leg, as published (docs/contracts.md).
    ``limits_digest`` is the config book's (None in library use, without a config book)."""
    ticker = ticker or message.ticker
    action_type = outcome.action_type.value
    summary = outcome.risk_reasoning_summary
    decision_id, portfolio_id, strategy_id = (
        message.decision_id, message.portfolio_id, message.strategy_id)
    # Literal dicts in _common's key order (the bytes are compared by replay): no merge.
    action: ActionPayload = {
        "schema_version": _ACTIONS, "action_id": aid, "decision_id": decision_id,
        "portfolio_id": portfolio_id, "strategy_id": strategy_id, "ticker": ticker,
        "timestamp": now_text, "action_type": action_type,
        "reason_codes": list(outcome.reason_codes), "risk_reasoning_summary": summary, "proposed_position": outcome.proposed_position,
        "approved_position": outcome.approved_position,
        "max_passing_position": outcome.max_passing_position,
        "details": audit_record.decided(outcome, limits_digest),
        "config_version": env.config_version, "snapshot_version": snapshot_version,
        "market_version": market.version if market is not None else -1,
        "emergency_version": env.emergency_version, "profile": env.profile,
        "source_partition": partition, "source_offset": offset,
    }
    target: TargetPayload = {
        "schema_version": _TARGETS, "action_id": aid, "decision_id": decision_id,
        "portfolio_id": portfolio_id, "strategy_id": strategy_id, "ticker": ticker,
        "timestamp": now_text, "target_position": outcome.target_position,
        "delta_position": outcome.delta_position,
        "target_notional": outcome.target_notional, "target_weight": outcome.target_weight,
        "priority": outcome.priority, "action_type": action_type,
        "risk_reasoning_summary": summary, "decision_created_at": _created(message),
    }
    return action, target


def _refused(message, record, ctx, aid, action_type: ActionType, code: RefusalCode,
             summary: str) -> Leg:
    """A decision refused before the core could run: the target is the unchanged position."""
    ticker = _ticker(message)
    row = ctx.portfolios.get(message.portfolio_id)
    current = 0.0
    if row is not None:
        current = row.projected(ctx.now, ctx.world.snapshot_ttl_s).get(ticker, 0.0)
    env = ctx.env(message.portfolio_id, message.strategy_id)
    digest = ctx.world.config.limits_digest(message.portfolio_id, message.strategy_id)
    line = f"{action_type.value}: {summary}"
    action: ActionPayload = {
        **_common(message, ctx.now_text, aid, ticker, _ACTIONS),  # type: ignore[typeddict-item]
        "action_type": action_type.value, "reason_codes": [code.value],
        "risk_reasoning_summary": line, "proposed_position": current,
        "approved_position": current, "max_passing_position": None,
        "details": audit_record.refused(current, digest),
        "config_version": env.config_version,
        "snapshot_version": row.snapshot_version if row is not None else -1,
        "market_version": -1, "emergency_version": env.emergency_version, "profile": env.profile,
        "source_partition": record.partition, "source_offset": record.offset,
    }
    target: TargetPayload = {
        **_common(message, ctx.now_text, aid, ticker, _TARGETS),  # type: ignore[typeddict-item]
        "target_position": current, "delta_position": 0.0, "target_notional": 0.0,
        "target_weight": 0.0, "priority": 2, "action_type": action_type.value,
        "risk_reasoning_summary": line, "decision_created_at": _created(message),
    }
    trace = {"reason": code.value, "summary": summary}  # what the 1.0 format stored
    return Leg(aid, message.portfolio_id, action, target, lambda: trace)


def _created(message) -> str:
    return message.created_at.isoformat().replace("+00:00", "Z")


def emit(leg: Leg, record: InRecord, seq: int, topics: tuple[str, str, str], result,
         ts: datetime, witness: bytes) -> None:
    """Append the leg's Kafka records and stored rows to the batch result. The action carries
    its metric labels: it is counted once its Kafka transaction commits, never here."""
    a = leg.action
    key = leg.portfolio_id.encode()
    payload = orjson.dumps(a)  # the stored row keeps these bytes; details live only here
    result.outputs.append(TracedAction(topics[0], key, payload, (
        a["action_type"], tuple(a["reason_codes"]), a["profile"]), leg.trace))
    result.actions.append(ActionRow(
        leg.action_id, a["decision_id"], a["portfolio_id"], a["strategy_id"], a["ticker"],
        a["action_type"], a["reason_codes"], ts, a["profile"], a["config_version"],
        a["snapshot_version"], a["market_version"], a["emergency_version"], record.topic,
        record.partition, record.offset, seq, payload, witness, leg.trace,
    ))
    if leg.target is None:
        return
    t = leg.target
    tpayload = orjson.dumps(t)
    result.outputs.append(OutRecord(topics[1], key, tpayload))
    result.targets.append(TargetRow(
        leg.action_id, t["decision_id"], t["portfolio_id"], t["strategy_id"], t["ticker"],
        t["target_position"], t["delta_position"], t["priority"], ts, record.topic,
        record.partition, record.offset, seq, tpayload,
    ))
