"""The stored portfolio row's projected positions, and the batch's book that mirrors them: the
witness records the book's tickers as the held ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskgate.store.state import PortfolioRow
from riskgate.worker.globals import GlobalState
from riskgate.worker.outputs import BatchContext

pytestmark = pytest.mark.unit

_TICKERS = st.sampled_from(["AAPL", "MSFT", "NVDA", "TSLA", "XOM"])
_QTY = st.one_of(st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False))
_TTL_S = 100.0


def _target(ticker: str, qty: float, current: float) -> SimpleNamespace:
    """What BatchContext.apply reads of an outcome."""
    return SimpleNamespace(ticker=ticker, target_position=qty, delta_position=qty - current,
                           market=None, strategy_id=None)


class TestProjected:
    def test_an_expired_target_gives_way_to_the_snapshot(self):
        """A target older than its time-to-live no longer hides the snapshot's flat position."""
        # Arrange
        row = PortfolioRow("P", positions={"AAPL": 0.0, "MSFT": 5.0},
                           pending={"AAPL": [10.0, "A1", 0.0], "MSFT": [0.0, "A2", 95.0]})
        # Act / Assert
        assert row.projected(now=50.0, ttl_s=_TTL_S) == {"AAPL": 10.0}
        assert row.projected(now=150.0, ttl_s=_TTL_S) == {}
        assert row.projected(now=250.0, ttl_s=_TTL_S) == {"MSFT": 5.0}


class TestBookMirrorsRow:
    @given(positions=st.dictionaries(_TICKERS, _QTY),
           pending=st.dictionaries(_TICKERS, st.tuples(_QTY, st.floats(0.0, 200.0))),
           now=st.floats(0.0, 300.0),
           targets=st.lists(st.tuples(_TICKERS, _QTY), max_size=8))
    def test_the_books_tickers_are_the_rows_projected_tickers_after_every_target(
            self, positions, pending, now, targets):
        """For any snapshot, targets in flight and targets issued in the batch, the book's
        positions name exactly the tickers of the row's projected positions."""
        # Arrange
        row = PortfolioRow("P", positions=positions,
                           pending={t: [q, f"A-{t}", at] for t, (q, at) in pending.items()})
        ctx = BatchContext(now, "", GlobalState(snapshot_ttl_s=_TTL_S), {"P": row})
        # Act / Assert
        assert set(ctx.book(row).positions) == set(row.projected(now, _TTL_S))
        for k, (ticker, qty) in enumerate(targets):
            current = row.projected(now, _TTL_S).get(ticker, 0.0)
            ctx.apply(row, _target(ticker, qty, current), f"T{k}")
            assert set(ctx.book(row).positions) == set(row.projected(now, _TTL_S))
