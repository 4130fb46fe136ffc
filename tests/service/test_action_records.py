"""The compact risk action (risk.actions 2.0) the handler writes: its contract, its size, what it
keeps, and that the stored 1.0 actions still compare identical through replay's renderer."""

from __future__ import annotations

import statistics
from typing import Any, get_type_hints

import orjson
import pytest
from bench import workload as w
from pydantic import BaseModel

from riskgate.contracts.actions import ActionDetails, BindingVerdict, BuildIdentity, MarketUsed
from riskgate.contracts.inputs import MarketMetrics, RiskConfigEvent
from riskgate.contracts.outputs import RiskAction, TargetPosition
from riskgate.contracts.payloads import (
    ActionPayload,
    BuildPayload,
    DetailsPayload,
    MarketPayload,
    TargetPayload,
    VerdictPayload,
)
from riskgate.records import InRecord
from riskgate.replay.formats import render_action
from riskgate.settings import Settings
from riskgate.stats.codec import tally
from riskgate.store.state import PortfolioRow
from riskgate.worker import codec
from riskgate.worker.globals import GlobalState
from riskgate.worker.handler import DecisionHandler
from riskgate.worker.outputs import TracedAction
from tests.support import action_scenario
from tests.support import builders as b

pytestmark = pytest.mark.service

MAX_ACTION_BYTES = 1536  # the compact record's aim: at most 1.5 KB on the wire

SHAPES = [(ActionPayload, RiskAction), (TargetPayload, TargetPosition),
          (DetailsPayload, ActionDetails), (VerdictPayload, BindingVerdict),
          (MarketPayload, MarketUsed), (BuildPayload, BuildIdentity)]


@pytest.fixture(scope="module")
def scenario():
    return action_scenario.run()


def actions(result) -> list[dict[str, Any]]:
    return [orjson.loads(a.payload) for a in result.actions]


def by_decision(result) -> dict[str, dict[str, Any]]:
    return {a["decision_id"]: a for a in actions(result) if a["action_type"] != "DUPLICATE"}


class TestThePayloadShapes:
    @pytest.mark.parametrize(("shape", "model"), SHAPES, ids=lambda x: x.__name__)
    def test_each_hot_path_dict_names_exactly_its_models_fields(self, shape, model) -> None:
        """The TypedDict the worker builds has the model's fields, no more and no fewer."""
        assert set(get_type_hints(shape)) == set(model.model_fields)

    def test_every_record_of_the_batch_validates_against_its_model(self, scenario) -> None:
        """Each published action and target parses strictly as the topic's model."""
        _, result = scenario
        parsed: list[BaseModel] = []
        for r in result.outputs:
            model = {"risk.actions": RiskAction, "risk.targets": TargetPosition}[r.topic]
            parsed.append(model.model_validate_json(r.value))

        assert {type(p) for p in parsed} == {RiskAction, TargetPosition}
        assert all(a.schema_version == "2.0" for a in parsed if isinstance(a, RiskAction))


class TestWhatTheCompactRecordKeeps:
    def test_a_capped_action_keeps_its_binding_verdict_with_its_numbers(self, scenario) -> None:
        """A CAPPED action keeps the cap that bound, with limit, value, headroom and bound."""
        _, result = scenario

        verdicts = by_decision(result)["D3"]["details"]["verdicts"]

        assert [(v["verdict"], v["reason"]) for v in verdicts] == [("CAPPED", "PER_NAME_WEIGHT_CAP")]
        assert verdicts[0]["limit"] == 0.05 and verdicts[0]["headroom"] < 0
        assert verdicts[0]["bound"] == 500.0

    def test_an_ok_within_all_limits_keeps_no_verdict(self, scenario) -> None:
        """An OK that nothing adjusted carries no verdict; the full trace is replay's."""
        _, result = scenario

        assert by_decision(result)["D1"]["details"]["verdicts"] == []

    def test_an_ok_adjusted_by_lot_rounding_keeps_that_adjustment(self, scenario) -> None:
        """The one passing verdict that changed an OK's target (lot rounding) is kept."""
        _, result = scenario

        verdicts = by_decision(result)["D4"]["details"]["verdicts"]

        assert [(v["verdict"], v["reason"], v["bound"]) for v in verdicts] == [
            ("OK", "LOT_ROUNDING", 10.0)]

    def test_the_action_keeps_versions_limits_reference_market_and_build(self, scenario) -> None:
        """The inputs' versions, the limits digest the witness has, the traded ticker's market
        values and the build identity are on the action; the limits themselves are not."""
        _, result = scenario
        row = next(a for a in result.actions if a.decision_id == "D3")
        body, witness = orjson.loads(row.payload), orjson.loads(row.witness)

        assert (body["config_version"], body["snapshot_version"], body["market_version"]) == (1, 3, 1)
        assert body["details"]["limits_digest"] == witness["limits_digest"]
        assert body["details"]["build"] == witness["build"]
        assert body["details"]["market"]["price"] == 100.0
        assert "limits" not in body["details"] and "details_json" not in body

    def test_the_full_trace_stays_available_to_replay(self, scenario) -> None:
        """The published record carries the leg's full trace on demand, never on the wire."""
        _, result = scenario
        record = next(r for r in result.outputs if r.topic == "risk.actions")

        assert isinstance(record, TracedAction) and record.trace is not None
        assert len(record.trace()["verdicts"]) > 10
        assert b"verdicts" in record.value and b"constraint" not in record.value


