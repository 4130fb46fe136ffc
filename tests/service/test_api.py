"""The HTTP what-if surface: seed 000's /assess-risk, /v1/what-if on a sent book, the live
profile they assess under, and the probes (no keys file: reads are anonymous)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from riskgate.api import ApiParts, create_app
from riskgate.api.live import world_for
from riskgate.api.schemas import MIN_PRICE
from riskgate.settings import Settings
from tests.support import builders as b
from tests.support.api_fakes import FakePortfolios, FixedInputs

pytestmark = pytest.mark.service

NOW = b.T0
SEED_FIELDS = {"signal_id", "is_approved", "recommended_position_size", "stop_loss_price",
               "take_profit_price", "risk_level", "rejection_reason"}
SETTINGS = Settings(max_decision_age_s=60.0, max_snapshot_age_s=300.0, max_price_age_s=120.0)


def seed_request(*, confidence: float = 0.8, drawdown: float = 0.05, price: Any = 50_000.0,
                 signal_type: str = "LONG") -> dict[str, Any]:
    return {
        "signal": {"signal_id": "sig-1", "asset": "BTC", "signal_type": signal_type,
                   "price": price, "confidence": confidence},
        "portfolio_state": {"total_equity": 10_000.0, "current_drawdown": drawdown,
                            "daily_pnl": 100.0},
    }


def what_if_request(*, qty: float = 5.0, confidence: float = 0.9, created_at: float = NOW,
                    **extra: Any) -> dict[str, Any]:
    """Equity 1,000,000 and AAPL at 100: NORMAL's 1,000 position cap allows 10 units."""
    body = {
        "decision": b.proposal("D-1", "P1", "AAPL", qty=qty, confidence=confidence,
                               created_at=created_at),
        "portfolio": b.snapshot("P1", as_of=NOW),
        "market": [b.market("AAPL", as_of=NOW, price=100.0)],
    }
    body.update(extra)
    return body


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://riskgate.test")


def app_on(inputs: FixedInputs, now: float = NOW):
    return create_app(ApiParts(inputs, FakePortfolios()), settings=SETTINGS, clock=lambda: now)


def switch_global(inputs: FixedInputs, version: int, profile: str) -> None:
    """What a worker's reader does with a global profile record on risk.config."""
    inputs.world.config.apply(version, "GLOBAL", None, profile, None, None)


@pytest.fixture()
def inputs() -> FixedInputs:
    return FixedInputs(world_for(SETTINGS))


@pytest.fixture()
async def api(inputs) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_on(inputs)) as client:
        yield client


