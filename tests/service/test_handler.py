"""The decision handler with in-memory state: outputs, contracts, duplicates, modes."""

from __future__ import annotations

import gc

import pytest

from riskgate.contracts.inputs import MarketMetrics
from riskgate.contracts.outputs import DeadLetter, RiskAction, TargetPosition
from riskgate.core import EmergencyLevel
from riskgate.records import InRecord
from riskgate.settings import Settings
from riskgate.store.state import PortfolioRow
from riskgate.worker import codec
from riskgate.worker.globals import EmergencyState, GlobalState, next_emergency
from riskgate.worker.handler import DecisionHandler
from tests.support import builders as b

pytestmark = pytest.mark.service

NOW = b.T0
TOPIC = "decisions.proposed"


def world(**prices: float) -> GlobalState:
    g = GlobalState()
    for i, (ticker, price) in enumerate(prices.items()):
        body = b.market(ticker, as_of=NOW, price=price, sector=["TECH", "ENERGY", "FIN"][i % 3])
        g.apply_market(codec.market(MarketMetrics.model_validate_json(b.dumps(body))))
    return g


def row(pid: str, equity: float = 1_000_000.0, **positions: float) -> PortfolioRow:
    return PortfolioRow(pid, snapshot_version=3, snapshot_as_of=NOW, equity=equity, nav=equity,
                        pnl_today=0.0, peak_equity=equity, positions=dict(positions))


def records(*bodies: dict | bytes, key: str = "P1") -> list[InRecord]:
    out = []
    for offset, body in enumerate(bodies):
        value = body if isinstance(body, bytes) else b.dumps(body)
        out.append(InRecord(TOPIC, 0, offset, key.encode(), value))
    return out


def run(handler: DecisionHandler, recs: list[InRecord], rows: dict[str, PortfolioRow],
        seen: set[str] | None = None):
    items = [handler.decode(r) for r in recs]
    return handler.handle(items, rows, seen or set(), NOW)


def outputs_of(result, topic: str) -> list[bytes]:
    return [r.value for r in result.outputs if r.topic == topic]


@pytest.fixture()
def settings() -> Settings:
    return Settings()


class TestOutputsFollowTheContract:
    def test_actions_targets_and_dead_letters_validate_against_the_output_models(self, settings):
        """Every record the handler publishes parses strictly as its topic's output model."""
        handler = DecisionHandler(settings, world(AAPL=100.0, XOM=50.0))
        recs = records(b.proposal("D1", "P1", "AAPL", qty=10.0, created_at=NOW),
                       b.proposal("D2", "P1", "NVDA", qty=10.0, created_at=NOW),
                       b"{not json",
                       b.proposal("D3", "P1", "XOM", qty=-1e9, created_at=NOW))
        result = run(handler, recs, {"P1": row("P1")})
        actions = [RiskAction.model_validate_json(v) for v in outputs_of(result, settings.topics.actions)]
        targets = [TargetPosition.model_validate_json(v) for v in outputs_of(result, settings.topics.targets)]
        dead = [DeadLetter.model_validate_json(v) for v in outputs_of(result, settings.topics.dlq)]
        assert [a.decision_id for a in actions] == ["D1", "D2", "D3"]
        assert [t.decision_id for t in targets] == ["D1", "D2", "D3"]
        assert [d.error_code.value for d in dead] == ["NOT_JSON"]
        assert actions[1].action_type.value == "REJECTED" and "NO_MARKET_DATA" in actions[1].reason_codes
        assert actions[2].action_type.value in {"CAPPED", "SCALED_DOWN", "REJECTED"}
        assert targets[2].target_position > -1e9

    def test_outputs_record_the_versions_they_were_decided_under(self, settings):
        """Each action carries the snapshot, market, config and emergency versions, and its offset."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", created_at=NOW)), {"P1": row("P1")})
        action = RiskAction.model_validate_json(outputs_of(result, settings.topics.actions)[0])
        assert (action.snapshot_version, action.market_version, action.source_offset) == (3, 1, 0)
        assert action.config_version == -1 and action.emergency_version == -1


class TestDuplicatesAndKeys:
    def test_repeat_within_a_batch_is_a_duplicate_without_target(self, settings):
        """The second record with one decision_id yields a DUPLICATE action and no target."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        d = b.proposal("D1", "P1", "AAPL", created_at=NOW)
        result = run(handler, records(d, d), {"P1": row("P1")})
        types = [a.action_type.value for a in map(RiskAction.model_validate_json,
                                                   outputs_of(result, settings.topics.actions))]
        assert types[1] == "DUPLICATE"
        assert len(outputs_of(result, settings.topics.targets)) == 1
        assert [p[0] for p in result.processed] == ["D1"]

    def test_decision_seen_in_an_earlier_batch_is_a_duplicate(self, settings):
        """A decision_id already in processed_decisions is not decided again."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", created_at=NOW)), {"P1": row("P1")},
                     seen={"D1"})
        assert outputs_of(result, settings.topics.targets) == []
        assert result.processed == []

    def test_key_that_is_not_the_portfolio_is_dead_lettered(self, settings):
        """A record keyed by another portfolio would break one-writer-per-portfolio, so it is refused."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        result = run(handler, records(b.proposal("D1", "P2", "AAPL", created_at=NOW), key="P1"),
                     {"P1": row("P1")})
        dead = [DeadLetter.model_validate_json(v) for v in outputs_of(result, settings.topics.dlq)]
        assert [d.error_code.value for d in dead] == ["KEY_MISMATCH"]
        assert outputs_of(result, settings.topics.actions) == []