class TestReaders:
    def test_stats_counts_a_2_0_action_by_its_top_level_fields(self, scenario) -> None:
        """riskgate stats reads strategy, action type, reason codes and time, which 2.0 kept."""
        _, result = scenario
        row = next(a for a in result.actions if a.decision_id == "D6")

        counted = tally(row.payload)

        assert (counted.strategy_id, counted.action_type) == ("S1", "REJECTED")
        assert counted.reason_codes == ("FAT_FINGER", "PER_NAME_WEIGHT_CAP")


class TestSize:
    def test_every_action_of_the_batch_fits_the_aim(self, scenario) -> None:
        """No action of the batch (rejections by three checks included) is over 1.5 KB."""
        _, result = scenario

        assert max(len(a.payload) for a in result.actions) <= MAX_ACTION_BYTES

    def test_the_bench_workload_shrinks_to_under_the_aim(self) -> None:
        """The bench workload's actions are a fifth of the 1.0 size and all under 1.5 KB."""
        sizes = bench_action_sizes()

        assert max(sizes) <= MAX_ACTION_BYTES
        assert statistics.median(sizes) < 1_200


class TestStoredOneZeroActions:
    def test_the_1_0_actions_of_the_batch_render_identical(self, scenario) -> None:
        """What the 1.0 build stored for the batch equals the replayed 2.0 action rendered in
        1.0 with the replayed trace, field for field (fixtures/actions_v1.json)."""
        _, result = scenario
        golden = action_scenario.golden_v1()

        rendered = [render_action(orjson.loads(a.payload), old, a.trace)
                    for a, old in zip(result.actions, golden, strict=True)]

        assert rendered == golden

    def test_a_changed_number_in_a_1_0_trace_is_a_difference(self, scenario) -> None:
        """A 1.0 record whose stored trace was altered does not render equal."""
        _, result = scenario
        golden = action_scenario.golden_v1()
        golden[2]["details_json"]["verdicts"][0]["limit"] = 1.0

        assert render_action(orjson.loads(result.actions[2].payload), golden[2],
                             result.actions[2].trace) != golden[2]


def bench_action_sizes() -> list[int]:
    """The action sizes of 200 bench-workload decisions on a 10-position book."""
    now = b.T0
    world = GlobalState(max_snapshot_age_s=86_400.0, max_price_age_s=86_400.0)
    for i in range(w.TICKERS):
        world.apply_market(codec.market(MarketMetrics.model_validate_json(
            b.dumps(w.market_body(i, now)))))
    config = b.config(1, as_of=now, profile=w.PROFILE, limits=w.LIMITS)
    world.config.apply(*codec.config_change(RiskConfigEvent.model_validate_json(b.dumps(config))))
    row = PortfolioRow("P1", snapshot_version=1, snapshot_as_of=now, equity=w.EQUITY,
                       nav=w.EQUITY, pnl_today=-1_000.0, peak_equity=w.EQUITY,
                       positions=w.holdings(10))
    handler = DecisionHandler(Settings(partitions=1), world)
    items = [handler.decode(InRecord("decisions.proposed", 0, k, b"P1",
                                     w.proposal_bytes(k, "P1", now))) for k in range(200)]
    return [len(a.payload) for a in handler.handle(items, {"P1": row}, set(), now).actions]