class TestAssessRisk:
    async def test_a_sound_signal_is_approved_with_the_seed_fields(self, api):
        """A confident LONG signal within every limit is approved and sized, in seed 000's shape."""
        # Arrange
        body = seed_request()

        # Act
        response = await api.post("/assess-risk", json=body)

        # Assert
        assert response.status_code == 200
        assert set(response.json()) == {"assessment"}
        assessment = response.json()["assessment"]
        assert set(assessment) == SEED_FIELDS
        assert assessment["signal_id"] == "sig-1"
        assert assessment["is_approved"] is True
        assert assessment["recommended_position_size"] == pytest.approx(0.02)  # 1,000 cap / 50,000
        assert assessment["stop_loss_price"] == pytest.approx(49_000.0)
        assert assessment["take_profit_price"] == pytest.approx(52_000.0)
        assert assessment["rejection_reason"] is None
        assert response.headers["x-riskgate-profile"] == "NORMAL"

    async def test_low_confidence_is_refused_with_a_reason(self, api):
        """A signal below NORMAL's 0.65 minimum confidence is refused with size zero and a reason."""
        # Arrange
        body = seed_request(confidence=0.5)

        # Act
        response = await api.post("/assess-risk", json=body)

        # Assert
        assessment = response.json()["assessment"]
        assert response.status_code == 200
        assert set(assessment) == SEED_FIELDS
        assert assessment["is_approved"] is False
        assert assessment["recommended_position_size"] == 0.0
        assert "MIN_CONFIDENCE" in assessment["rejection_reason"]

    async def test_drawdown_beyond_the_limit_is_refused(self, api):
        """A drawdown beyond NORMAL's 8 % emergency drawdown refuses even a confident signal."""
        # Arrange
        body = seed_request(drawdown=0.10)

        # Act
        response = await api.post("/assess-risk", json=body)

        # Assert
        assessment = response.json()["assessment"]
        assert assessment["is_approved"] is False
        assert "EMERGENCY_DRAWDOWN" in assessment["rejection_reason"]

    @pytest.mark.parametrize(("raw", "where"), [
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "LONG", "price": "50000",'
         b' "confidence": 0.8}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": 0}}', "signal.price"),
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "LONG", "price": NaN,'
         b' "confidence": 0.8}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": 0}}', "signal.price"),
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "LONG", "price": -5,'
         b' "confidence": 0.8}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": 0}}', "signal.price"),
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "LONG", "price": 5,'
         b' "confidence": 1.5}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": 0}}', "signal.confidence"),
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "LONG", "price": 5,'
         b' "confidence": 0.8}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": Infinity}}', "portfolio_state.daily_pnl"),
        (b'{"signal": {"signal_id": "s", "asset": "BTC", "signal_type": "BUY", "price": 5,'
         b' "confidence": 0.8}, "portfolio_state": {"total_equity": 10000, "current_drawdown": 0,'
         b' "daily_pnl": 0}}', "signal.signal_type"),
        (b'{"signal": {"signal_id": "s"', "Invalid JSON"),
    ], ids=["string-price", "nan-price", "negative-price", "confidence-above-1", "infinite-pnl",
            "unknown-signal-type", "truncated-json"])
    async def test_bad_input_is_422_naming_the_field_and_never_approved(self, api, raw, where):
        """Mistyped, non-finite, out-of-range or malformed input is a 422 that names the field."""
        # Arrange
        headers = {"content-type": "application/json"}

        # Act
        response = await api.post("/assess-risk", content=raw, headers=headers)

        # Assert
        assert response.status_code == 422
        assert where in response.json()["message"]
        assert "assessment" not in response.json()

    @pytest.mark.parametrize(("field", "value", "where"), [
        ("price", 1e308, "signal.price"),
        ("price", 5e-9, "signal.price"),
        ("total_equity", 1e308, "portfolio_state.total_equity"),
        ("daily_pnl", -1e308, "portfolio_state.daily_pnl"),
    ], ids=["price-overflows", "price-below-floor", "equity-overflows", "pnl-overflows"])
    async def test_a_number_out_of_the_api_bounds_is_422_naming_the_field(self, api, field,
                                                                          value, where):
        """A finite number that would overflow, or a price under the floor, is a 422 naming it."""
        # Arrange
        body = seed_request()
        part = "signal" if field == "price" else "portfolio_state"
        body[part][field] = value

        # Act
        response = await api.post("/assess-risk", json=body)

        # Assert
        assert response.status_code == 422
        assert where in response.json()["message"]
        assert "assessment" not in response.json()

    async def test_a_price_at_the_floor_is_assessed(self, api):
        """The documented price floor itself is valid input and gets an assessment."""
        # Arrange
        body = seed_request(price=MIN_PRICE)

        # Act
        response = await api.post("/assess-risk", json=body)

        # Assert
        assert response.status_code == 200
        assert "error" not in (response.json()["assessment"]["rejection_reason"] or "")

    async def test_an_oversize_body_is_refused_before_parsing(self, api):
        """A body over the size limit is 413 and never reaches validation."""
        # Arrange
        raw = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

        # Act
        response = await api.post("/assess-risk", content=raw)

        # Assert
        assert response.status_code == 413


