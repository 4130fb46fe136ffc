"""assess, assess_batch, plan_forced_derisk and the Outcome they return."""

from __future__ import annotations

import json

import pytest
from core_builders import NOW, book, env, loose, market, proposal, run

from riskgate.core import (
    CHAIN_ORDER,
    PROFILES,
    ActionType,
    EmergencyLevel,
    Portfolio,
    PortfolioBook,
    action_id,
    assess,
    assess_batch,
    build_chain,
    plan_forced_derisk,
)

pytestmark = pytest.mark.unit


class TestChainOrder:
    def test_documented_order(self) -> None:
        """The chain runs gates, halts, quality, size, exposure, liquidity, rounding."""
        # Arrange / Act
        order = CHAIN_ORDER
        # Assert
        assert order == (
            "DecisionAge", "InputValidity", "MarketData", "StaleInput", "TradingState",
            "EmergencyState", "DailyLossHalt", "MaxDrawdownHalt", "EmergencyDrawdownHalt",
            "RestrictedList", "MinConfidence", "PriceCollar", "MaxSpread", "FatFinger",
            "MaxOrderQuantity", "ProtectiveLevels", "LongOnly", "PerNameCap", "PositionSizeCap", "MaxRiskPerTrade",
            "StrategyBudget", "SectorCap", "CountryCap", "FactorCap", "ClusterCap",
            "GrossExposureCap", "NetExposureCap", "LeverageCap", "MaxOpenPositions",
            "AdvParticipation", "LotRounding")

    def test_disabled_caps_are_left_out(self) -> None:
        """NORMAL enables no sector, gross or ADV cap, so they are not in its chain."""
        # Arrange / Act
        names = build_chain(PROFILES["NORMAL"]).names
        # Assert
        assert "SectorCap" not in names and "PositionSizeCap" in names

    def test_a_cap_changes_what_later_constraints_see(self) -> None:
        """After the position cap cuts to 10 units, the %ADV check sees the cut trade."""
        # Arrange
        e = env(loose(position_size_cap=1_000.0, max_adv_participation=0.5))
        # Act
        outcome = run(proposal(50.0), m=market(adv=25.0), e=e)
        # Assert
        adv = next(v for v in outcome.verdicts() if v["constraint"] == "AdvParticipation")
        assert (adv["value"], adv["verdict"], outcome.target_position) == (0.4, "OK", 10.0)


