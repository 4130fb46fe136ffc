"""The live-book routes on fake state: a portfolio's risk and headroom, a market record, and a
what-if against a live portfolio's projected positions."""

from __future__ import annotations

import httpx
import pytest

from riskgate.api import ApiParts, create_app
from riskgate.api.live import world_for
from riskgate.core import EmergencyLevel, MarketData, Regime
from riskgate.core.sizing import risk_score
from riskgate.settings import Settings
from riskgate.store.state import PortfolioRow
from riskgate.worker.globals import EmergencyState
from tests.support import builders as b
from tests.support.api_fakes import FakePortfolios, FixedInputs

pytestmark = pytest.mark.service

NOW = b.T0
SETTINGS = Settings(snapshot_ttl_s=600.0, max_price_age_s=120.0)
OVERLAY = {"position_size_cap": None, "sector_cap": 0.05, "per_name_weight_cap": 0.015,
           "factor_caps": {"beta": 0.5}}


def market(ticker: str, price: float, *, as_of: float = NOW, regime: Regime | None = None,
           version: int = 1) -> MarketData:
    return MarketData(ticker=ticker, price=price, adv=5_000_000.0, spread_bps=2.0,
                      volatility=0.015, sector="TECH", country="US", cluster="C-TECH",
                      factors={"beta": 1.2}, regime=regime, as_of=as_of, version=version)


def row(**changes) -> PortfolioRow:
    """P1: 100 AAPL held, a target of -50 MSFT in flight, another long expired; 2% down today."""
    fields = dict(portfolio_id="P1", snapshot_version=3, snapshot_as_of=NOW - 5.0,
                  equity=1_000_000.0, nav=1_000_000.0, pnl_today=-20_000.0,
                  peak_equity=1_050_000.0, positions={"AAPL": 100.0},
                  pending={"MSFT": [-50.0, "A-1", NOW - 10.0], "NVDA": [7.0, "A-0", NOW - 900.0]})
    fields.update(changes)
    return PortfolioRow(**fields)


class Live:
    def __init__(self, ready: bool = True) -> None:
        self.inputs = FixedInputs(world_for(SETTINGS), ready=ready)
        world = self.inputs.world
        for m in (market("AAPL", 100.0), market("MSFT", 200.0, regime=Regime.VOLATILE),
                  market("NVDA", 50.0)):
            world.apply_market(m)
        world.config.apply(1, "GLOBAL", None, None, OVERLAY, None)
        self.row = row()
        self.portfolios = FakePortfolios({"P1": self.row, "P0": row(portfolio_id="P0",
                                                                     equity=None)})
        app = create_app(ApiParts(self.inputs, self.portfolios), settings=SETTINGS,
                         clock=lambda: NOW)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://riskgate.test")


def caps(body: dict, cap: str) -> dict:
    return {c["key"]: c for c in body["caps"] if c["cap"] == cap}