class TestWhatIf:
    async def test_a_decision_within_limits_is_ok(self, api):
        """A small decision passes every constraint unchanged."""
        # Arrange
        body = what_if_request(qty=5.0)

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        result = response.json()
        assert response.status_code == 200
        assert result["action_type"] == "OK"
        assert result["target_position"] == 5.0
        assert result["delta_position"] == 5.0
        assert result["max_passing_position"] is None
        assert result["details"]["now"] == NOW

    async def test_a_too_big_decision_is_capped_with_its_reason(self, api):
        """100 units at 100 break NORMAL's 1,000 position cap and are capped to 10 with the reason."""
        # Arrange
        body = what_if_request(qty=100.0)

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        result = response.json()
        assert result["action_type"] == "CAPPED"
        assert result["reason_codes"] == ["POSITION_SIZE_CAP"]
        assert result["target_position"] == pytest.approx(10.0)
        assert result["max_passing_position"] == pytest.approx(10.0)
        assert result["priority"] == 2
        assert "POSITION_SIZE_CAP" in result["risk_reasoning_summary"]
        verdicts = {v["constraint"]: v["verdict"] for v in result["details"]["verdicts"]}
        assert verdicts["PositionSizeCap"] == "CAPPED"

    async def test_a_decision_without_market_data_is_rejected(self, api):
        """A ticker with no market record is REJECTED with NO_MARKET_DATA and no change."""
        # Arrange
        body = what_if_request(market=[])

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        result = response.json()
        assert result["action_type"] == "REJECTED"
        assert result["reason_codes"] == ["NO_MARKET_DATA"]
        assert result["delta_position"] == 0.0
        assert result["approved"] is False

    async def test_the_injected_clock_decides_expiry(self):
        """The same decision is EXPIRED when the injected clock is past the max decision age."""
        # Arrange
        late = app_on(FixedInputs(world_for(SETTINGS)), now=NOW + 3600.0)

        # Act
        async with client_for(late) as client:
            response = await client.post("/v1/what-if", json=what_if_request())

        # Assert
        assert response.json()["action_type"] == "EXPIRED"
        assert response.json()["reason_codes"] == ["DECISION_EXPIRED"]

    async def test_limit_overrides_apply_over_the_profile(self, api):
        """A looser position cap in the request lets the same decision through unchanged."""
        # Arrange
        body = what_if_request(qty=100.0, limits={"position_size_cap": 20_000.0})

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        assert response.json()["action_type"] == "OK"
        assert response.json()["details"]["limits"]["position_size_cap"] == 20_000.0

    @pytest.mark.parametrize(("change", "where"), [
        ({"decision": {"target_quantity": "5"}}, "decision.target_quantity"),
        ({"market": [{"price": -1.0}]}, "market.0.price"),
        ({"portfolio": {"portfolio_id": "OTHER"}}, "decision.portfolio_id"),
        ({"limits": {"gross_cap": 1.0, "net_cap": 2.0}}, "limits"),
        ({"limits": {"no_such_limit": 1.0}}, "limits"),
        ({"profile": "YOLO"}, "profile"),
        ({"profle": "DEFENSIVE"}, "profle"),
    ], ids=["string-quantity", "negative-price", "portfolio-mismatch", "inconsistent-limits",
            "unknown-limit", "unknown-profile", "misspelt-field"])
    async def test_bad_input_is_422_and_never_approved(self, api, change, where):
        """Invalid wire input, limits or profile names are a 422 naming the field, not an outcome."""
        # Arrange
        body = what_if_request(qty=5.0)
        for key, value in change.items():
            if key == "market":
                body["market"] = [{**body["market"][0], **value[0]}]
            elif isinstance(value, dict) and key in ("decision", "portfolio"):
                body[key] = {**body[key], **value}
            else:
                body[key] = value

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        assert response.status_code == 422
        assert where in response.json()["message"]
        assert "action_type" not in response.json()

    async def test_a_vanishing_price_and_a_huge_quantity_are_422(self, api):
        """Price 5e-324 (under the floor) and quantity 1e300 (over the bound) are both named."""
        # Arrange
        body = what_if_request(qty=1e300)
        body["market"][0]["price"] = 5e-324

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        assert response.status_code == 422
        message = response.json()["message"]
        assert "market.0.price" in message and "decision.target_quantity" in message
        assert "action_type" not in response.json()

    @pytest.mark.parametrize(("part", "field", "value"), [
        ("market", "multiplier", 1e300), ("market", "atr", 1e308),
        ("market", "tick_size", 5e-324), ("market", "lot_size", 5e-324),
        ("portfolio", "equity", 5e-324),
    ], ids=["multiplier", "atr", "tick", "lot", "equity"])
    async def test_a_factor_that_would_overflow_the_core_is_422(self, api, part, field, value):
        """A multiplier, distance or divisor outside the API bounds is refused before the core."""
        # Arrange
        body = what_if_request()
        if part == "market":
            body["market"][0][field] = value
        else:
            body[part][field] = value

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        assert response.status_code == 422
        assert field in response.json()["message"]

    async def test_a_huge_order_at_a_tiny_price_is_rejected_by_volume(self, api):
        """1e9 units at 1e-6 is only $1,000, within every money cap, but over NORMAL's max order
        volume, so it is REJECTED with MAX_ORDER_QUANTITY."""
        # Arrange
        body = what_if_request(qty=1e9)
        body["market"][0].update(price=1e-6, tick_size=1e-8, atr=1e-8)

        # Act
        response = await api.post("/v1/what-if", json=body)

        # Assert
        result = response.json()
        assert response.status_code == 200
        assert (result["action_type"], result["approved"]) == ("REJECTED", False)
        assert "MAX_ORDER_QUANTITY" in result["reason_codes"]
        assert result["delta_position"] == 0.0

    async def test_nan_in_free_form_metadata_is_422(self, api):
        """A NaN hidden in the decision's metadata is refused like any non-finite number."""
        # Arrange
        body = what_if_request()
        body["decision"]["metadata"] = {"score": float("nan")}
        raw = json.dumps(body).encode()  # the stdlib writes the NaN token; httpx would refuse

        # Act
        response = await api.post("/v1/what-if", content=raw,
                                  headers={"content-type": "application/json"})

        # Assert
        assert b"NaN" in raw
        assert response.status_code == 422
        assert "metadata.score" in response.json()["message"]


