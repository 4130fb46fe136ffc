"""Re-decide a portfolio's stored decisions through the worker's own handler and compare.

Read-only and in memory: each portfolio's state is rebuilt from its first recorded event, in
the order of its sequence numbers (snapshot applies and decisions), and every decision is run
against the market, config and emergency state its witness names (docs/replay.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from riskgate.build import build_identity, digest
from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import (
    BlackSwanState,
    MarketMetrics,
    PortfolioSnapshot,
    RiskConfigEvent,
)
from riskgate.core import Environment, LimitsError
from riskgate.records import OutRecord
from riskgate.replay.evidence import GlobalHistory, StoredDecision, StoredSnapshot, Unreplayable
from riskgate.replay.formats import render_action, render_target
from riskgate.replay.whatif import WhatIf, copy_row
from riskgate.settings import Settings
from riskgate.store.state import PortfolioRow, jsonb_order, unreflected
from riskgate.worker import codec
from riskgate.worker.candidate import Candidate
from riskgate.worker.globals import ConfigBook, EmergencyState, GlobalState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.witness import settings_in_force

_MAX_BYTES = 1 << 30  # stored records were size-checked when they arrived


@dataclass(slots=True)
class Difference:
    field: str
    stored: Any
    replayed: Any


@dataclass(slots=True)
class Verdict:
    decision_id: str
    portfolio_id: str
    status: str  # identical | different | unreplayable
    differences: list[Difference] = field(default_factory=list)
    reason: str | None = None  # why unreplayable, or the likely cause of a difference


class Replayer:
    """Holds the global histories; replays one portfolio at a time."""

    def __init__(self, settings: Settings, history: GlobalHistory,
                 candidate: Candidate | None = None, mode: str = "counterfactual",
                 strategies: Sequence[str] = (), keep_outputs: bool = False) -> None:
        """With a ``candidate``, every decision in the window is also decided under it
        (``self.whatif.report``); the live comparison is made all the same. ``strategies``
        narrows the window's decisions; ``keep_outputs`` keeps their replayed Kafka records
        (the candidate's, with a candidate) for ``take_outputs``."""
        self._history = history
        self._world = GlobalState(
            snapshot_ttl_s=settings.snapshot_ttl_s, max_decision_age_s=settings.max_decision_age_s,
            max_snapshot_age_s=settings.max_snapshot_age_s, max_price_age_s=settings.max_price_age_s,
            max_emergency_age_s=settings.max_emergency_age_s)
        self._handler = DecisionHandler(settings, self._world)
        self._configs: dict[int, ConfigBook] = {}
        self._markets: dict[tuple[str, int], Any] = {}
        self._emergencies: dict[int, EmergencyState] = {}
        self._build = build_identity()
        self._settings_digest = digest(settings_in_force(self._world, Environment(now=0.0)))
        self.whatif = WhatIf(candidate, mode, self._handler, self._world) if candidate else None
        self._strategies = frozenset(strategies)
        self._outputs: list[OutRecord] | None = [] if keep_outputs else None
        self._batch_key: tuple | None = None
        self._batch_markets: dict[str, int] = {}
        self._ctx = None

    def replay(self, portfolio_id: str, snapshots: list[StoredSnapshot],
               decisions: list[StoredDecision], start: datetime, first_seq: int = 1
               ) -> list[Verdict]:
        """Verdicts for the decisions of the portfolio decided at or after ``start``, all given
        at once (``portfolio`` takes them chunk by chunk)."""
        run = self.portfolio(portfolio_id, snapshots, start, first_seq)
        return run.feed(sorted(decisions, key=lambda d: (d.seq is not None, d.seq or 0)))

    def portfolio(self, portfolio_id: str, snapshots: list[StoredSnapshot], start: datetime,
                  first_seq: int = 1) -> PortfolioRun:
        """A replay of one portfolio, fed its decisions in sequence order. Its history starts
        at ``first_seq``: 1, or after a prune the anchor snapshot apply, which must then be the
        first event (docs/replay.md)."""
        self._batch_key = None
        if self.whatif is not None:
            self.whatif.start_portfolio()
        return PortfolioRun(self, portfolio_id, snapshots, start, first_seq)

    def _on_snapshot(self, row: PortfolioRow, snapshot: StoredSnapshot) -> None:
        self._batch_key = None  # a snapshot apply is never inside a live batch
        _apply_snapshot(row, snapshot)
        if self.whatif is not None:
            self.whatif.on_snapshot(_apply_snapshot, snapshot)

    def _in_window(self, d: StoredDecision, start: datetime) -> bool:
        return d.legs[0].timestamp >= start and (
            not self._strategies or d.legs[0].strategy_id in self._strategies)

    def _decide(self, row: PortfolioRow, d: StoredDecision, in_window: bool = True) -> Verdict:
        w = d.witness
        assert w is not None
        if d.record is None:
            raise Unreplayable(f"no stored input record at {d.topic}[{d.partition}]@{d.offset}")
        if "error" in w:
            raise Unreplayable(f"the witness of {d.decision_id} could not be built: {w['error']}")
        self._world.market = {t: self._market(t, v) for t, v in w["market_versions"].items() if v >= 0}
        self._world.config = self._config(w["config_version"])
        self._world.emergency = self._emergency(w["emergency_version"])
        row.seq = w["seq"] - 1
        before = copy_row(row) if self.whatif is not None and in_window else None
        ctx = self._batch(row, d, w)
        result = self._handler.handle([self._handler.decode(d.record)], ctx.portfolios, d.seen(),
                                      w["now"], ctx)
        if self._outputs is not None and in_window:
            candidate = self.whatif.decide(before, row, d, w) if before is not None else None
            self._outputs += (candidate or result).outputs
        elif before is not None:
            self.whatif.decide(before, row, d, w)
        try:
            differences = _compare(d, result)
        except Unreplayable as exc:  # this record's format only: the state is still right
            return Verdict(d.decision_id, row.portfolio_id, "unreplayable", reason=str(exc))
        if not differences:
            return Verdict(d.decision_id, row.portfolio_id, "identical")
        return Verdict(d.decision_id, row.portfolio_id, "different", differences, self._cause(w))

    def _batch(self, row: PortfolioRow, d: StoredDecision, w: dict[str, Any]):
        """The batch context of the live batch that decided ``d``: the decisions of one portfolio
        in one live batch share its processing time, partition and global state, and share one
        context here as they did live, so the book's running sums are added in the same order (a
        fresh book per decision differs in the last bits of its sums)."""
        key = (row.portfolio_id, d.topic, d.partition, w["now"], w["config_version"],
               w["emergency_version"])
        markets = w["market_versions"]
        seen = self._batch_markets
        if self._batch_key != key or any(seen.get(t, v) != v for t, v in markets.items()):
            self._batch_key, self._batch_markets = key, dict(markets)
            # Each live batch loaded the row from PostgreSQL, in jsonb's key order.
            row.positions, row.pending = jsonb_order(row.positions), jsonb_order(row.pending)
            self._ctx = self._handler.batch_context({row.portfolio_id: row}, w["now"])
        else:
            seen.update(markets)
        return self._ctx

    def take_outputs(self) -> list[OutRecord]:
        """The replayed records kept since the last call, in decision order."""
        if self._outputs is None:
            return []
        kept, self._outputs = self._outputs, []
        return kept

    def _cause(self, witness: dict[str, Any]) -> str:
        if witness["build"] != self._build:
            return f"a different build: decided by {witness['build']}, replayed by {self._build}"
        if witness["settings_digest"] != self._settings_digest:
            return ("different decision settings: run replay with the workers' RISKGATE_SNAPSHOT_TTL_S "
                    "and RISKGATE_MAX_*_AGE_S")
        return "same build and evidence: the difference is unexplained (report it as a bug)"

    def _market(self, ticker: str, version: int):
        """The market record of a witness, decoded once per (ticker, version)."""
        found = self._markets.get((ticker, version))
        if found is None:
            raw = self._history.market.get((ticker, version))
            if raw is None:
                raise Unreplayable(f"market_history has no {ticker} version {version}")
            found = self._markets[(ticker, version)] = codec.market(
                decode(MarketMetrics, raw, max_bytes=_MAX_BYTES))
        return found

    def _config(self, version: int) -> ConfigBook:
        book = self._configs.get(version)
        if book is None:
            book = ConfigBook()
            for v, raw in self._history.configs:  # in the order applied live
                if v > version:
                    continue  # came later, or was refused
                change = codec.config_change(decode(RiskConfigEvent, raw, max_bytes=_MAX_BYTES))
                # Refused live too: the last good config stayed in force.
                with contextlib.suppress(LimitsError, ValueError):
                    book.apply(*change)
            if book.version != version:
                raise Unreplayable(f"risk_configs has no version {version}")
            self._configs[version] = book
        return book

    def _emergency(self, version: int) -> EmergencyState:
        state = self._emergencies.get(version)
        if state is None:
            state = EmergencyState()
            for v, raw in self._history.emergencies:  # in the order applied live
                if v > version:
                    continue
                m = decode(BlackSwanState, raw, max_bytes=_MAX_BYTES)
                state = codec.after_emergency(state, m)
            if state.version != version:
                raise Unreplayable(f"emergency_events has no version {version}")
            self._emergencies[version] = state
        return state


class PortfolioRun:
    """One portfolio's state while its events are replayed in sequence order: the row, the
    next sequence number expected, and why the rest is unreplayable once something is missing."""

    def __init__(self, replayer: Replayer, portfolio_id: str, snapshots: list[StoredSnapshot],
                 start: datetime, first_seq: int) -> None:
        self._replayer, self._start = replayer, start
        self.row = PortfolioRow(portfolio_id)
        self._snapshots = sorted((x for x in snapshots if x.seq >= first_seq), key=lambda x: x.seq)
        self._next, self._first, self._expected = 0, first_seq, first_seq
        self.broken: str | None = None
        if first_seq > 1 and (not self._snapshots or self._snapshots[0].seq != first_seq):
            self.broken = f"the anchor snapshot apply at sequence {first_seq} is not on record"

    def feed(self, decisions: list[StoredDecision]) -> list[Verdict]:
        """Verdicts for the window's decisions among ``decisions`` (the next ones in order)."""
        verdicts = []
        for d in decisions:
            if d.seq is not None and d.seq < self._first:
                continue  # before the anchor: pruned evidence's last remains
            if d.seq is None:
                self.broken = self.broken or f"decision {d.decision_id} has no stored witness"
            else:
                self._snapshots_before(d.seq)
                self._advance(d.seq, d.decision_id)
            in_window = self._replayer._in_window(d, self._start)
            if self.broken is not None:
                if in_window:
                    verdicts.append(self._unreplayable(d, self.broken))
                continue
            try:
                verdict = self._replayer._decide(self.row, d, in_window)
            except Unreplayable as exc:
                self.broken = str(exc)
                verdict = self._unreplayable(d, self.broken)
            if in_window:
                verdicts.append(verdict)
        return verdicts

    def _snapshots_before(self, seq: int) -> None:
        while self._next < len(self._snapshots) and self._snapshots[self._next].seq < seq:
            snapshot = self._snapshots[self._next]
            self._next += 1
            self._advance(snapshot.seq, None)
            self._replayer._on_snapshot(self.row, snapshot)

    def _advance(self, seq: int, decision_id: str | None) -> None:
        if self.broken is None and seq < self._expected:
            self.broken = f"decision {decision_id} is out of sequence order ({seq} after {self._expected - 1})"
        elif self.broken is None and seq != self._expected:
            self.broken = f"portfolio sequence {self._expected}..{seq - 1} is not on record"
        self._expected = max(self._expected, seq + 1)

    def _unreplayable(self, d: StoredDecision, reason: str) -> Verdict:
        return Verdict(d.decision_id, self.row.portfolio_id, "unreplayable", reason=reason)


def _apply_snapshot(row: PortfolioRow, snapshot: StoredSnapshot) -> None:
    """What ``store.state.upsert_snapshot`` did when it applied this version."""
    body = orjson.loads(snapshot.payload)
    if "schema_version" in body:
        f = codec.snapshot(decode(PortfolioSnapshot, snapshot.payload, max_bytes=_MAX_BYTES))
        fields = (f.as_of, f.equity, f.nav, f.pnl_today, f.peak_equity, f.positions, f.reflects)
    else:  # written by a direct call: the applied fields themselves
        fields = (body["as_of"], body["equity"], body["nav"], body["pnl_today"],
                  body["peak_equity"], body["positions"], body["reflects_action_ids"])
    as_of, equity, nav, pnl_today, peak, positions, reflects = fields
    row.snapshot_version, row.snapshot_as_of, row.equity, row.nav = snapshot.version, as_of, equity, nav
    row.pnl_today, row.peak_equity, row.positions = pnl_today, peak, dict(positions)
    row.pending = unreflected(row.pending, reflects)
    row.seq = snapshot.seq


def _compare(d: StoredDecision, result) -> list[Difference]:
    """Field-by-field differences between the stored legs and the replayed ones."""
    out: list[Difference] = []
    replayed = [(a.payload, t, a.trace) for a, t in _pair(result)]
    if len(replayed) != len(d.legs):
        return [Difference("legs", len(d.legs), len(replayed))]
    for leg, (action, target, trace) in zip(d.legs, replayed, strict=True):
        if leg.payload == action and leg.target == target:
            continue  # byte for byte: nothing to parse
        stored = orjson.loads(leg.payload)
        out += _diff("", stored, render_action(orjson.loads(action), stored, trace))
        stored_t = orjson.loads(leg.target) if leg.target else {}
        new_t = orjson.loads(target) if target else {}
        out += _diff("target.", stored_t, render_target(new_t, stored_t) if stored_t else new_t)
    return out


def _pair(result) -> list[tuple[Any, bytes | None]]:
    targets = {t.action_id: t.payload for t in result.targets}
    return [(a, targets.get(a.action_id)) for a in result.actions]


def _diff(prefix: str, stored: dict[str, Any], replayed: dict[str, Any]) -> list[Difference]:
    out = []
    for key in sorted(set(stored) | set(replayed)):
        a, b = stored.get(key), replayed.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and not prefix.endswith("details_json."):
            out += _diff(f"{prefix}{key}.", a, b)
        else:
            out.append(Difference(prefix + key, a, b))
    return out
