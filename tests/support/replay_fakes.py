"""The worker with its PostgreSQL tables in memory, for replay tests without infrastructure.

``InMemoryWorker`` is the real ``WorkerService`` for the compacted inputs (its own ``_on_market``,
``_on_config``, ``_on_snapshot`` and ``_on_emergency``, forced de-risk included) with ``_store``
writing to ``EvidenceTables`` instead of PostgreSQL, plus the commit step of
``worker.batch.BatchCommitter`` around the real ``DecisionHandler``. The tables keep what the
store keeps (primary keys, ``ON CONFLICT DO NOTHING``, jsonb columns as JSON text), and read back
as ``riskgate.replay.evidence`` reads them, so ``replay_portfolios`` hands the replay engine its
inputs; ``change_digit`` tampers with a stored output.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from riskgate.records import InRecord, OutRecord
from riskgate.replay.engine import Replayer, Verdict
from riskgate.replay.evidence import GlobalHistory, StoredDecision, StoredLeg, StoredSnapshot
from riskgate.settings import Settings
from riskgate.store import history
from riskgate.store import state as db
from riskgate.store.state import (
    ActionRow,
    DeadLetterRow,
    PortfolioRow,
    TargetRow,
    jsonb_order,
    unreflected,
)
from riskgate.worker.handler import DecisionHandler, expected_partition
from riskgate.worker.service import WorkerService


def run_now(coro: Any) -> Any:
    """Run a coroutine that never waits (the in-memory store never does) to its end."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("the coroutine waited on something: not an in-memory step")


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