class TestLiveProfile:
    async def test_the_three_seed_profiles_are_listed_with_the_global_one(self, api):
        """GET /v1/profiles lists seed 003's profiles with their numbers and marks NORMAL."""
        # Act
        response = await api.get("/v1/profiles")

        # Assert
        listing = response.json()
        by_name = {p["name"]: p for p in listing["modes"]}
        assert listing["global_profile"] == "NORMAL"
        assert set(by_name) == {"AGGRESSIVE_SMALL_ACCOUNT", "NORMAL", "DEFENSIVE"}
        assert [n for n, p in by_name.items() if p["active_globally"]] == ["NORMAL"]
        assert by_name["DEFENSIVE"]["limits"]["max_leverage"] == 3.0
        assert by_name["AGGRESSIVE_SMALL_ACCOUNT"]["limits"]["position_size_cap"] == 300.0
        assert by_name["NORMAL"]["limits"]["min_confidence"] == 0.65

    async def test_a_live_switch_to_defensive_refuses_what_normal_allows(self, api, inputs):
        """The same what-if is OK under NORMAL and REJECTED for confidence once the live config
        says DEFENSIVE, with the config version it came from."""
        # Arrange
        body = what_if_request(qty=5.0, confidence=0.7)
        before = (await api.post("/v1/what-if", json=body)).json()

        # Act
        switch_global(inputs, 4, "DEFENSIVE")
        after = (await api.post("/v1/what-if", json=body)).json()

        # Assert
        assert (before["action_type"], before["config_version"]) == ("OK", -1)
        assert (await api.get("/v1/profiles/active")).json()["global_profile"] == "DEFENSIVE"
        assert after["action_type"] == "REJECTED"
        assert after["reason_codes"] == ["MIN_CONFIDENCE"]
        assert (after["profile"], after["config_version"]) == ("DEFENSIVE", 4)

    async def test_a_live_switch_changes_the_seed_endpoint_too(self, api, inputs):
        """After a live DEFENSIVE switch, seed 000's 0.7-confidence signal is refused."""
        # Arrange
        body = seed_request(confidence=0.7, drawdown=0.0)
        before = (await api.post("/assess-risk", json=body)).json()["assessment"]

        # Act
        switch_global(inputs, 1, "DEFENSIVE")
        response = await api.post("/assess-risk", json=body)

        # Assert
        assert before["is_approved"] is True
        assert response.json()["assessment"]["is_approved"] is False
        assert response.headers["x-riskgate-profile"] == "DEFENSIVE"

    async def test_a_live_global_halt_rejects_an_increase_in_a_sent_book(self, api, inputs):
        """A what-if on a sent book still sees the live kill switch: an increase is REJECTED."""
        # Arrange
        inputs.world.config.apply(2, "GLOBAL", None, None, None, "HALTED")

        # Act
        result = (await api.post("/v1/what-if", json=what_if_request(qty=5.0))).json()

        # Assert
        assert result["action_type"] == "REJECTED"
        assert result["reason_codes"] == ["TRADING_HALTED"]

    async def test_nothing_is_assessed_before_the_live_inputs_are_caught_up(self, inputs):
        """Until the live inputs are read to their end, assessments answer 503, not a guess."""
        # Arrange
        inputs.ready = False

        # Act
        async with client_for(app_on(inputs)) as client:
            what_if = await client.post("/v1/what-if", json=what_if_request())
            seed = await client.post("/assess-risk", json=seed_request())

        # Assert
        assert (what_if.status_code, what_if.json()["error"]) == (503, "NOT_CAUGHT_UP")
        assert seed.status_code == 503


