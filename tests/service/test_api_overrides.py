"""GET /v1/overrides on a fake statistics source: the windows and their sums, the viewer key,
bad ranges, an unreadable topic, and the read side's revision rule."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson
import pytest

from riskgate.api import ApiParts, create_app
from riskgate.api.auth import KeyRing
from riskgate.api.live import world_for
from riskgate.contracts.decode import encode
from riskgate.contracts.outputs import OverrideStats
from riskgate.settings import Settings
from riskgate.stats.reader import StatsUnavailable, decode_stats, latest_revisions
from tests.support import builders as b
from tests.support.api_fakes import FakePortfolios, FixedInputs, bearer, write_keys_file

pytestmark = pytest.mark.service

NOW = b.T0
START = datetime.fromtimestamp(NOW - 7200 - NOW % 60, UTC)  # two hours back, on a minute
SETTINGS = Settings(api_read_rate_per_min=1_000_000)


def window(minute: int, revision: int = 0, *, decisions: int = 10, counts=(), done=True,
           strategy: str = "S1") -> OverrideStats:
    start = START + timedelta(minutes=minute)
    end = start + timedelta(minutes=1)
    until = end + timedelta(minutes=5) if done else datetime.fromtimestamp(NOW + 60, UTC)
    return OverrideStats.model_validate_json(orjson.dumps({
        "window_id": f"00000000-0000-5000-8000-{minute:012d}", "revision": revision,
        "strategy_id": strategy, "window_size_s": 60, "window_start": start.isoformat(),
        "window_end": end.isoformat(), "decisions": decisions,
        "overridden": sum(n for a, _, n in counts if a != "DUPLICATE"),
        "counts": [{"action_type": a, "reason_code": r, "count": n} for a, r, n in counts],
        "corrections_until": until.isoformat(),
        "timestamp": (end + timedelta(seconds=5)).isoformat()}))


class FakeStats:
    """Answers from a list, recording each question; ``fail`` makes it unreadable."""

    def __init__(self, windows: list[OverrideStats], fail: str | None = None) -> None:
        self.records, self.fail, self.asked = windows, fail, []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def windows(self, strategy_id, since, until, window_size_s):
        self.asked.append((strategy_id, since, until, window_size_s))
        if self.fail:
            raise StatsUnavailable(self.fail)
        return [w for w in self.records if w.strategy_id == strategy_id]


def client(source: FakeStats | None, keys: bool = True) -> httpx.AsyncClient:
    path = write_keys_file(Path(tempfile.mkdtemp(prefix="riskgate-api-")) / "keys.json")
    parts = ApiParts(FixedInputs(world_for(SETTINGS)), FakePortfolios(),
                     keys=KeyRing(path if keys else None),
                     services=[source] if source is not None else [])
    app = create_app(parts, settings=SETTINGS, clock=lambda: NOW)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rg.test")


SINCE = {"strategy": "S1", "since": START.isoformat()}


class TestOverridesRoute:
    async def test_a_viewer_gets_each_window_and_their_sums(self):
        """The windows come back as the source gives them, summed per type and reason code."""
        source = FakeStats([
            window(0, 1, counts=[("CAPPED", "PER_NAME_WEIGHT", 2), ("REJECTED", None, 1)]),
            window(1, 0, decisions=4, counts=[("CAPPED", "PER_NAME_WEIGHT", 1)]),
            window(0, strategy="S2")])

        async with client(source) as c:
            reply = await c.get("/v1/overrides", params=SINCE, headers=bearer("viewer"))

        body = reply.json()
        assert reply.status_code == 200
        assert (body["decisions"], body["overridden"], body["complete"]) == (14, 4, True)
        assert body["counts"] == [
            {"action_type": "CAPPED", "reason_code": "PER_NAME_WEIGHT", "count": 3},
            {"action_type": "REJECTED", "reason_code": None, "count": 1}]
        assert [w["revision"] for w in body["windows"]] == [1, 0]
        assert source.asked == [("S1", START, datetime.fromtimestamp(NOW, UTC), 60)]

    async def test_a_window_still_open_to_corrections_makes_the_answer_incomplete(self):
        """complete is false while some window's corrections_until is in the future."""
        async with client(FakeStats([window(0, done=False)])) as c:
            reply = await c.get("/v1/overrides", params=SINCE, headers=bearer("viewer"))

        assert reply.json()["complete"] is False

    async def test_the_window_size_and_until_are_passed_on(self):
        """window_s and until reach the source as given."""
        source = FakeStats([])
        until = (START + timedelta(hours=1)).astimezone(timezone(timedelta(hours=1)))
        params = {**SINCE, "until": until.isoformat(), "window_s": "3600"}

        async with client(source) as c:
            reply = await c.get("/v1/overrides", params=params, headers=bearer("viewer"))

        assert reply.status_code == 200 and reply.json()["windows"] == []
        assert source.asked == [("S1", START, START + timedelta(hours=1), 3600)]

    @pytest.mark.parametrize("params", [
        {"strategy": "S1", "since": START.isoformat().removesuffix("+00:00")},
        {"strategy": "S1"},
        {**SINCE, "until": START.isoformat()},
        {**SINCE, "window_s": "0"},
        {**SINCE, "strategy": "S 1"}])
    async def test_a_bad_question_is_422_and_never_reaches_the_topic(self, params):
        """No offset, no since, an empty range, size 0 or a spaced id: 422, nothing read."""
        source = FakeStats([])

        async with client(source) as c:
            reply = await c.get("/v1/overrides", params=params, headers=bearer("viewer"))

        assert reply.status_code == 422 and reply.json()["error"] == "INVALID_REQUEST"
        assert source.asked == []

    async def test_without_a_key_it_is_401_once_keys_are_configured(self):
        """Reads need a viewer key when a keys file is set."""
        async with client(FakeStats([])) as c:
            reply = await c.get("/v1/overrides", params=SINCE)

        assert reply.status_code == 401

    async def test_an_unreadable_topic_is_503_saying_why(self):
        """A broker or topic problem answers 503 STATS_UNAVAILABLE with the reason."""
        async with client(FakeStats([], fail="topic 'risk.override_stats' does not exist")) as c:
            reply = await c.get("/v1/overrides", params=SINCE, headers=bearer("viewer"))

        assert reply.status_code == 503
        assert reply.json() == {"error": "STATS_UNAVAILABLE",
                                "message": "topic 'risk.override_stats' does not exist"}

    async def test_without_a_source_the_route_is_not_mounted(self):
        """An API with no statistics source among its services has no /v1/overrides."""
        async with client(None) as c:
            reply = await c.get("/v1/overrides", params=SINCE, headers=bearer("viewer"))

        assert reply.status_code == 404

    async def test_the_openapi_document_declares_the_answers(self):
        """200 with its model, and 401, 403, 422, 429 and 503 are documented."""
        async with client(FakeStats([])) as c:
            document = (await c.get("/openapi.json")).json()

        responses = document["paths"]["/v1/overrides"]["get"]["responses"]
        assert {"200", "401", "403", "422", "429", "503"} <= set(responses)
        assert responses["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/OverridesAnswer"}


class TestReadSide:
    def test_the_highest_revision_of_each_window_wins_whatever_the_order(self):
        """Revisions are compared, not positions: a window's answer is its highest one."""
        records = [window(0, 1, decisions=11), window(0, 0), window(1, 0), window(0, 2, decisions=12)]

        latest = latest_revisions(records)

        assert [(w.window_start, w.revision, w.decisions) for w in latest] == [
            (START, 2, 12), (START + timedelta(minutes=1), 0, 10)]

    def test_fields_of_a_newer_minor_version_are_ignored(self):
        """A record with an unknown field still reads; a record that is not one reads as None."""
        body = orjson.loads(encode(window(0)))
        body["schema_version"], body["new_field"] = "1.3", {"x": 1}

        assert decode_stats(orjson.dumps(body)) == window(0).model_copy(
            update={"schema_version": "1.3"})
        assert decode_stats(b"[1, 2]") is None