class TestFailClosed:
    def test_portfolio_without_snapshot_is_rejected(self, settings):
        """With no snapshot the risk of a decision cannot be judged, so it is rejected."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", created_at=NOW)),
                     {"P1": PortfolioRow("P1")})
        action = RiskAction.model_validate_json(outputs_of(result, settings.topics.actions)[0])
        assert action.action_type.value == "REJECTED" and action.reason_codes == ("NO_SNAPSHOT",)

    def test_old_decision_is_expired_not_executed(self, settings):
        """A decision older than the max age is EXPIRED and its target leaves the position alone."""
        handler = DecisionHandler(settings, world(AAPL=100.0))
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", created_at=NOW - 3600)),
                     {"P1": row("P1", AAPL=5.0)})
        action = RiskAction.model_validate_json(outputs_of(result, settings.topics.actions)[0])
        target = TargetPosition.model_validate_json(outputs_of(result, settings.topics.targets)[0])
        assert action.action_type.value == "EXPIRED"
        assert (target.target_position, target.delta_position) == (5.0, 0.0)

    def test_global_halt_allows_only_de_risking(self, settings):
        """Under a global HALTED, an increase is rejected and a reduction passes."""
        g = world(AAPL=100.0)
        g.config.apply(1, "GLOBAL", None, None, None, "HALTED")
        handler = DecisionHandler(settings, g)
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", qty=20.0, created_at=NOW),
                                      b.proposal("D2", "P1", "AAPL", qty=2.0, created_at=NOW)),
                     {"P1": row("P1", AAPL=10.0)})
        actions = [RiskAction.model_validate_json(v) for v in outputs_of(result, settings.topics.actions)]
        assert actions[0].action_type.value == "REJECTED"
        assert actions[1].action_type.value == "OK" and actions[1].approved_position == 2.0


class TestEmergency:
    def test_emergency_never_flaps_without_rearm(self):
        """A NORMAL event after EMERGENCY is ignored unless it re-arms."""
        em = EmergencyState(EmergencyLevel.EMERGENCY, 1, "E1", NOW)
        calm = EmergencyState(EmergencyLevel.NORMAL, 2, "E2", NOW + 1)
        assert next_emergency(em, calm, rearm=False).level is EmergencyLevel.EMERGENCY
        assert next_emergency(em, calm, rearm=True).level is EmergencyLevel.NORMAL

    def test_older_emergency_version_is_ignored(self):
        """A replayed older version never replaces a newer state."""
        em = EmergencyState(EmergencyLevel.ELEVATED, 5, "E5", NOW)
        old = EmergencyState(EmergencyLevel.NORMAL, 4, "E4", NOW)
        assert next_emergency(em, old, rearm=True) is em

    def test_forced_derisk_command_cuts_gross_least_liquid_first(self, settings):
        """A FORCED_DERISK command yields one FORCED_DERISK action and target per name it cuts."""
        g = world(AAPL=100.0, XOM=50.0)
        g.emergency = EmergencyState(EmergencyLevel.EMERGENCY, 1, "E1", NOW, 0.5)
        handler = DecisionHandler(settings, g)
        command = {"schema_version": "1.0", "kind": "FORCED_DERISK", "decision_id": "derisk:E1:P1",
                   "strategy_id": "riskgate", "portfolio_id": "P1", "emergency_event_id": "E1",
                   "gross_cut_pct": 0.5, "created_at": b.iso(NOW)}
        r = row("P1", AAPL=1000.0, XOM=1000.0)
        result = run(handler, records(command), {"P1": r})
        actions = [RiskAction.model_validate_json(v) for v in outputs_of(result, settings.topics.actions)]
        targets = [TargetPosition.model_validate_json(v) for v in outputs_of(result, settings.topics.targets)]
        assert actions and {a.action_type.value for a in actions} == {"FORCED_DERISK"}
        assert all(t.priority == 0 and abs(t.target_position) <= 1000.0 for t in targets)
        gross_after = sum(abs(t.target_position) * (100.0 if t.ticker == "AAPL" else 50.0) for t in targets)
        cut_names = {t.ticker for t in targets}
        untouched = sum(1000.0 * (100.0 if k == "AAPL" else 50.0) for k in ("AAPL", "XOM") if k not in cut_names)
        assert gross_after + untouched <= 0.5 * 150_000.0 + 1e-6
        assert len({a.action_id for a in actions}) == len(actions)

    def test_emergency_rejects_risk_increase(self, settings):
        """Under EMERGENCY a proposal that increases a position is not approved."""
        g = world(AAPL=100.0)
        g.emergency = EmergencyState(EmergencyLevel.EMERGENCY, 1, "E1", NOW, 0.5)
        handler = DecisionHandler(settings, g)
        result = run(handler, records(b.proposal("D1", "P1", "AAPL", qty=50.0, created_at=NOW)),
                     {"P1": row("P1", AAPL=10.0)})
        action = RiskAction.model_validate_json(outputs_of(result, settings.topics.actions)[0])
        assert action.action_type.value == "REJECTED" and action.approved_position == 10.0


class TestRuntimeConfig:
    def test_inconsistent_config_is_refused_and_last_good_stays(self):
        """A net cap above the gross cap is refused; the limits in force do not change."""
        g = GlobalState()
        g.config.apply(1, "GLOBAL", None, "DEFENSIVE", {"gross_cap": 1.0}, None)
        before = g.config.limits("P1", "S1")
        with pytest.raises(ValueError):
            g.config.apply(2, "GLOBAL", None, None, {"net_cap": 2.0}, None)
        assert g.config.version == 1
        assert g.config.limits("P1", "S1") == before

    def test_profile_switch_applies_without_restart(self):
        """A newer config version switches the profile for the scope it names."""
        g = GlobalState()
        g.config.apply(1, "GLOBAL", None, "NORMAL", None, None)
        g.config.apply(2, "PORTFOLIO", "P1", "DEFENSIVE", None, None)
        assert g.config.limits("P1", "S1")[1] == "DEFENSIVE"
        assert g.config.limits("P2", "S1")[1] == "NORMAL"


class TestTheCollector:
    def test_a_batch_runs_with_the_collector_on_and_the_start_up_heap_frozen(self, settings):
        """handle pauses nothing process-wide: the collector is on while each decision is
        decided, and what was alive before the first batch is frozen out of its reach."""
        # Arrange
        handler = DecisionHandler(settings, world(AAPL=100.0))
        items = [handler.decode(r) for r in records(
            b.proposal("D1", "P1", "AAPL", qty=1.0, created_at=NOW),
            b.proposal("D2", "P1", "AAPL", qty=2.0, created_at=NOW))]
        collector_on: list[bool] = []
        decide = handler._decide

        def observed(*args, **kwargs):
            collector_on.append(gc.isenabled())
            return decide(*args, **kwargs)

        handler._decide = observed  # type: ignore[method-assign]

        # Act
        handler.handle(items, {"P1": row("P1")}, set(), NOW)

        # Assert
        assert collector_on == [True, True]
        assert gc.get_freeze_count() > 0