class TestProbes:
    async def test_health_and_ready_answer(self, api):
        """/health reports alive and /ready reports ready with the live profile."""
        # Act
        health = await api.get("/health")
        ready = await api.get("/ready")

        # Assert
        assert (health.status_code, health.json()) == (200, {"alive": True})
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "live_inputs": "caught_up", "config_version": -1,
                                "global_profile": "NORMAL", "emergency_level": "NORMAL",
                                "writer": "unavailable", "api_keys": "not configured"}

    async def test_ready_is_false_until_the_live_inputs_are_caught_up(self, inputs):
        """/ready answers 503 while the live inputs are still being read."""
        # Arrange
        inputs.ready = False

        # Act
        async with client_for(app_on(inputs)) as client:
            ready = await client.get("/ready")

        # Assert
        assert (ready.status_code, ready.json()["ready"]) == (503, False)
        assert ready.json()["live_inputs"] == "reading"

    async def test_metrics_are_prometheus_text_counting_assessments(self, api):
        """/metrics is Prometheus text, and a what-if raises the what-if assessment counter."""
        # Arrange
        def capped_count(text: str) -> float:
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if (s.name == "riskgate_api_assessments_total"
                            and s.labels == {"endpoint": "what-if", "result": "CAPPED"}):
                        return s.value
            return 0.0

        before = capped_count((await api.get("/metrics")).text)

        # Act
        await api.post("/v1/what-if", json=what_if_request(qty=100.0))
        response = await api.get("/metrics")

        # Assert
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE_LATEST
        assert "# TYPE riskgate_api_requests_total counter" in response.text
        assert capped_count(response.text) == before + 1
