"""Replay re-decides what the worker decided: generated inputs go through the worker's handler
and its in-memory store, then the replay engine runs over the evidence they left behind
(docs/replay.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from riskgate.records import OutRecord
from riskgate.replay.engine import Verdict
from riskgate.settings import Settings
from tests.support import builders as b
from tests.support.replay_fakes import (
    InMemoryWorker,
    change_digit,
    digits,
    published,
    replay_portfolios,
)
from tests.unit.core_builders import property_settings

pytestmark = pytest.mark.service

PORTFOLIOS = ("P1", "P2", "P3")
TICKERS = ("T1", "T2", "T3")
# Short ages, so that generated time steps pass the target time-to-live and the decision age.
SETTINGS = Settings(partitions=2, snapshot_ttl_s=30.0, max_decision_age_s=20.0)
START = datetime.fromtimestamp(b.T0 - 1.0, UTC)
LIMIT_OVERLAYS = (
    {"gross_cap": 0.02}, {"per_name_weight_cap": 0.0005}, {"position_size_cap": 5000.0},
    {"sector_cap": 0.001}, {"max_open_positions": 2}, {"min_confidence": 0.9},
    {"restricted": ["T2"]}, {"factor_caps": {"MOM": 0.0001}}, {"long_only": True},
    {"max_adv_participation": 1e-6},
    {"net_cap": 2.0, "gross_cap": 1.0}, {"no_such_limit": 1.0},  # refused: the last good stays
)  # fmt: skip


@dataclass(frozen=True)
class Market:
    ticker: str
    price: float
    version: str  # next | old (ignored)
    regime: str | None


@dataclass(frozen=True)
class Config:
    version: str  # next | skip (leaves a gap)
    scope: tuple[str, str | None]
    profile: str | None
    limits: dict | None
    state: str | None


@dataclass(frozen=True)
class Emergency:
    version: str  # next | skip
    level: str
    rearm: bool
    new_event: bool
    cut: float


@dataclass(frozen=True)
class Snapshot:
    portfolio_id: str
    version: str  # next | old (ignored)
    positions: tuple[tuple[str, float], ...]
    equity: float
    pnl_today: float
    reflects: tuple[int, ...]  # indices into the portfolio's issued targets
    reflects_pending: bool  # and every target in flight


@dataclass(frozen=True)
class Proposal:
    portfolio_id: str
    ticker: str
    quantity: float | None  # None: a target weight
    weight: float
    confidence: float
    strategy_id: str
    age_s: float
    reuse: int | None  # an earlier decision_id again: a DUPLICATE
    poison: bool


@dataclass(frozen=True)
class Decide:
    proposals: tuple[Proposal, ...]
    one_per_batch: bool  # else one handle() call per partition


@dataclass(frozen=True)
class Tick:
    seconds: float


# "fill" (an older version never seen, arriving late) is left out of configs and emergencies:
# replay gets it wrong, see TestOutOfOrderGlobalVersions.
_portfolios = st.sampled_from(["P1", "P1", "P2", "P3"])  # P1 often: its events interleave
_scopes = st.sampled_from([("GLOBAL", None), ("PORTFOLIO", "P1"), ("PORTFOLIO", "P2"),
                           ("STRATEGY", "S1")])
markets = st.builds(Market, st.sampled_from(TICKERS), st.sampled_from([2.5, 3.3, 7.1, 9.75, 41.0]),
                    st.sampled_from(["next", "next", "old"]),
                    st.sampled_from([None, None, "VOLATILE", "TRENDING_DOWN"]))
configs = st.builds(Config, st.sampled_from(["next", "next", "skip"]), _scopes,
                    st.sampled_from(["NORMAL", "DEFENSIVE", "AGGRESSIVE_SMALL_ACCOUNT"]) | st.none(),
                    st.sampled_from(LIMIT_OVERLAYS) | st.none(),
                    st.sampled_from([None, None, None, "ACTIVE", "REDUCING", "HALTED"]))
emergencies = st.builds(Emergency, st.sampled_from(["next", "next", "skip"]),
                        st.sampled_from(["NORMAL", "ELEVATED", "EMERGENCY"]), st.booleans(),
                        st.booleans(), st.sampled_from([0.25, 0.5, 1.0]))
snapshots = st.builds(
    Snapshot, _portfolios, st.sampled_from(["next", "next", "old"]),
    st.dictionaries(st.sampled_from(TICKERS), st.sampled_from([-40.0, -3.0, 4.0, 12.5, 90.0]),
                    max_size=3).map(lambda d: tuple(d.items())),
    st.sampled_from([20_000.0, 50_000.0, 1_000_000.0]), st.sampled_from([0.0, 0.0, -900.0]),
    st.lists(st.integers(0, 40), max_size=3).map(tuple), st.booleans())
proposals = st.builds(
    Proposal, _portfolios, st.sampled_from(TICKERS),
    st.sampled_from([-60.0, -8.0, 0.0, 3.0, 7.5, 25.0, 400.0]) | st.none(),
    st.sampled_from([-0.02, 0.0004, 0.003, 0.05]), st.sampled_from([0.5, 0.7, 0.8, 0.97]),
    st.sampled_from(["S1", "S2"]), st.sampled_from([0.0, 0.4, 3.0, 3.0, 25.0]),
    st.none() | st.none() | st.integers(0, 40), st.sampled_from([False] * 9 + [True]))
decides = st.builds(Decide, st.lists(proposals, min_size=1, max_size=6).map(tuple), st.booleans())
ticks = st.builds(Tick, st.sampled_from([0.5, 4.0, 11.0, 26.0, 31.5, 33.0, 45.0]))
steps = st.lists(st.one_of(decides, decides, ticks, snapshots, markets, configs, emergencies),
                 min_size=10, max_size=60)


class Scenario:
    """Turns steps into wire records for the in-memory worker, choosing their versions."""

    def __init__(self) -> None:
        self.worker = InMemoryWorker(SETTINGS)
        self.now = b.T0 + 0.123456789  # not a whole microsecond: the witness keeps it exact
        self.market_versions = dict.fromkeys(TICKERS, 0)
        self.snapshot_versions = dict.fromkeys(PORTFOLIOS, 0)
        self.config_version = self.emergency_version = 0
        self.event_id = "E0"
        self.decision_ids: list[str] = []
        self.expired_in_flight = False  # a decision ran beside a target past its time-to-live
        for i, ticker in enumerate(TICKERS):
            self.market(Market(ticker, 10.0 * (i + 1), "next", None))
        for pid in PORTFOLIOS[:2]:  # P3 has no snapshot until one is generated: NO_SNAPSHOT
            self.snapshot(Snapshot(pid, "next", (("T1", 5.0),), 50_000.0, 0.0, (), False))

    def run(self, steps: list[object]) -> Scenario:
        handlers = {Market: self.market, Config: self.config, Emergency: self.emergency,
                    Snapshot: self.snapshot, Decide: self.decide, Tick: self.tick}
        for step in steps:
            handlers[type(step)](step)
        return self

    def tick(self, step: Tick) -> None:
        self.now += step.seconds

    def market(self, step: Market) -> None:
        version = self._versioned(self.market_versions, step.ticker, step.version)
        # T3 has a factor loading, T2 fractional lots: sums that are not exact in binary.
        extra: dict = {"factors": {"MOM": 0.3}} if step.ticker == "T3" else {}
        if step.ticker == "T2":
            extra["lot_size"] = 0.001
        if step.regime is not None:
            extra["regime"] = step.regime
        self.worker.market(b.dumps(b.market(
            step.ticker, as_of=self.now, price=step.price, version=version,
            sector="ENERGY" if step.ticker == "T2" else "TECH", **extra)))

    def config(self, step: Config) -> None:
        self.config_version += 1 if step.version == "next" else 2
        scope, scope_id = step.scope
        self.worker.config(b.dumps(b.config(
            self.config_version, scope, scope_id, as_of=self.now, profile=step.profile,
            limits=step.limits, state=step.state)))

    def emergency(self, step: Emergency) -> None:
        self.emergency_version += 1 if step.version == "next" else 2
        if step.new_event:
            self.event_id = f"E{self.emergency_version}"
        self.worker.emergency(b.dumps(b.emergency(
            self.event_id, step.level, version=self.emergency_version, as_of=self.now,
            rearm=step.rearm, cut=step.cut)))

    def snapshot(self, step: Snapshot) -> None:
        pid = step.portfolio_id
        version = self._versioned(self.snapshot_versions, pid, step.version)
        tables = self.worker.tables
        issued = [a for a, t in tables.target_positions.items() if t.portfolio_id == pid]
        reflects = {issued[i % len(issued)] for i in step.reflects} if issued else set()
        if step.reflects_pending and pid in tables.portfolio_state:
            pending = orjson.loads(tables.portfolio_state[pid]["pending"])
            reflects |= {p[1] for p in pending.values()}
        body = b.snapshot(pid, as_of=self.now, equity=step.equity, version=version,
                          positions=dict(step.positions), pnl_today=step.pnl_today)
        body["reflects_action_ids"] = sorted(reflects)
        self.worker.snapshot(b.dumps(body))

    def decide(self, step: Decide) -> None:
        for state in self.worker.tables.portfolio_state.values():
            if any(self.now - p[2] >= SETTINGS.snapshot_ttl_s
                   for p in orjson.loads(state["pending"]).values()):
                self.expired_in_flight = True
        for p in step.proposals:
            self.worker.append(p.portfolio_id.encode(), self.record(p))
            if step.one_per_batch:
                self._decide_unread()
        self._decide_unread()  # and the forced de-risk commands the last record caused

    def _decide_unread(self) -> None:
        # A real clock never reads the same for two batches of one partition (see
        # TestBatchesAtOneInstant); each batch takes a while.
        self.worker.decide_unread(self.now)
        self.now += 0.37

    def record(self, p: Proposal) -> bytes:
        if p.poison:
            return b"{not json"
        if p.reuse is not None and self.decision_ids:
            decision_id = self.decision_ids[p.reuse % len(self.decision_ids)]
        else:
            decision_id = f"D{len(self.decision_ids)}"
            self.decision_ids.append(decision_id)
        return b.dumps(b.proposal(
            decision_id, p.portfolio_id, p.ticker, qty=p.quantity,
            weight=p.weight if p.quantity is None else None, created_at=self.now - p.age_s,
            strategy_id=p.strategy_id, confidence=p.confidence))

    @staticmethod
    def _versioned(tops: dict[str, int], name: str, kind: str) -> int:
        """The next version, or one below the newest (equal to it when there is none below)."""
        top = tops[name]
        version = top + 1 if kind == "next" else max(top - 1, 1)
        tops[name] = max(top, version)
        return version


def replay(worker: InMemoryWorker) -> tuple[list[Verdict], list[OutRecord]]:
    return replay_portfolios(worker, PORTFOLIOS, START)


def not_identical(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.status != "identical"]


def label(scenario: Scenario) -> None:
    """Say what an example exercised (pytest --hypothesis-show-statistics)."""
    worker = scenario.worker
    if scenario.expired_in_flight:
        event("a target in flight had expired")
    for kind in sorted({orjson.loads(a.payload)["action_type"] for a in worker.tables.risk_actions}):
        event(f"action {kind}")
    if worker.shared_batches:
        event("a batch decided two records of one portfolio")
    if any(len(orjson.loads(s.payload)["reflects_action_ids"]) for s in
           worker.tables.snapshot_history.values()):
        event("a snapshot reflected targets")
    if any(not accepted for accepted, _, _ in worker.tables.risk_configs.values()):
        event("a config was refused")


_BUY = Proposal("P1", "T1", 3.0, 0.0, 0.97, "S1", 0.0, None, False)  # approved as it stands


class TestReplayReproducesTheWorker:
    @property_settings(100)
    @given(steps)
    def test_every_stored_decision_replays_identical(self, generated):
        """Whatever interleaving of decisions, snapshots, market, config and emergency records
        the worker saw, replay re-decides every stored decision to the same action and target."""
        scenario = Scenario().run(generated)
        worker = scenario.worker

        verdicts, outputs = replay(worker)

        label(scenario)
        assert len(verdicts) == len({(a.source_partition, a.source_offset)
                                     for a in worker.tables.risk_actions})
        assert not_identical(verdicts) == []
        assert outputs == published(worker, PORTFOLIOS)  # byte for byte, topic and key too

    @property_settings(30)
    @given(steps, st.data())
    def test_one_changed_byte_of_a_stored_output_is_reported(self, generated, data):
        """A digit changed in one stored action or target makes exactly its decision different."""
        worker = Scenario().run(generated).worker
        rows = [*worker.tables.risk_actions, *worker.tables.target_positions.values()]
        places = [(row, k) for row in rows for k in digits(row.payload)]
        assume(places)
        row, k = data.draw(st.sampled_from(places))
        changed = change_digit(worker.tables, row, k)
        # A float's 17th digit can change and parse to the same number: replay compares values
        # (the byte-for-byte check of the test above covers the bytes).
        assume(orjson.loads(changed) != orjson.loads(row.payload))

        verdicts, _ = replay(worker)

        assert [(v.decision_id, v.status) for v in not_identical(verdicts)] == \
            [(row.decision_id, "different")]

    def test_a_changed_market_record_is_reported(self):
        """A stored market record whose price was changed makes the decision that used it
        different, and no decision of a book without that ticker."""
        scenario = Scenario().run([
            Snapshot("P2", "next", (("T2", 4.0),), 50_000.0, 0.0, (), False),
            Decide((_BUY,), False),
            Decide((dataclasses.replace(_BUY, portfolio_id="P2", ticker="T2"),), False)])
        history = scenario.worker.tables.market_history
        where = (SETTINGS.topics.market, "T1", 1)
        assert b'"price":10.0,' in history[where]
        history[where] = history[where].replace(b'"price":10.0,', b'"price":10.5,')

        verdicts, _ = replay(scenario.worker)

        assert [(v.portfolio_id, v.status) for v in verdicts] == \
            [("P1", "different"), ("P2", "identical")]
        assert "target.target_notional" in {d.field for d in verdicts[0].differences}


_LATE_CONFIG = pytest.param(
    lambda w, now: (w.config(b.dumps(b.config(2, as_of=now, profile="NORMAL"))),
                    w.config(b.dumps(b.config(1, as_of=now, limits={"gross_cap": 0.02})))),
    id="config")
_LATE_EMERGENCY = pytest.param(
    lambda w, now: (w.emergency(b.dumps(b.emergency("E2", "NORMAL", version=2, as_of=now))),
                    w.emergency(b.dumps(b.emergency("E1", "EMERGENCY", version=1, as_of=now)))),
    id="emergency")


class TestOutOfOrderGlobalVersions:
    """A config or emergency version older than the one in force arrives late (another
    partition of a compacted topic, a producer retry): live, it is ignored; it is on record."""

    @pytest.mark.parametrize("late_older_version", [_LATE_CONFIG, _LATE_EMERGENCY])
    def test_a_late_older_version_is_not_replayed_into_the_newer_one(self, late_older_version):
        """Version 1 arriving after version 2 changes nothing live, nor in replay."""
        scenario = Scenario()
        live = scenario.worker.world
        late_older_version(scenario.worker, scenario.now)
        scenario.run([Decide((_BUY,), False)])
        assert (live.config.limits("P1", "S1")[0].gross_cap, live.emergency.level.value) == \
            (None, "NORMAL")

        verdicts, _ = replay(scenario.worker)

        assert [(v.status, v.differences) for v in verdicts] == [("identical", [])]


class TestBatchesAtOneInstant:
    """An injected clock may read the same for two batches of one partition."""

    def test_two_batches_at_one_instant_replay_as_two(self):
        """A config applied between two batches decided at the same time is in force for the
        second one, in replay as it was live."""
        scenario = Scenario()
        worker, now = scenario.worker, scenario.now
        worker.append(b"P1", scenario.record(_BUY))
        worker.decide_unread(now)
        worker.config(b.dumps(b.config(1, "PORTFOLIO", "P1", as_of=now, profile="DEFENSIVE")))
        worker.append(b"P1", scenario.record(_BUY))
        worker.decide_unread(now)

        verdicts, _ = replay(worker)

        assert [(v.status, v.differences) for v in verdicts] == [("identical", [])] * 2


def as_stored_by_1_0(worker: InMemoryWorker) -> None:
    """Rewrite every stored action as the 1.0 format wrote it: the full trace in details_json,
    no compact details (tests/service/test_action_records.py holds this equal to a real 1.0
    build's output)."""
    tables = worker.tables
    for i, row in enumerate(tables.risk_actions):
        body = orjson.loads(row.payload)
        del body["details"]
        body.update(schema_version="1.0", details_json=row.trace())
        tables.risk_actions[i] = dataclasses.replace(row, payload=orjson.dumps(body), trace=None)


class TestStoredOneZeroActions:
    """Actions stored by a 1.0 build, before risk.actions went to the compact 2.0 record."""

    @property_settings(30)
    @given(steps)
    def test_every_stored_1_0_action_replays_identical(self, generated):
        """Stored in the 1.0 format, every decision still replays identical: the replayed 2.0
        action is rendered in 1.0 with the replayed leg's full trace."""
        worker = Scenario().run(generated).worker
        as_stored_by_1_0(worker)

        verdicts, _ = replay(worker)

        assert not_identical(verdicts) == []

    def test_a_changed_verdict_in_a_stored_1_0_trace_is_reported(self):
        """A number changed inside a stored 1.0 details_json makes its decision different."""
        worker = Scenario().run([Decide((_BUY,), False)]).worker
        as_stored_by_1_0(worker)
        row = worker.tables.risk_actions[0]
        body = orjson.loads(row.payload)
        body["details_json"]["verdicts"][0]["limit"] = 12345.0
        worker.tables.risk_actions[0] = dataclasses.replace(row, payload=orjson.dumps(body))

        verdicts, _ = replay(worker)

        assert [(v.status, [d.field for d in v.differences]) for v in verdicts] == [
            ("different", ["details_json.verdicts"])]
