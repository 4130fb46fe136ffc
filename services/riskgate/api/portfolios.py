"""The live book: a portfolio's stored state, and the book and environment a worker would use.

``StoredPortfolios`` reads ``portfolio_state`` from PostgreSQL (read only); ``live_book``
builds the ``PortfolioBook`` from the row's projected positions (snapshot overridden by the
targets still in flight) and the environment from the live config, through the worker's own
``BatchContext``, so the API and the gate see the same numbers.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from riskgate.api.errors import ApiError
from riskgate.core import Environment, PortfolioBook
from riskgate.settings import Settings
from riskgate.store.connect import DB_FAULTS, create_pool
from riskgate.store.state import PortfolioRow, init_connection, load_portfolios
from riskgate.worker.globals import GlobalState
from riskgate.worker.outputs import BatchContext


class PortfolioSource(Protocol):
    """Where a portfolio's stored state comes from (PostgreSQL, or a fake in tests)."""

    async def portfolio(self, portfolio_id: str) -> PortfolioRow | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class StoredPortfolios:
    """``portfolio_state`` rows over a small pool, opened lazily so the API starts without it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def portfolio(self, portfolio_id: str) -> PortfolioRow | None:
        try:
            if self._pool is None:
                self._pool = await create_pool(
                    self._settings, min_size=0, max_size=4, init=init_connection, command_timeout=10)
            async with self._pool.acquire(timeout=5) as conn:
                rows = await load_portfolios(conn, [portfolio_id])
        except DB_FAULTS as exc:
            raise ApiError(503, "STATE_UNAVAILABLE",
                           f"the state store is unavailable ({type(exc).__name__}); "
                           "nothing was assessed") from None
        return rows.get(portfolio_id)


async def stored_row(source: PortfolioSource, portfolio_id: str) -> PortfolioRow:
    """The row of a portfolio with a snapshot; 404 naming it otherwise."""
    row = await source.portfolio(portfolio_id)
    if row is None or row.equity is None:
        raise ApiError(404, "UNKNOWN_PORTFOLIO",
                       f"no snapshot of portfolio {portfolio_id!r} has been stored")
    return row


def live_book(row: PortfolioRow, world: GlobalState, now: float, strategy_id: str
              ) -> tuple[PortfolioBook, Environment]:
    """The book and the environment a worker deciding for ``strategy_id`` would use now."""
    ctx = BatchContext(now=now, now_text="", world=world, portfolios={row.portfolio_id: row})
    return ctx.book(row), ctx.env(row.portfolio_id, strategy_id)