@dataclass(slots=True)
class EvidenceTables:
    """The store's tables as dicts keyed by their primary keys (insertion order is arrival)."""

    portfolio_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_records: dict[tuple[str, int, int], InRecord] = field(default_factory=dict)
    risk_actions: list[ActionRow] = field(default_factory=list)
    target_positions: dict[str, TargetRow] = field(default_factory=dict)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    processed: dict[str, tuple[int, int]] = field(default_factory=dict)  # -> (partition, offset)
    snapshot_history: dict[tuple[str, int], StoredSnapshot] = field(default_factory=dict)
    market_history: dict[tuple[str, str, int], bytes] = field(default_factory=dict)
    risk_configs: dict[tuple[str, int], tuple[bool, str | None, bytes]] = field(default_factory=dict)
    emergency_events: dict[tuple[str, str, int], bytes] = field(default_factory=dict)

    # ----- portfolio_state: lock_portfolios / save_portfolios / upsert_snapshot ----------

    def _state(self, portfolio_id: str) -> dict[str, Any]:
        return self.portfolio_state.setdefault(portfolio_id, {
            "snapshot_version": -1, "snapshot_as_of": None, "equity": None, "nav": None,
            "pnl_today": None, "peak_equity": None, "positions": b"{}", "pending": b"{}", "seq": 0})

    def lock(self, portfolio_id: str) -> PortfolioRow:
        """A fresh row as ``lock_portfolios`` reads it (jsonb columns decoded, in jsonb's order)."""
        r = self._state(portfolio_id)
        return PortfolioRow(
            portfolio_id, snapshot_version=r["snapshot_version"], snapshot_as_of=r["snapshot_as_of"],
            equity=r["equity"], nav=r["nav"], pnl_today=r["pnl_today"], peak_equity=r["peak_equity"],
            positions=jsonb_order(orjson.loads(r["positions"])),
            pending=jsonb_order(orjson.loads(r["pending"])), seq=r["seq"])

    def save(self, rows: Sequence[PortfolioRow]) -> None:
        """``save_portfolios``: only the pending targets and the sequence of dirty rows."""
        for row in rows:
            if row.dirty:
                self._state(row.portfolio_id).update(pending=_json(row.pending), seq=row.seq)

    def upsert_snapshot(self, portfolio_id: str, version: int, as_of: float, equity: float,
                        nav: float, pnl_today: float, peak_equity: float,
                        positions: dict[str, float], reflects: Sequence[str],
                        payload: bytes | None = None) -> bool:
        """What ``store.state.upsert_snapshot`` does to the row and the history."""
        r = self._state(portfolio_id)
        if r["snapshot_version"] >= version:
            return False
        pending = unreflected(dict(orjson.loads(r["pending"])), reflects)
        seq = r["seq"] + 1
        r.update(snapshot_version=version, snapshot_as_of=as_of, equity=equity, nav=nav,
                 pnl_today=pnl_today, peak_equity=peak_equity, positions=_json(positions),
                 pending=_json(pending), seq=seq)
        assert payload is not None, "the worker always passes the record as received"
        self.snapshot_history.setdefault((portfolio_id, version),
                                         StoredSnapshot(seq, version, payload))
        return True

    # ----- the commit step's rows ------------------------------------------------------

    def seen(self, decision_ids: Sequence[str]) -> set[str]:
        return {d for d in decision_ids if d in self.processed}

    def write_batch(self, fresh: Sequence[InRecord], result: Any) -> None:
        """``write_inputs`` and ``write_outputs``: fresh offsets only, so nothing exists yet."""
        for r in fresh:
            where = (r.topic, r.partition, r.offset)
            assert where not in self.input_records
            self.input_records[where] = r
        self.risk_actions += result.actions
        for t in result.targets:
            assert t.action_id not in self.target_positions
            self.target_positions[t.action_id] = t
        self.dead_letters += result.dead
        for decision_id, _action_id, partition, offset in result.processed:
            assert decision_id not in self.processed, "processed_decisions has it already"
            self.processed[decision_id] = (partition, offset)

    # ----- histories of the compacted inputs -------------------------------------------

    def record_market(self, topic: str, ticker: str, version: int, payload: bytes) -> None:
        self.market_history.setdefault((topic, ticker, version), payload)

    def record_config(self, topic: str, version: int, key: str, scope: str, scope_id: str | None,
                      accepted: bool, error: str | None, payload: bytes) -> None:
        self.risk_configs.setdefault((topic, version), (accepted, error, payload))

    def record_emergency(self, topic: str, event_id: str, version: int, level: str,
                         payload: bytes) -> None:
        self.emergency_events.setdefault((topic, event_id, version), payload)

    # ----- read back as riskgate.replay.evidence does -----------------------------------

    def snapshots(self, portfolio_id: str) -> list[StoredSnapshot]:
        found = [s for (p, _), s in self.snapshot_history.items() if p == portfolio_id]
        return sorted(found, key=lambda s: s.seq)

    def decisions(self, portfolio_id: str) -> list[StoredDecision]:
        """``load_portfolio``'s decisions: grouped by source place, legs in their order."""
        actions = sorted((a for a in self.risk_actions if a.portfolio_id == portfolio_id),
                         key=lambda a: (a.source_topic, a.source_partition, a.source_offset, a.seq))
        found: dict[tuple[str, int, int], StoredDecision] = {}
        for a in actions:
            where = (a.source_topic, a.source_partition, a.source_offset)
            d = found.get(where)
            if d is None:
                witness = orjson.loads(a.witness)
                d = found[where] = StoredDecision(a.decision_id, witness["seq"], witness, *where)
                d.record = self.input_records.get(where)
                d.processed_at = self.processed.get(a.decision_id)
            target = self.target_positions.get(a.action_id)
            d.legs.append(StoredLeg(a.action_id, a.strategy_id, a.timestamp, a.payload,
                                    target.payload if target is not None else None))
        return list(found.values())

    def history(self, settings: Settings) -> GlobalHistory:
        """``load_globals`` with every market row (``load_market`` adds only those wanted)."""
        t = settings.topics
        # In arrival order, as load_globals reads them (first insertion time): dicts keep it.
        configs = [(v, row[2]) for (topic, v), row in self.risk_configs.items()
                   if topic == t.config]
        emergencies = [(v, p) for (topic, _e, v), p in self.emergency_events.items()
                       if topic == t.black_swan]
        market = {(tk, v): p for (topic, tk, v), p in self.market_history.items() if topic == t.market}
        return GlobalHistory(t.market, configs, emergencies, market)


class _ProcessedLookup:
    """The one query forced de-risk makes (``seen_decisions``) against the in-memory table."""

    def __init__(self, tables: EvidenceTables) -> None:
        self._tables = tables

    def acquire(self) -> _ProcessedLookup:
        return self

    async def __aenter__(self) -> _ProcessedLookup:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, sql: str, decision_ids: list[str]) -> list[dict[str, str]]:
        assert "processed_decisions" in sql
        return [{"decision_id": d} for d in decision_ids if d in self._tables.processed]


class _DecisionsLog:
    """The decisions topic as the worker's producer writes to it (forced de-risk commands)."""

    def __init__(self, worker: InMemoryWorker) -> None:
        self._worker = worker

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self._worker.append(key, value, topic)


