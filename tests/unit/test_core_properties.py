"""Hypothesis properties of the chain: caps hold, EMERGENCY only cuts, tighter never approves
more, determinism, de-risking is never stopped by an exposure cap, bad numbers never pass."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from core_builders import NOW, property_settings
from core_strategies import (
    approvable_scenarios,
    environments,
    limit_sets,
    scenarios,
    worlds,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from riskgate.core import (
    PROFILES,
    ActionType,
    EmergencyLevel,
    LimitsError,
    PortfolioBook,
    Proposal,
    assess,
    at_least_as_tight,
    is_derisk,
)
from riskgate.core.limits import UPPER_CAPS

pytestmark = pytest.mark.unit

APPROVED = (ActionType.OK, ActionType.CAPPED, ActionType.SCALED_DOWN)
EXPOSURE_CODES = {"PER_NAME_WEIGHT_CAP", "PER_NAME_NOTIONAL_CAP", "POSITION_SIZE_CAP",
                  "STRATEGY_BUDGET", "SECTOR_CAP", "COUNTRY_CAP", "FACTOR_CAP", "CLUSTER_CAP",
                  "GROSS_EXPOSURE_CAP", "NET_EXPOSURE_CAP", "LEVERAGE_CAP",
                  "MAX_OPEN_POSITIONS"}  # fmt: skip


def _close_le(a: float, b: float) -> bool:
    return a <= b + 1e-7 * max(1.0, abs(b))


def _check_caps(outcome, before: PortfolioBook, after: PortfolioBook) -> None:
    lim, eq = outcome.limits, before.equity
    cur, new, unit = outcome.current, outcome.approved_position, outcome.unit
    market = outcome.market
    for cap in (lim.per_name_weight_cap and lim.per_name_weight_cap * eq,
                lim.per_name_notional_cap, lim.position_size_cap, lim.strategy_budget
                and lim.strategy_budget * eq):  # fmt: skip
        if cap is not None:
            assert _close_le(abs(new) * unit, max(cap, abs(cur) * unit))
    for cap, name in ((lim.sector_cap, "sector"), (lim.country_cap, "country"),
                      (lim.cluster_cap, "cluster")):  # fmt: skip
        if cap is not None:
            for key, value in getattr(after, name).items():
                assert _close_le(value, max(cap * eq, getattr(before, name).get(key, 0.0)))
    for cap in (lim.gross_cap, lim.max_leverage):
        if cap is not None:
            assert _close_le(after.gross, max(cap * eq, before.gross))
    if lim.net_cap is not None:
        assert _close_le(abs(after.net), max(lim.net_cap * eq, abs(before.net)))
    for name, cap in lim.factor_caps.items():
        was, now = abs(before.factor.get(name, 0.0)), abs(after.factor.get(name, 0.0))
        assert _close_le(now, max(cap * eq, was))
    assert after.open_count <= max(lim.max_open_positions, before.open_count)
    if lim.max_adv_participation is not None:
        assert market.adv is not None
        assert _close_le(abs(new - cur), lim.max_adv_participation * market.adv)
    added = abs(new) - abs(cur) if new * cur > 0 else abs(new)
    stop = outcome.proposal.stop_loss
    distance = (abs(market.price - stop) if stop is not None else
                lim.stop_atr_multiple * market.atr if market.atr is not None else
                lim.base_stop_pct * market.price)  # fmt: skip
    loss = added * distance * market.multiplier * market.fx_to_base
    assert _close_le(loss, lim.max_risk_per_trade * eq)


class TestChainProperties:
    @property_settings(200)
    @given(approvable_scenarios())
    def test_approved_outcomes_exceed_no_enabled_cap(self, scenario) -> None:
        """After OK, CAPPED or SCALED_DOWN no enabled cap is exceeded (or, if the book was
        already beyond it, made worse)."""
        # Arrange
        book, markets, proposal, env = scenario
        book.rebuild()
        # Act
        outcome = assess(proposal, book, markets[proposal.ticker], env)
        # Assert
        assume(outcome.action_type in APPROVED and outcome.delta_position != 0)
        assume(not is_derisk(outcome.approved_position, outcome.current))
        after = book.copy()
        after.apply(outcome)
        after.rebuild()
        _check_caps(outcome, book, after)

    @property_settings(200)
    @given(st.one_of(approvable_scenarios(), scenarios()))
    def test_cuts_only_move_toward_the_current_position(self, scenario) -> None:
        """The approved target always lies between the current position and the proposal:
        a cap never forces a cut the strategy did not ask for."""
        # Arrange
        book, markets, proposal, env = scenario
        # Act
        outcome = assess(proposal, book, markets[proposal.ticker], env)
        # Assert
        _assert_between(outcome.approved_position, outcome.current, outcome.proposed_position)

    @property_settings(200)
    @given(scenarios())
    def test_emergency_never_increases_gross_or_any_position(self, scenario) -> None:
        """Under EMERGENCY no |position| and no gross exposure ever grows."""
        # Arrange
        book, markets, proposal, env = scenario
        env = replace(env, emergency_level=EmergencyLevel.EMERGENCY)
        # Act
        outcome = assess(proposal, book, markets[proposal.ticker], env)
        after = book.copy()
        after.apply(outcome)
        # Assert
        assert is_derisk(outcome.approved_position, outcome.current)
        assert _close_le(after.gross, book.gross)

    @property_settings(200)
    @given(st.one_of(approvable_scenarios(), scenarios()), st.data())
    def test_tighter_limits_never_approve_more(self, scenario, data) -> None:
        """With limits at least as tight on every limit, the approved target lies between the
        current position and the looser limits' approved target."""
        # Arrange
        book, markets, proposal, env = scenario
        loose = env.limits
        factors = {n: data.draw(st.floats(0.0, 1.0)) for n in UPPER_CAPS}
        changes = {n: getattr(loose, n) * f for n, f in factors.items()
                   if getattr(loose, n) is not None}
        changes["max_open_positions"] = math.floor(changes["max_open_positions"])
        changes["min_confidence"] = data.draw(st.floats(loose.min_confidence, 1.0))
        changes["long_only"] = loose.long_only or data.draw(st.booleans())
        try:
            tight = replace(loose, **changes)
        except LimitsError:
            assume(False)
        assert at_least_as_tight(tight, loose)
        # Act
        wide = assess(proposal, book, markets[proposal.ticker], env)
        narrow = assess(proposal, book, markets[proposal.ticker], replace(env, limits=tight))
        # Assert
        _assert_between(narrow.approved_position, wide.current, wide.approved_position)

    @property_settings(200)
    @given(st.one_of(approvable_scenarios(), scenarios()))
    def test_defensive_never_approves_more_than_normal(self, scenario) -> None:
        """DEFENSIVE, tighter than NORMAL on every limit, never approves more than NORMAL."""
        # Arrange
        book, markets, proposal, env = scenario
        normal = replace(env, limits=PROFILES["NORMAL"])
        defensive = replace(env, limits=PROFILES["DEFENSIVE"])
        # Act
        wide = assess(proposal, book, markets[proposal.ticker], normal)
        narrow = assess(proposal, book, markets[proposal.ticker], defensive)
        # Assert
        _assert_between(narrow.approved_position, wide.current, wide.approved_position)

    @property_settings(200)
    @given(scenarios())
    def test_same_input_gives_same_output(self, scenario) -> None:
        """Equal inputs give equal outcomes, details included."""
        # Arrange
        book, markets, proposal, env = scenario
        twin = book.copy()
        # Act
        first = assess(proposal, book, markets[proposal.ticker], env)
        second = assess(proposal, twin, markets[proposal.ticker], env)
        # Assert
        assert first.details() == second.details()
        assert first.risk_reasoning_summary == second.risk_reasoning_summary

    @property_settings(200)
    @given(worlds(), limit_sets(), st.floats(0.0, 1.0), st.data())
    def test_verified_derisking_is_never_rejected_by_an_exposure_cap(
            self, world, limits, fraction, data) -> None:
        """A cut toward flat (no sign flip) never binds an exposure or size cap."""
        # Arrange
        book, markets = world
        assume(book.positions)
        ticker = data.draw(st.sampled_from(sorted(book.positions)))
        target = book.positions[ticker] * fraction
        proposal = Proposal("dec", "s1", "pf", ticker, target_quantity=target,
                            confidence=0.0, created_at=NOW)
        # Act
        outcome = assess(proposal, book, markets[ticker], environments(limits))
        # Assert
        assert not EXPOSURE_CODES & set(outcome.reason_codes)
        assert outcome.action_type is not ActionType.REJECTED or outcome.reason_codes == (
            "LOT_ROUNDING",)

    @property_settings(200)
    @given(scenarios(), st.sampled_from([math.nan, math.inf, -math.inf, -1.0]), st.data())
    def test_bad_numbers_never_pass(self, scenario, bad, data) -> None:
        """NaN, inf or a negative where a positive belongs always leaves the position as is."""
        # Arrange
        book, markets, proposal, env = scenario
        where = data.draw(st.sampled_from(["price", "atr", "spread_bps", "confidence",
                                           "stop_loss", "equity", "target_weight"]))
        market = markets[proposal.ticker]
        if where in ("price", "atr", "spread_bps"):
            market = replace(market, **{where: bad})
        elif where == "equity":
            book = PortfolioBook(replace(book.snapshot(), equity=bad), markets)
        elif where == "target_weight":
            weight = 11.0 if bad == -1.0 else bad  # a negative weight is a short: use range
            proposal = replace(proposal, target_quantity=None, target_weight=weight)
        else:
            proposal = replace(proposal, **{where: bad})
        # Act
        outcome = assess(proposal, book, market, env)
        # Assert
        assert outcome.reason_codes == ("INVALID_INPUT",)
        assert outcome.approved_position == outcome.current


def _assert_between(value: float, current: float, bound: float) -> None:
    low, high = min(current, bound), max(current, bound)
    slack = 1e-7 * max(1.0, abs(low), abs(high))
    assert low - slack <= value <= high + slack, (value, current, bound)
