"""The HTTP API on the real broker and database: a profile switch through POST
/api/v2/policy/risk-mode reaches a running worker, refused writes publish nothing, and the
API's own live view and live-book reads follow what the worker decided."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from riskgate.api import create_app
from riskgate.api.wiring import real_parts
from riskgate.settings import Settings
from tests.support import builders as b
from tests.support.api_fakes import bearer, write_keys_file
from tests.support.config import action_of, end_offset
from tests.support.kafka import eventually, produce, running_worker, topics

pytestmark = pytest.mark.integration

SWITCH = {"profile": "DEFENSIVE", "scope": "global", "reason": "volatility is up"}


@contextlib.asynccontextmanager
async def serving(s: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real API (live inputs, PostgreSQL, the real writer) started, ready and writable."""
    app = create_app(real_parts(s), settings=s)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://riskgate.test",
            timeout=60) as client:
        async def writable() -> bool:
            body = (await client.get("/ready")).json()
            return body["ready"] and body["writer"] == "available"

        await eventually(writable, 60, what="the API ready with its writer started")
        yield client


async def decide(s: Settings, p: str, decision_id: str):
    await produce(s, s.topics.proposed, [(p.encode(), b.dumps(b.proposal(
        decision_id, p, "AAPL", qty=2.0, created_at=time.time())))])
    return await action_of(s, decision_id)


class TestRiskModeThroughTheApi:
    @pytest.mark.timeout(240)
    async def test_a_switch_reaches_the_worker_and_refusals_publish_nothing(
            self, test_settings, unique, tmp_path):
        """Anonymous and under-privileged writes leave risk.config's end offset as it was; an
        operator's POST risk-mode with wait=true answers 200 once the worker applied it, and
        the worker's next decision carries DEFENSIVE and the published version."""
        s = test_settings.model_copy(update={"api_keys_file": write_keys_file(
            tmp_path / "keys.json")})
        now, p = time.time(), f"P{unique}"
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(
                p, as_of=now, positions={"AAPL": 3.0})))])
            async with running_worker(s) as worker, serving(s) as api:
                before = await decide(s, p, f"D{unique}-1")
                offset = await end_offset(s)
                anonymous = await api.post("/api/v2/policy/risk-mode", json=SWITCH)
                viewer = await api.post("/api/v2/policy/risk-mode", json=SWITCH,
                                        headers=bearer("viewer"))
                unpublished = await end_offset(s)
                switched = await api.post("/api/v2/policy/risk-mode", json=SWITCH,
                                          params={"wait": "true"}, headers=bearer("operator"))
                after = await decide(s, p, f"D{unique}-2")
                seen = await eventually(lambda: _profile_seen(api), 30,
                                        what="the API's live view of the switch")
                risk = (await api.get(f"/v1/portfolios/{p}/risk",
                                      headers=bearer("viewer"))).json()
                worker_id = worker.status.worker_id
                published = await end_offset(s)
        assert (anonymous.status_code, viewer.status_code) == (401, 403)
        assert unpublished == offset
        assert switched.status_code == 200, switched.text
        body = switched.json()
        version = body["version"]
        assert (body["status"], body["applied"], body["applied_by"]) == (
            "published", True, [worker_id])
        assert published == offset + 1
        assert (before["profile"], before["config_version"]) == ("NORMAL", -1)
        assert (after["profile"], after["config_version"]) == ("DEFENSIVE", version)
        assert seen["global_profile"] == "DEFENSIVE" and seen["config_version"] == version
        assert seen["scopes"][0]["version"] == version
        assert (risk["profile"], risk["config_version"]) == ("DEFENSIVE", version)
        assert before["action_type"] == "OK"  # 3 -> 2, a de-risk: the target is in flight
        assert [(x["ticker"], x["quantity"]) for x in risk["positions"]] == [("AAPL", 2.0)]

    @pytest.mark.timeout(180)
    async def test_a_live_what_if_sees_the_projected_position(self, test_settings, unique,
                                                              tmp_path):
        """After the worker issues a target, a what-if on the live portfolio starts from it
        (the target in flight), not from the snapshot."""
        s = test_settings.model_copy(update={"api_keys_file": write_keys_file(
            tmp_path / "keys.json")})
        now, p = time.time(), f"P{unique}"
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=now)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=now)))])
            async with running_worker(s), serving(s) as api:
                issued = await decide(s, p, f"D{unique}-1")
                what_if = await api.post("/v1/what-if", headers=bearer("viewer"), json={
                    "portfolio_id": p, "decision": b.proposal(
                        f"D{unique}-2", p, "AAPL", qty=0.0, created_at=time.time())})
                market = await api.get("/v1/market/AAPL", headers=bearer("viewer"))
        assert issued["action_type"] == "OK"
        result = what_if.json()
        assert what_if.status_code == 200, what_if.text
        assert (result["book"], result["action_type"]) == ("live", "OK")
        assert result["delta_position"] == pytest.approx(-2.0)  # from the 2.0 in flight
        assert (market.status_code, market.json()["version"]) == (200, 1)


async def _profile_seen(api: httpx.AsyncClient):
    body = (await api.get("/api/v2/policy/risk-profile", headers=bearer("viewer"))).json()
    return body if body["global_profile"] == "DEFENSIVE" else None