class InMemoryWorker(WorkerService):
    """One worker owning every partition of the decisions topic, its store in memory."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, clock=lambda: 0.0)
        self.tables = EvidenceTables()
        self.handler = DecisionHandler(settings, self.world)
        self.pool = _ProcessedLookup(self.tables)  # type: ignore[assignment]
        self._producer = _DecisionsLog(self)  # type: ignore[assignment]
        self.log: dict[int, list[InRecord]] = {}  # partition -> records of the decisions topic
        self.unread: list[InRecord] = []  # appended, not decided yet
        self.shared_batches = 0  # batches that decided two records of one portfolio
        self.published: list[OutRecord] = []  # what the batches' Kafka transactions carried
        self._stores = {
            history.record_market: self.tables.record_market,
            db.record_config: self.tables.record_config,
            db.upsert_snapshot: self.tables.upsert_snapshot,
            db.record_emergency: self.tables.record_emergency,
        }

    # ----- the compacted inputs, through WorkerService's own appliers -------------------

    def market(self, value: bytes) -> None:
        run_now(self._on_market(None, value))

    def config(self, value: bytes) -> None:
        run_now(self._on_config(None, value))

    def snapshot(self, value: bytes) -> None:
        run_now(self._on_snapshot(None, value))

    def emergency(self, value: bytes) -> None:
        run_now(self._on_emergency(None, value))

    async def _store(self, fn, *args) -> None:
        self._stores[fn](*args)

    def _owned_partitions(self) -> set[int]:
        return set(range(self.s.partitions))

    # ----- the decisions topic and the commit step ------------------------------------

    def append(self, key: bytes, value: bytes, topic: str | None = None) -> InRecord:
        """Write a record to the decisions topic, on the partition murmur2 gives its key."""
        topic = topic or self.s.topics.proposed
        partition = expected_partition(key, self.s.partitions)
        records = self.log.setdefault(partition, [])
        record = InRecord(topic, partition, len(records), key, value)
        records.append(record)
        self.unread.append(record)
        return record

    def decide_unread(self, now: float) -> None:
        """Decide every unread record, one batch per partition (as one fetch would give them)."""
        unread, self.unread = self.unread, []
        for partition in sorted({r.partition for r in unread}):
            self.commit([r for r in unread if r.partition == partition], now)

    def commit(self, fresh: list[InRecord], now: float) -> None:
        """``_PgBatch.compute`` (worker/batch.py) against the in-memory tables."""
        items = [self.handler.decode(r) for r in fresh]
        rows = {p: self.tables.lock(p) for p in self.handler.portfolio_ids(items)}
        seen = self.tables.seen(self.handler.decision_ids(items))
        owners = [d.message.portfolio_id for d in items if d.message is not None]
        self.shared_batches += len(owners) > len(set(owners))
        result = self.handler.handle(items, rows, seen, now)
        self.tables.write_batch(fresh, result)
        self.published += result.outputs
        self.tables.save(list(rows.values()))


def replay_portfolios(worker: InMemoryWorker, portfolio_ids: Sequence[str], start: datetime
                      ) -> tuple[list[Verdict], list[OutRecord]]:
    """Replay each portfolio from the worker's evidence, as ``riskgate replay`` does, checking
    one verdict per stored decision; and the records replay produced in place of the published."""
    tables = worker.tables
    replayer = Replayer(worker.s, tables.history(worker.s), keep_outputs=True)
    verdicts, outputs = [], []
    for pid in portfolio_ids:
        decisions = tables.decisions(pid)
        found = replayer.replay(pid, tables.snapshots(pid), decisions, start)
        assert [v.decision_id for v in found] == [d.decision_id for d in decisions]
        verdicts += found
        outputs += replayer.take_outputs()
    return verdicts, outputs


def published(worker: InMemoryWorker, portfolio_ids: Sequence[str]) -> list[OutRecord]:
    """The actions and targets the worker published, portfolio by portfolio as replayed."""
    kept = [r for r in worker.published if r.topic != worker.s.topics.dlq]
    return [r for pid in portfolio_ids for r in kept if r.key == pid.encode()]


def digits(stored: bytes) -> list[int]:
    """Where the digits are, but for the format version (another version is unreplayable, not
    different: replay renders its output in the stored format)."""
    skip = {k for m in re.finditer(rb'"schema_version":"[^"]*"', stored) for k in range(*m.span())}
    return [k for k, c in enumerate(stored) if chr(c).isdigit() and k not in skip]


def change_digit(tables: EvidenceTables, row: ActionRow | TargetRow, k: int) -> bytes:
    """Change the stored row's digit at ``k``: up by one, or a 9 down to 8 (never to a 0, so no
    number gets a leading zero and the JSON stays valid). Returns the new payload."""
    old = row.payload
    payload = old[:k] + bytes([ord("8") if old[k] == ord("9") else old[k] + 1]) + old[k + 1:]
    changed = dataclasses.replace(row, payload=payload)
    if isinstance(row, ActionRow):
        tables.risk_actions[tables.risk_actions.index(row)] = changed
    else:
        tables.target_positions[row.action_id] = changed
    return payload
