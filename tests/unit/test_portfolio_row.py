"""The stored portfolio row's projected positions and the held tickers the witness records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskgate.store.state import PortfolioRow

pytestmark = pytest.mark.unit

_TICKERS = st.sampled_from(["AAPL", "MSFT", "NVDA", "TSLA", "XOM"])
_QTY = st.one_of(st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False))


class TestHeld:
    @given(positions=st.dictionaries(_TICKERS, _QTY),
           pending=st.dictionaries(_TICKERS, st.tuples(_QTY, st.floats(0.0, 200.0))),
           now=st.floats(0.0, 300.0))
    def test_held_is_exactly_the_tickers_of_the_projected_positions(self, positions, pending, now):
        """For any snapshot and targets in flight, held() names the projected positions' tickers."""
        # Arrange
        row = PortfolioRow("P", positions=positions,
                           pending={t: [q, f"A-{t}", at] for t, (q, at) in pending.items()})
        # Act
        held = row.held(now, ttl_s=100.0)
        # Assert
        assert held == set(row.projected(now, ttl_s=100.0))

    def test_an_expired_target_gives_way_to_the_snapshot(self):
        """A target older than its time-to-live no longer hides the snapshot's flat position."""
        # Arrange
        row = PortfolioRow("P", positions={"AAPL": 0.0, "MSFT": 5.0},
                           pending={"AAPL": [10.0, "A1", 0.0], "MSFT": [0.0, "A2", 95.0]})
        # Act / Assert
        assert row.held(now=50.0, ttl_s=100.0) == {"AAPL"}
        assert row.held(now=150.0, ttl_s=100.0) == set()
        assert row.held(now=250.0, ttl_s=100.0) == {"MSFT"}
