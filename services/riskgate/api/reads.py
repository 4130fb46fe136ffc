"""Read routes for the live book: GET /v1/portfolios/{id}/risk and GET /v1/market/{ticker}.

Both read only: the portfolio from ``portfolio_state`` (projected positions), everything else
from the live inputs. An unknown portfolio or ticker is a 404 naming it.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the Annotated
# dependencies in the route signatures, which name this module's closure variables.

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from riskgate.api.access import Access
from riskgate.api.auth import ApiKey
from riskgate.api.errors import ApiError, documented
from riskgate.api.live import LiveView, live_world
from riskgate.api.portfolios import PortfolioSource, live_book, stored_row
from riskgate.api.risk import PortfolioRisk, portfolio_risk
from riskgate.api.routing import JsonBodyRoute
from riskgate.contracts.base import Id
from riskgate.core import REGIME_MULTIPLIERS


class MarketView(BaseModel):
    """The market record in force for one ticker, with its regime and age."""

    ticker: str
    version: int
    as_of: datetime
    age_s: float = Field(description="Now minus as_of.")
    stale: bool = Field(description="Older than RISKGATE_MAX_PRICE_AGE_S: decisions on it are "
                                    "STALE_INPUT.")
    regime: str | None
    regime_multiplier: float = Field(description="On the size limits (1 without a regime).")
    price: float
    adv: float | None
    spread_bps: float
    atr: float | None
    volatility: float | None
    tick_size: float
    lot_size: float
    multiplier: float
    fx_to_base: float
    currency: str
    sector: str
    country: str
    cluster: str
    factors: dict[str, float]


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
        return MarketView(
            ticker=m.ticker, version=m.version, as_of=datetime.fromtimestamp(m.as_of, UTC),
            age_s=age, stale=bound is not None and age > bound,
            regime=m.regime.value if m.regime else None,
            regime_multiplier=REGIME_MULTIPLIERS.get(m.regime, 1.0) if m.regime else 1.0,
            price=m.price, adv=m.adv, spread_bps=m.spread_bps, atr=m.atr,
            volatility=m.volatility, tick_size=m.tick_size, lot_size=m.lot_size,
            multiplier=m.multiplier, fx_to_base=m.fx_to_base, currency=m.currency,
            sector=m.sector, country=m.country, cluster=m.cluster, factors=dict(m.factors))

    return router