class TestPortfolioRisk:
    async def test_positions_are_projected_with_targets_in_flight(self):
        """The in-flight MSFT target counts as the position; the expired NVDA one does not."""
        # Arrange
        live = Live()

        # Act
        body = (await live.client.get("/v1/portfolios/P1/risk")).json()

        # Assert
        positions = {p["ticker"]: p for p in body["positions"]}
        assert {t: p["quantity"] for t, p in positions.items()} == {"AAPL": 100.0, "MSFT": -50.0}
        assert positions["MSFT"]["notional"] == pytest.approx(-10_000.0)
        assert positions["MSFT"]["regime"] == "VOLATILE"
        assert (body["gross"], body["net"]) == (pytest.approx(20_000.0), pytest.approx(0.0))
        assert body["leverage"] == pytest.approx(0.02)
        assert (body["open_positions"], body["unpriced"]) == (2, [])

    async def test_halts_and_caps_carry_their_headroom(self):
        """Drawdown, daily loss and every enabled cap are reported against the live limits,
        per name under that name's regime multiplier."""
        # Arrange
        live = Live()

        # Act
        body = (await live.client.get("/v1/portfolios/P1/risk")).json()

        # Assert
        halts = {h["cap"]: h for h in body["halts"]}
        assert body["drawdown"] == pytest.approx(50_000 / 1_050_000)
        assert halts["emergency_drawdown"]["headroom"] == pytest.approx(0.08 - body["drawdown"])
        assert body["daily_loss"] == pytest.approx(20_000 / 1_020_000)
        assert halts["daily_loss_limit"]["limit"] == 0.05
        assert caps(body, "sector_cap")["TECH"]["value"] == pytest.approx(0.02)
        assert caps(body, "sector_cap")["TECH"]["headroom"] == pytest.approx(0.03)
        assert caps(body, "factor_caps")["beta"]["value"] == pytest.approx(0.0)
        per_name = caps(body, "per_name_weight_cap")
        assert per_name["AAPL"]["limit"] == pytest.approx(0.015)
        assert per_name["MSFT"]["limit"] == pytest.approx(0.0075)  # VOLATILE halves size caps
        assert "position_size_cap" not in {c["cap"] for c in body["caps"]}  # disabled
        assert caps(body, "max_leverage")[None]["value"] == pytest.approx(0.02)

    async def test_the_risk_score_is_the_cores_of_the_books_numbers(self):
        """The score is seed 002's risk_score over the book's volatility, spread, ADV
        participation, drawdown and leverage, with its level."""
        # Arrange
        live = Live()
        expected = risk_score(volatility=0.015, spread_bps=2.0, adv_participation=100 / 5e6,
                              drawdown=50_000 / 1_050_000, leverage=0.02, max_leverage=5.0)

        # Act
        body = (await live.client.get("/v1/portfolios/P1/risk")).json()

        # Assert
        assert body["risk_score"] == pytest.approx(expected)
        assert body["risk_level"] in {"MINIMAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

    async def test_emergency_tightens_the_caps_shown(self):
        """Under EMERGENCY the caps shown are the tightened ones the gate enforces."""
        # Arrange
        live = Live()
        live.inputs.world.emergency = EmergencyState(EmergencyLevel.EMERGENCY, 4, "E1", NOW)

        # Act
        body = (await live.client.get("/v1/portfolios/P1/risk")).json()

        # Assert
        assert body["emergency_level"] == "EMERGENCY"
        assert caps(body, "sector_cap")["TECH"]["limit"] == pytest.approx(0.0125)

    @pytest.mark.parametrize("portfolio", ["P404", "P0"], ids=["unknown", "no-snapshot"])
    async def test_an_unknown_portfolio_is_404_naming_it(self, portfolio):
        """A portfolio with no row, or a row without a snapshot, is a 404 with its id."""
        # Act
        response = await Live().client.get(f"/v1/portfolios/{portfolio}/risk")

        # Assert
        assert (response.status_code, response.json()["error"]) == (404, "UNKNOWN_PORTFOLIO")
        assert portfolio in response.json()["message"]

    async def test_not_caught_up_is_503(self):
        """Before the live inputs are read, the risk view is not guessed."""
        # Act
        response = await Live(ready=False).client.get("/v1/portfolios/P1/risk")

        # Assert
        assert response.status_code == 503


class TestMarket:
    async def test_the_record_in_force_with_regime_and_age(self):
        """GET /v1/market/MSFT gives the record, its regime and multiplier, and its age."""
        # Act
        body = (await Live().client.get("/v1/market/MSFT")).json()

        # Assert
        assert (body["ticker"], body["version"], body["price"]) == ("MSFT", 1, 200.0)
        assert (body["regime"], body["regime_multiplier"]) == ("VOLATILE", 0.5)
        assert (body["age_s"], body["stale"]) == (0.0, False)
        assert body["as_of"] == "2026-09-21T14:13:20Z"  # NOW
        assert body["factors"] == {"beta": 1.2}

    async def test_an_old_record_is_marked_stale(self):
        """A record older than the max price age says so."""
        # Arrange
        live = Live()
        live.inputs.world.apply_market(market("AAPL", 101.0, as_of=NOW - 500.0, version=2))

        # Act
        body = (await live.client.get("/v1/market/AAPL")).json()

        # Assert
        assert (body["version"], body["age_s"], body["stale"]) == (2, 500.0, True)

    async def test_an_unknown_ticker_is_404(self):
        """A ticker with no market record is 404 naming it."""
        # Act
        response = await Live().client.get("/v1/market/ZZZ")

        # Assert
        assert (response.status_code, response.json()["error"]) == (404, "UNKNOWN_TICKER")
        assert "ZZZ" in response.json()["message"]


class TestWhatIfOnTheLiveBook:
    async def test_the_live_projected_position_is_the_current_one(self):
        """Closing the in-flight MSFT short is a de-risk from -50 (the target in flight)."""
        # Arrange
        live = Live()
        decision = b.proposal("D-9", "P1", "MSFT", qty=0.0, created_at=NOW)

        # Act
        response = await live.client.post("/v1/what-if", json={"decision": decision,
                                                               "portfolio_id": "P1"})

        # Assert
        result = response.json()
        assert response.status_code == 200, response.text
        assert (result["book"], result["action_type"]) == ("live", "OK")
        assert result["delta_position"] == pytest.approx(50.0)
        assert result["config_version"] == 1

    async def test_the_live_limits_cap_an_increase_and_nothing_is_changed(self):
        """200 AAPL on top of 100 is capped at the live 1.5% per-name cap (150), and the stored
        row is left as it was."""
        # Arrange
        live = Live()
        pending = dict(live.row.pending)
        decision = b.proposal("D-10", "P1", "AAPL", qty=200.0, created_at=NOW)

        # Act
        result = (await live.client.post("/v1/what-if", json={"decision": decision,
                                                               "portfolio_id": "P1"})).json()

        # Assert
        assert (result["action_type"], result["reason_codes"]) == ("CAPPED",
                                                                   ["PER_NAME_WEIGHT_CAP"])
        assert result["target_position"] == pytest.approx(150.0)
        assert (live.row.pending, live.row.dirty) == (pending, False)

    async def test_an_unknown_live_portfolio_is_404(self):
        """A what-if naming a portfolio with no snapshot is a 404, not an assessment."""
        # Arrange
        decision = b.proposal("D-11", "P404", "AAPL", qty=1.0, created_at=NOW)

        # Act
        response = await Live().client.post("/v1/what-if", json={"decision": decision,
                                                                 "portfolio_id": "P404"})

        # Assert
        assert response.status_code == 404

    @pytest.mark.parametrize("extra", [
        {"portfolio": b.snapshot("P1", as_of=NOW)},
        {"market": [b.market("AAPL", as_of=NOW)]},
        {"portfolio_id": "P2"},
    ], ids=["both-books", "market-with-live-book", "other-portfolio"])
    async def test_a_live_what_if_with_a_conflicting_body_is_422(self, extra):
        """A live what-if with a sent book too, sent market data, or another portfolio's
        decision is refused naming the field."""
        # Arrange
        body = {"decision": b.proposal("D-12", "P1", "AAPL", qty=1.0, created_at=NOW),
                "portfolio_id": "P1", **extra}

        # Act
        response = await Live().client.post("/v1/what-if", json=body)

        # Assert
        assert response.status_code == 422
        assert next(iter(extra)) in response.json()["message"] or "decision" in \
            response.json()["message"]
