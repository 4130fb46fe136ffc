"""The OpenAPI document is the contract: every route's body and answers are in it, and a
schemathesis run over it (fake writer, fake state, a keys file) finds no server error and no
undocumented status code."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from riskgate.api import ApiParts, create_app
from riskgate.api.auth import KeyRing
from riskgate.api.live import world_for
from riskgate.core import MarketData
from riskgate.settings import Settings
from riskgate.store.state import PortfolioRow
from tests.support import builders as b
from tests.support.api_fakes import (
    KEYS,
    FakePortfolios,
    FakeWriter,
    FixedInputs,
    bearer,
    write_keys_file,
)

pytestmark = pytest.mark.service

NOW = b.T0
SETTINGS = Settings(api_write_rate_per_min=1_000_000, api_read_rate_per_min=1_000_000)


def fuzzed_app():
    """An app whose every dependency is a fake, with a market record and a live portfolio."""
    inputs = FixedInputs(world_for(SETTINGS))
    inputs.world.apply_market(MarketData("AAPL", 100.0, adv=1e6, as_of=NOW, version=1))
    portfolios = FakePortfolios({"P1": PortfolioRow(
        "P1", 1, NOW, 1_000_000.0, 1_000_000.0, 0.0, 1_000_000.0, {"AAPL": 10.0})})
    keys = write_keys_file(Path(tempfile.mkdtemp(prefix="riskgate-api-")) / "keys.json")
    return create_app(ApiParts(inputs, portfolios, FakeWriter(), KeyRing(keys)),
                      settings=SETTINGS, clock=lambda: NOW)


APP = fuzzed_app()
CONFIG = SchemathesisConfig.from_dict({
    "auth": {"openapi": {"apiKey": {"bearer": KEYS["admin"]}}},
    # A body over the size limit is refused with 413 before its items are counted.
    "checks": {"negative_data_rejection": {"expected-statuses": [
        400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5XX"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_a_server_error_or_an_undocumented_status(case):
    """Generated requests, valid and invalid, as an admin: every answer is documented, none is a
    5xx, every body matches its schema, and bad data and missing keys are refused.

    Schema-valid bodies may still be refused (422, documented) by rules across fields that the
    JSON Schema does not carry: exactly one of target_quantity and target_weight, of portfolio
    and portfolio_id, a scope parse_scope accepts, consistent limits. So positive-data
    acceptance is not a check here."""
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APP),
                             base_url="http://riskgate.test")


class TestDocument:
    def test_every_body_route_declares_its_request_body(self):
        """POST /assess-risk, /v1/what-if and PUT /v1/profiles/active declare a JSON body."""
        # Arrange
        paths = APP.openapi()["paths"]

        # Act
        bodies = {(m, p): "application/json" in op.get("requestBody", {}).get("content", {})
                  for p, ops in paths.items() for m, op in ops.items() if m in ("post", "put")}

        # Assert
        assert bodies[("post", "/assess-risk")] and bodies[("post", "/v1/what-if")]
        assert bodies[("put", "/v1/profiles/active")]
        assert all(v for (m, p), v in bodies.items() if not p.startswith("/v1/config/approvals"))

    def test_every_api_route_documents_the_common_errors(self):
        """401, 403, 413, 422, 429 and 503 are declared on every route but the probes."""
        # Act
        missing = [(m, p, code) for p, ops in APP.openapi()["paths"].items()
                   if p not in ("/health", "/ready", "/metrics")
                   for m, op in ops.items()
                   for code in ("401", "403", "413", "422", "429", "503")
                   if code not in op["responses"]]

        # Assert
        assert missing == []

    def test_metrics_are_declared_as_prometheus_text(self):
        """/metrics is documented as text/plain, as it serves."""
        # Act
        content = APP.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]

        # Assert
        assert list(content) == ["text/plain"]


class TestMethods:
    async def test_options_lists_every_method_of_the_path(self):
        """OPTIONS /v1/profiles/active answers 204 with GET, PUT and OPTIONS allowed."""
        # Act
        async with client() as c:
            response = await c.options("/v1/profiles/active")

        # Assert
        assert response.status_code == 204
        assert response.headers["allow"] == "GET, OPTIONS, PUT"

    async def test_an_unserved_method_is_405_with_the_full_allow(self):
        """DELETE on a GET+PUT path is 405 naming both."""
        # Act
        async with client() as c:
            response = await c.delete("/v1/profiles/active")

        # Assert
        assert (response.status_code, response.json()["error"]) == (405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "GET, OPTIONS, PUT"

    async def test_an_unknown_path_is_404_with_the_error_body(self):
        """A path no route serves is 404 in the common error shape."""
        # Act
        async with client() as c:
            response = await c.get("/v1/nothing-here", headers=bearer("viewer"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (404, "NOT_FOUND")

    async def test_a_streamed_body_over_the_limit_is_413(self):
        """A chunked body without a declared length is cut off at the limit with 413."""
        # Arrange
        async def chunks():
            for _ in range(40):
                yield b"x" * 65536

        # Act
        async with client() as c:
            response = await c.post("/v1/config/halt", content=chunks(),
                                    headers={**bearer("admin"), "content-type": "application/json"})

        # Assert
        assert (response.status_code, response.json()["error"]) == (413, "BODY_TOO_LARGE")