class TestOutcome:
    def test_ok_outcome_carries_the_target(self) -> None:
        """An approved proposal becomes the target, with notional, weight and no cut."""
        # Arrange / Act
        outcome = run(proposal(20.0), book({"AAA": 5.0}))
        # Assert
        assert (outcome.action_type, outcome.target_position, outcome.delta_position,
                outcome.target_notional, outcome.target_weight, outcome.max_passing_position,
                outcome.priority, outcome.reason_codes) == (
            ActionType.OK, 20.0, 15.0, 2_000.0, 0.02, None, 2, ())

    def test_weight_target_is_sized_from_equity(self) -> None:
        """target_weight 0.05 on 100k at 100 per unit is 50 units."""
        # Arrange / Act
        outcome = run(proposal(None, 0.05))
        # Assert
        assert (outcome.proposed_position, outcome.target_position) == (50.0, 50.0)

    def test_capped_outcome_reports_largest_passing_size(self) -> None:
        """A cut reports its binding reason and the largest size that would pass."""
        # Arrange / Act
        outcome = run(proposal(50.0), e=env(loose(position_size_cap=1_000.0)))
        # Assert
        assert (outcome.action_type, outcome.reason_codes, outcome.max_passing_position,
                outcome.approved_position, outcome.proposed_position) == (
            ActionType.CAPPED, ("POSITION_SIZE_CAP",), 10.0, 10.0, 50.0)

    def test_last_binding_kind_names_the_action(self) -> None:
        """A cap followed by a tighter budget scale is SCALED_DOWN, with both reasons."""
        # Arrange
        e = env(loose(position_size_cap=5_000.0, strategy_budget=0.01))
        # Act
        outcome = run(proposal(100.0), e=e)
        # Assert
        assert (outcome.action_type, outcome.reason_codes, outcome.target_position) == (
            ActionType.SCALED_DOWN, ("POSITION_SIZE_CAP", "STRATEGY_BUDGET"),
            pytest.approx(10.0))

    def test_rejected_outcome_keeps_the_projected_position(self) -> None:
        """A rejection targets the unchanged projected position with zero delta."""
        # Arrange / Act
        outcome = run(proposal(20.0, confidence=0.1), book({"AAA": 5.0}),
                      e=env(loose(min_confidence=0.5)))
        # Assert
        assert (outcome.target_position, outcome.delta_position, outcome.priority) == (5.0, 0.0,
                                                                                     2)

    def test_derisking_has_priority_one(self) -> None:
        """A cut is priority 1, ahead of risk increases."""
        # Arrange / Act
        outcome = run(proposal(2.0), book({"AAA": 5.0}))
        # Assert
        assert outcome.priority == 1

    def test_details_are_json_serialisable_and_complete(self) -> None:
        """details() has every verdict, the market values used and the limits in force."""
        # Arrange
        outcome = run(proposal(50.0, confidence=0.1), e=env(PROFILES["NORMAL"]))
        # Act
        details = json.loads(json.dumps(outcome.details(), allow_nan=False))
        # Assert
        names = [v["constraint"] for v in details["verdicts"]]
        assert names == list(build_chain(PROFILES["NORMAL"]).names)
        assert details["verdicts"][-1]["verdict"] == "SKIPPED"
        assert {"constraint", "verdict", "reason", "limit", "value", "headroom"} <= set(
            details["verdicts"][0])
        assert (details["market"]["price"], details["market"]["atr"],
                details["limits"]["max_leverage"], details["action_type"]) == (
            100.0, 2.0, 5.0, "REJECTED")

    def test_summary_is_one_readable_line(self) -> None:
        """The summary names the action, the sizes and the binding constraint."""
        # Arrange / Act
        outcome = run(proposal(50.0), e=env(loose(position_size_cap=1_000.0)))
        # Assert
        assert outcome.risk_reasoning_summary == (
            "CAPPED AAA: proposed 50, approved 10 (from 0); PositionSizeCap POSITION_SIZE_CAP "
            "limit 1000 value 5000; largest passing 10")

    def test_same_input_same_output(self) -> None:
        """Two runs on equal inputs give equal outcomes and details."""
        # Arrange
        args = (proposal(75.0), book({"AAA": 5.0}), market(),
                env(loose(position_size_cap=3_000.0, sector_cap=0.05)))
        # Act
        first, second = assess(*args), assess(*args)
        # Assert
        assert first.details() == second.details()

    def test_plain_portfolio_and_market_mapping_are_accepted(self) -> None:
        """A Portfolio snapshot is priced from a market mapping."""
        # Arrange
        snapshot = Portfolio("pf-1", 100_000.0, peak_equity=100_000.0,
                             positions={"AAA": 5.0}, as_of=NOW)
        # Act
        outcome = assess(proposal(10.0), snapshot, {"AAA": market()}, env())
        # Assert
        assert (outcome.action_type, outcome.delta_position) == (ActionType.OK, 5.0)

    def test_action_id_is_deterministic(self) -> None:
        """action_id is uuid5 of the decision id in the riskgate namespace."""
        # Arrange / Act
        first, second = action_id("dec-1"), action_id("dec-1")
        # Assert
        assert first == second and first != action_id("dec-2")


