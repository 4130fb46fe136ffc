"""Read routes for the live book: GET /v1/portfolios/{id}/risk and GET /v1/market/{ticker}.

Both read only: the portfolio from ``portfolio_state`` (projected positions), everything else
from the live inputs. An unknown portfolio or ticker is a 404 naming it.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import ConfigDict, Field

from riskgate.api.access import Access
from riskgate.api.auth import ApiKey
from riskgate.api.errors import ApiError, documented
from riskgate.api.live import LiveView, live_world
from riskgate.api.portfolios import PortfolioSource, live_book, stored_row
from riskgate.api.risk import PortfolioRisk, portfolio_risk
from riskgate.api.routing import JsonBodyRoute
from riskgate.contracts.actions import MarketUsed
from riskgate.contracts.base import Id
from riskgate.core import REGIME_MULTIPLIERS
from riskgate.worker.audit_record import market_used


class MarketView(MarketUsed):
    """The market record in force for one ticker: the values an action's ``details.market``
    carries, with the record's version, its age and its regime multiplier."""

    # The document keeps this route's answer as it was: open to new fields, regime a string.
    model_config = ConfigDict(extra="ignore")

    regime: str | None
    ticker: str
    version: int
    age_s: float = Field(description="Now minus as_of.")
    stale: bool = Field(description="Older than RISKGATE_MAX_PRICE_AGE_S: decisions on it are "
                                    "STALE_INPUT.")
    regime_multiplier: float = Field(description="On the size limits (1 without a regime).")


PORTFOLIO = PathParam(description="The portfolio_id of its snapshots.")
TICKER = PathParam(description="The ticker as on market.metrics.")


def reads_router(inputs: LiveView, portfolios: PortfolioSource, access: Access,
                 clock: Callable[[], float]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["live book"], route_class=JsonBodyRoute)
    reader = access.read()

    @router.get("/portfolios/{portfolio_id}/risk", response_model=PortfolioRisk,
                responses=documented(404))
    async def risk(portfolio_id: Annotated[Id, PORTFOLIO],
                   _key: Annotated[ApiKey | None, Depends(reader)],
                   strategy: Annotated[Id | None, Query(description="Include this strategy's "
                                                        "overlay and trading state.")] = None,
                   ) -> PortfolioRisk:
        """Projected positions, exposures, halts and the headroom under every enabled cap."""
        world = live_world(inputs)
        row = await stored_row(portfolios, portfolio_id)
        book, env = live_book(row, world, clock(), strategy or "")
        return portfolio_risk(book, env, world.market, strategy or "")

    @router.get("/market/{ticker}", response_model=MarketView, responses=documented(404))
    async def market(ticker: Annotated[Id, TICKER],
                     _key: Annotated[ApiKey | None, Depends(reader)]) -> MarketView:
        """The market record in force, its regime and its age."""
        world = live_world(inputs)
        m = world.market.get(ticker)
        if m is None:
            raise ApiError(404, "UNKNOWN_TICKER", f"no market record for ticker {ticker!r}")
        age = clock() - m.as_of
        bound = world.max_price_age_s
        # market_used is the wire shape of MarketUsed (as_of and regime as strings): lax.
        return MarketView.model_validate({
            **market_used(m), "ticker": m.ticker, "version": m.version, "age_s": age,
            "stale": bound is not None and age > bound,
            "regime_multiplier": REGIME_MULTIPLIERS.get(m.regime, 1.0) if m.regime else 1.0,
        }, strict=False)

    return router
