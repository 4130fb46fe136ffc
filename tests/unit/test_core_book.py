"""PortfolioBook: aggregates built once and kept in step incrementally."""

from __future__ import annotations

import math

import pytest
from core_builders import NOW, book, market, portfolio

from riskgate.core import PortfolioBook

pytestmark = pytest.mark.unit


def _aggregates(b: PortfolioBook) -> tuple:
    clean = lambda d: {k: round(v, 6) for k, v in d.items() if abs(v) > 1e-9}  # noqa: E731
    return (round(b.gross, 6), round(b.net, 6), clean(b.sector), clean(b.country),
            clean(b.cluster), clean(b.factor), clean(b.strategy), b.open_count)


MARKETS = {
    "AAA": market("AAA", 100.0, sector="TECH", country="US", cluster="C1",
                  factors=(("mom", 0.5),)),
    "BBB": market("BBB", 50.0, sector="TECH", country="DE", cluster="C2",
                  factors=(("mom", -1.0),)),
    "CCC": market("CCC", 10.0, sector="UTIL", country="US", cluster="C1", multiplier=10.0,
                  fx_to_base=0.5),
}


class TestPortfolioBook:
    def test_build_computes_every_aggregate(self) -> None:
        """Gross, net, sector, country, cluster, factor and open count come from the positions."""
        # Arrange
        positions = {"AAA": 10.0, "BBB": -20.0, "CCC": 4.0}
        # Act
        b = PortfolioBook(portfolio(positions, position_strategies={"AAA": "s1"}), MARKETS)
        # Assert
        assert _aggregates(b) == (
            2200.0, 200.0, {"TECH": 2000.0, "UTIL": 200.0}, {"US": 1200.0, "DE": 1000.0},
            {"C1": 1200.0, "C2": 1000.0}, {"mom": 1500.0}, {"s1": 1000.0}, 3)

    def test_apply_target_matches_a_rebuild(self) -> None:
        """After incremental updates every aggregate equals a full recompute."""
        # Arrange
        b = PortfolioBook(portfolio({"AAA": 10.0, "BBB": -20.0}), MARKETS)
        # Act
        b.apply_target("AAA", -5.0, MARKETS["AAA"], "s1")
        b.apply_target("CCC", 7.0, MARKETS["CCC"], "s2")
        b.apply_target("BBB", 0.0, MARKETS["BBB"], "s1")
        incremental = _aggregates(b)
        b.rebuild()
        # Assert
        assert incremental == _aggregates(b) and b.positions == {"AAA": -5.0, "CCC": 7.0}

    def test_reprice_revalues_one_ticker(self) -> None:
        """A new price moves that ticker's notional in every aggregate."""
        # Arrange
        b = PortfolioBook(portfolio({"AAA": 10.0}), MARKETS)
        # Act
        b.reprice(market("AAA", 120.0, sector="TECH", factors=(("mom", 0.5),)))
        # Assert
        assert (b.gross, b.sector["TECH"], b.factor["mom"]) == (1200.0, 1200.0, 600.0)

    def test_unpriced_positions_are_tracked(self) -> None:
        """A position without market data is counted but not valued."""
        # Arrange / Act
        b = PortfolioBook(portfolio({"AAA": 10.0, "ZZZ": 3.0}), MARKETS)
        # Assert
        assert (b.unpriced, b.open_count, b.gross, b.notional("ZZZ")) == ({"ZZZ"}, 2, 1000.0,
                                                                          None)

    def test_pricing_an_unpriced_position_clears_it(self) -> None:
        """Repricing an unpriced ticker values it and removes it from the unpriced set."""
        # Arrange
        b = PortfolioBook(portfolio({"ZZZ": 3.0}), {})
        # Act
        b.reprice(market("ZZZ", 10.0))
        # Assert
        assert (b.unpriced, b.gross, b.open_count) == (set(), 30.0, 1)

    @pytest.mark.parametrize("bad", [
        dict(equity=math.nan), dict(equity=0.0), dict(equity=-1.0), dict(pnl_today=math.inf),
        dict(peak_equity=-5.0), dict(positions={"AAA": math.nan}),
    ], ids=repr)  # fmt: skip
    def test_invalid_snapshot_is_flagged_not_raised(self, bad: dict) -> None:
        """A non-finite or non-positive number marks the book invalid instead of raising."""
        # Arrange
        values = dict(positions={"AAA": 1.0}) | bad
        positions = values.pop("positions")
        equity = values.pop("equity", 100_000.0)
        # Act
        b = PortfolioBook(portfolio(positions, equity=equity, **values), MARKETS)
        # Assert
        assert b.invalid is not None

    def test_copy_is_independent(self) -> None:
        """Changing a copy leaves the original untouched."""
        # Arrange
        b = PortfolioBook(portfolio({"AAA": 10.0}), MARKETS)
        clone = b.copy()
        # Act
        clone.apply_target("AAA", 50.0, MARKETS["AAA"])
        # Assert
        assert (b.positions, b.gross, clone.gross) == ({"AAA": 10.0}, 1000.0, 5000.0)

    def test_strategy_attribution_moves_with_the_ticker(self) -> None:
        """The strategy that sets a ticker takes over its gross exposure."""
        # Arrange
        b = PortfolioBook(portfolio({"AAA": 10.0}, position_strategies={"AAA": "s1"}), MARKETS)
        # Act
        b.apply_target("AAA", 20.0, MARKETS["AAA"], "s2")
        # Assert
        assert (round(b.strategy["s1"], 9), b.strategy["s2"]) == (0.0, 2000.0)

    def test_snapshot_round_trips(self) -> None:
        """snapshot() gives a Portfolio that builds an equal book."""
        # Arrange
        b = book({"AAA": 10.0}, pnl_today=-5.0)
        # Act
        again = PortfolioBook(b.snapshot(), {"AAA": market("AAA")})
        # Assert
        assert (again.positions, again.pnl_today, again.as_of, again.gross) == (
            {"AAA": 10.0}, -5.0, NOW, 1000.0)


class TestMarketData:
    def test_factor_mapping_is_stored_as_sorted_pairs(self) -> None:
        """Factors given as a mapping become (name, loading) pairs, sorted by name."""
        # Arrange / Act
        m = market("AAA", factors={"value": -0.2, "mom": 0.5})
        # Assert
        assert m.factors == (("mom", 0.5), ("value", -0.2))

    def test_unit_value_is_price_times_multiplier_times_fx(self) -> None:
        """One unit is worth price x multiplier x FX in the base currency."""
        # Arrange / Act
        m = market("FUT", 4_000.0, multiplier=50.0, fx_to_base=0.9)
        # Assert
        assert m.unit_value == pytest.approx(180_000.0)