class TestAssessBatch:
    def test_later_proposals_see_earlier_targets(self) -> None:
        """The second proposal on the same sector sees the first one's exposure."""
        # Arrange
        b = book()
        markets = {"AAA": market("AAA"), "BBB": market("BBB")}
        proposals = [proposal(200.0, decision_id="d1"),
                     proposal(200.0, ticker="BBB", decision_id="d2")]
        # Act
        outcomes = assess_batch(proposals, b, markets, env(loose(sector_cap=0.3)))
        # Assert
        assert [o.target_position for o in outcomes] == [200.0, pytest.approx(100.0)]
        assert b.sector["TECH"] == pytest.approx(30_000.0)

    def test_batch_without_apply_leaves_the_book(self) -> None:
        """apply=False assesses every proposal against the same book."""
        # Arrange
        b = book()
        markets = {"AAA": market("AAA"), "BBB": market("BBB")}
        proposals = [proposal(200.0, decision_id="d1"),
                     proposal(200.0, ticker="BBB", decision_id="d2")]
        # Act
        outcomes = assess_batch(proposals, b, markets, env(loose(sector_cap=0.3)), apply=False)
        # Assert
        assert [o.target_position for o in outcomes] == [200.0, 200.0] and b.gross == 0.0


class TestForcedDerisk:
    MARKETS = {
        "LIQ": market("LIQ", 100.0, adv=1_000_000.0),
        "ILL": market("ILL", 100.0, adv=1_000.0),
        "MID": market("MID", 100.0, adv=50_000.0),
    }

    def _book(self) -> PortfolioBook:
        return book({"LIQ": 100.0, "ILL": -100.0, "MID": 100.0}, self.MARKETS)

    def test_least_liquid_names_are_cut_first(self) -> None:
        """A 50% gross cut takes all of ILL then half of MID, and leaves LIQ."""
        # Arrange
        e = env(emergency_level=EmergencyLevel.EMERGENCY, emergency_as_of=NOW)
        # Act
        outcomes = plan_forced_derisk(self._book(), self.MARKETS, e, 0.5, event_id="ev-1")
        # Assert
        assert [(o.ticker, o.target_position) for o in outcomes] == [("ILL", 0.0),
                                                                      ("MID", 50.0)]
        assert {(o.action_type, o.priority, o.decision_id) for o in outcomes} == {
            (ActionType.FORCED_DERISK, 0, "derisk:ev-1:pf-1")}

    def test_full_cut_flattens_everything(self) -> None:
        """The boundary: a 100% cut targets zero for every priced position."""
        # Arrange / Act
        outcomes = plan_forced_derisk(self._book(), self.MARKETS, env(), 1.0)
        # Assert
        assert sorted(o.target_position for o in outcomes) == [0.0, 0.0, 0.0]

    def test_cut_rounds_to_whole_lots_by_cutting_more(self) -> None:
        """A cut that ends between lots leaves the smaller whole-lot position."""
        # Arrange
        markets = {"AAA": market("AAA", 100.0, lot_size=30.0)}
        # Act
        outcomes = plan_forced_derisk(book({"AAA": 100.0}, markets), markets, env(), 0.5)
        # Assert
        assert outcomes[0].target_position == 30.0

    @pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
    def test_invalid_cut_fraction_is_refused(self, bad: float) -> None:
        """gross_cut_pct outside (0, 1] raises ValueError."""
        # Arrange / Act / Assert
        with pytest.raises(ValueError):
            plan_forced_derisk(self._book(), self.MARKETS, env(), bad)

    def test_book_is_not_changed_until_applied(self) -> None:
        """Planning leaves the book; applying each outcome cuts gross by the fraction."""
        # Arrange
        b = self._book()
        outcomes = plan_forced_derisk(b, self.MARKETS, env(), 0.5)
        before = b.gross
        # Act
        for outcome in outcomes:
            b.apply(outcome)
        # Assert
        assert (before, b.gross) == (30_000.0, pytest.approx(15_000.0))


class TestActionId:
    def test_action_id_is_the_uuid5_of_the_decision(self):
        """The fast derivation equals uuid5(RISKGATE_NAMESPACE, decision_id + suffix) for many names."""
        import uuid

        from riskgate.core import RISKGATE_NAMESPACE, action_id

        names = [f"D-{i}" for i in range(2000)] + ["", "derisk:E1:P1", "ü-ñ", "x" * 300]
        for name in names:
            for suffix in ("", "#AAPL", "#dup@3:17"):
                assert action_id(name, suffix) == str(uuid.uuid5(RISKGATE_NAMESPACE, name + suffix))
