"""The control routes with a fake writer: who may write, what reaches the writer, and every
refusal publishing nothing."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import REGISTRY

from riskgate.api import ApiParts, create_app
from riskgate.api.auth import KeyRing, hash_key
from riskgate.api.live import world_for
from riskgate.api.writer import StartedWriter
from riskgate.control.model import ConfigTopicInvalid, NotPermitted, UnknownChange
from riskgate.settings import Settings
from tests.support.api_fakes import (
    KEYS,
    FakePortfolios,
    FakeWriter,
    FixedInputs,
    bearer,
    write_keys_file,
)

pytestmark = pytest.mark.service

REASON = "desk asked for it"
#: Every write route: (method, path, body, the lowest role that may call it).
WRITES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/v2/policy/risk-mode", {"profile": "DEFENSIVE", "scope": "global",
                                          "reason": REASON}, "operator"),
    ("PUT", "/v1/profiles/active", {"profile": "DEFENSIVE", "reason": REASON}, "operator"),
    ("POST", "/v1/config/trading-state", {"state": "REDUCING", "scope": "strategy:S1",
                                          "reason": REASON}, "operator"),
    ("POST", "/v1/config/halt", {"reason": REASON}, "operator"),
    ("POST", "/v1/config/limits", {"scope": "portfolio:P1", "limits": {"gross_cap": 1.5},
                                   "unset": ["net_cap"], "reason": REASON}, "admin"),
    ("POST", "/v1/config/rearm", {"event_id": "E1", "reason": REASON}, "admin"),
    ("POST", "/v1/config/approvals/C9", None, "admin"),
]
WRITE_IDS = [f"{m} {p}" for m, p, _, _ in WRITES]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Api:
    """An app on a fake writer, a keys file (unless ``keys=None``) and a stepped clock."""

    def __init__(self, tmp_path, *, keys: bool = True, writer: FakeWriter | None = None,
                 no_writer: bool = False, **settings: Any) -> None:
        self.keys_path = write_keys_file(tmp_path / "keys.json") if keys else None
        self.writer = None if no_writer else (writer or FakeWriter())
        self.inputs = FixedInputs(world_for(Settings()))
        self.clock = Clock()
        self.app = create_app(
            ApiParts(self.inputs, FakePortfolios(), self.writer, KeyRing(self.keys_path)),
            settings=Settings(**settings), monotonic=self.clock)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                        base_url="http://riskgate.test")

    async def write(self, index: int, headers: dict[str, str] | None = None, **params: Any
                    ) -> httpx.Response:
        method, path, body, _ = WRITES[index]
        return await self.client.request(method, path, json=body, headers=headers or {},
                                         params=params)

    def published(self) -> int:
        w = self.writer
        return 0 if w is None else len(w.submitted) + len(w.approved)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Api:
    """One app (building one takes a third of a second) for the route-by-role matrix."""
    return Api(tmp_path_factory.mktemp("keys"), api_write_rate_per_min=1_000_000)


@pytest.fixture()
def api(shared: Api) -> Api:
    shared.writer.submitted.clear()
    shared.writer.approved.clear()
    return shared


@pytest.fixture(scope="module")
def keyless(tmp_path_factory) -> Api:
    return Api(tmp_path_factory.mktemp("nokeys"), keys=False)


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("riskgate_api_auth_failures_total", {"reason": reason}) or 0.0


class TestRoles:
    @pytest.mark.parametrize("index", range(len(WRITES)), ids=WRITE_IDS)
    @pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
    async def test_each_write_needs_its_role_and_a_refusal_publishes_nothing(
            self, api, index, role):
        """A key below the route's role gets 403 and nothing reaches the writer; one at or
        above it is passed to the writer as the key's name, authenticated, via the API."""
        # Arrange
        needed = WRITES[index][3]

        # Act
        response = await api.write(index, bearer(role))

        # Assert
        if RANK[role] < RANK[needed]:
            assert (response.status_code, response.json()["error"]) == (403, "FORBIDDEN")
            assert needed in response.json()["message"]
            assert api.published() == 0
        else:
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "published"
            calls = api.writer.submitted or api.writer.approved
            actor = calls[0][1]
            assert (actor.name, actor.role, actor.authenticated, actor.via) == (
                role, role, True, "api")

    @pytest.mark.parametrize("index", range(len(WRITES)), ids=WRITE_IDS)
    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"},
                                         {"Authorization": f"Basic {KEYS['admin']}"}],
                             ids=["no-key", "unknown-key", "not-bearer"])
    async def test_an_anonymous_or_unknown_caller_gets_401_and_publishes_nothing(
            self, api, index, headers):
        """No key, an unknown key or another scheme is 401 with a Bearer challenge."""
        # Act
        response = await api.write(index, headers)

        # Assert
        assert (response.status_code, response.json()["error"]) == (401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
        assert api.published() == 0

    @pytest.mark.parametrize("index", range(len(WRITES)), ids=WRITE_IDS)
    async def test_without_a_keys_file_every_write_is_503_saying_how_to_configure(
            self, keyless, index):
        """With no keys configured a write, even with a key, is 503 naming the setting."""
        # Act
        response = await keyless.write(index, bearer("admin"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (503, "NO_API_KEYS")
        assert "RISKGATE_API_KEYS_FILE" in response.json()["message"]
        assert keyless.published() == 0

    async def test_reads_need_a_viewer_key_once_keys_are_configured(self, tmp_path):
        """With a keys file a read without a key is 401 and with a viewer key 200; probes stay
        anonymous."""
        # Arrange
        api = Api(tmp_path)

        # Act
        anonymous = await api.client.get("/api/v2/policy/risk-profile")
        viewer = await api.client.get("/api/v2/policy/risk-profile", headers=bearer("viewer"))
        probes = [await api.client.get(p) for p in ("/health", "/ready", "/metrics")]

        # Assert
        assert anonymous.status_code == 401
        assert viewer.status_code == 200
        assert [p.status_code for p in probes] == [200, 200, 200]

    async def test_failures_are_counted_by_reason(self, tmp_path):
        """Each refusal raises the authentication-failure counter under its reason."""
        # Arrange
        api = Api(tmp_path)
        before = {r: failures(r) for r in ("missing", "unknown", "role")}

        # Act
        await api.write(0)
        await api.write(0, {"Authorization": "Bearer nope"})
        await api.write(4, bearer("operator"))

        # Assert
        assert {r: failures(r) - before[r] for r in before} == {
            "missing": 1.0, "unknown": 1.0, "role": 1.0}

    async def test_keys_are_never_logged(self, tmp_path):
        """Neither a known nor an unknown presented key appears in any log event."""
        # Arrange
        api = Api(tmp_path)

        # Act
        with structlog.testing.capture_logs() as logs:
            await api.write(4, bearer("operator"))
            await api.write(0, {"Authorization": "Bearer secret-guess-123"})
            await api.write(0, bearer("operator"))

        # Assert
        text = json.dumps(logs, default=str)
        assert logs and "operator" in text
        assert KEYS["operator"] not in text and "secret-guess-123" not in text


class TestKeysFile:
    async def test_a_rotated_key_works_and_the_old_one_stops_without_a_restart(self, tmp_path):
        """Rewriting the keys file takes effect on the next request."""
        # Arrange
        api = Api(tmp_path)
        assert (await api.write(0, bearer("operator"))).status_code == 202

        # Act
        write_keys_file(api.keys_path, {"operator": "rotated-operator-key-42"})
        os.utime(api.keys_path, ns=(1, 1))  # a new mtime even within the clock's resolution
        old = await api.write(0, bearer("operator"))
        new = await api.write(0, {"Authorization": "Bearer rotated-operator-key-42"})

        # Assert
        assert old.status_code == 401
        assert new.status_code == 202

    @pytest.mark.parametrize("content", [
        "not json", json.dumps([{"name": "x", "role": "root", "sha256": hash_key("k")}]),
        json.dumps([{"name": "x", "role": "admin", "sha256": "abc"}]),
        json.dumps([{"name": "x", "role": "admin", "sha256": hash_key("a")},
                    {"name": "x", "role": "viewer", "sha256": hash_key("b")}]),
    ], ids=["not-json", "unknown-role", "short-hash", "duplicate-name"])
    async def test_a_broken_keys_file_refuses_every_key_with_503(self, tmp_path, content):
        """An unusable keys file refuses even the keys it had (a typo never keeps a revoked
        key alive), with 503 saying what is wrong."""
        # Arrange
        api = Api(tmp_path)
        api.keys_path.write_text(content)
        os.utime(api.keys_path, ns=(2, 2))

        # Act
        response = await api.write(0, bearer("admin"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (503, "API_KEYS_UNUSABLE")
        assert str(api.keys_path) in response.json()["message"]
        assert api.published() == 0


class TestRateLimit:
    async def test_writes_over_the_rate_get_429_until_the_bucket_refills(self, tmp_path):
        """The third write in a minute at 2 a minute is 429 with Retry-After; 30 s later one
        more goes through."""
        # Arrange
        api = Api(tmp_path, api_write_rate_per_min=2)

        # Act
        first = [await api.write(0, bearer("operator")) for _ in range(3)]
        api.clock.t += 30.0
        later = await api.write(0, bearer("operator"))

        # Assert
        assert [r.status_code for r in first] == [202, 202, 429]
        assert first[2].json()["error"] == "RATE_LIMITED"
        assert first[2].headers["retry-after"] == "30"
        assert later.status_code == 202
        assert api.published() == 3

    async def test_each_key_has_its_own_bucket(self, tmp_path):
        """One key over its rate does not hold up another."""
        # Arrange
        api = Api(tmp_path, api_write_rate_per_min=1)
        await api.write(0, bearer("operator"))

        # Act
        same = await api.write(0, bearer("operator"))
        other = await api.write(0, bearer("admin"))

        # Assert
        assert (same.status_code, other.status_code) == (429, 202)


class TestWrites:
    async def test_risk_mode_hands_the_writer_the_change_with_its_reason(self, tmp_path):
        """POST risk-mode becomes a ConfigChange with profile, scope, reason and if_version,
        answered 202 with the new version and no wait."""
        # Arrange
        api = Api(tmp_path)
        body = {"profile": "DEFENSIVE", "scope": "portfolio:P7", "reason": REASON,
                "if_version": 3}

        # Act
        response = await api.client.post("/api/v2/policy/risk-mode", json=body,
                                          headers=bearer("operator"))

        # Assert
        change, _, wait_s = api.writer.submitted[0]
        assert (change.scope, change.profile.value, change.reason, change.if_version) == (
            "portfolio:P7", "DEFENSIVE", REASON, 3)
        assert wait_s is None
        assert response.status_code == 202
        assert (response.json()["version"], response.json()["applied"]) == (1, False)

    async def test_wait_answers_200_once_every_live_worker_applied_it(self, tmp_path):
        """wait=true passes the wait bound to the writer and answers 200 with applied=true."""
        # Arrange
        api = Api(tmp_path, api_wait_s=7.0)

        # Act
        response = await api.write(0, bearer("operator"), wait="true")

        # Assert
        assert api.writer.submitted[0][2] == 7.0
        assert (response.status_code, response.json()["applied"]) == (200, True)

    async def test_wait_names_the_workers_that_have_not_applied_it(self, tmp_path):
        """When a live worker has not applied the version in time the answer is 202 naming it."""
        # Arrange
        api = Api(tmp_path, writer=FakeWriter(lagging=["w-2"]))

        # Act
        response = await api.write(0, bearer("operator"), wait="true")

        # Assert
        assert response.status_code == 202
        assert response.json()["not_applied_by"] == ["w-2"]
        assert "w-2" in response.json()["message"]

    async def test_a_wait_with_no_live_worker_confirms_nothing(self, tmp_path):
        """With no live worker to report, a wait is 202: nothing has confirmed the version."""
        # Arrange
        api = Api(tmp_path, writer=FakeWriter(live=[]))

        # Act
        response = await api.write(0, bearer("operator"), wait="true")

        # Assert
        assert (response.status_code, response.json()["applied"]) == (202, False)
        assert "no live worker" in response.json()["message"]

    async def test_a_version_conflict_is_409(self, tmp_path):
        """The writer's VersionConflict is 409 with its message."""
        # Arrange
        api = Api(tmp_path, writer=FakeWriter(conflict="global is at version 5, not 3"))

        # Act
        response = await api.write(0, bearer("operator"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (409, "VERSION_CONFLICT")
        assert "version 5" in response.json()["message"]

    async def test_a_refused_change_is_422_and_nothing_is_published(self, tmp_path):
        """The writer's ConfigRefused (e.g. inconsistent limits) is 422 with its one line."""
        # Arrange
        api = Api(tmp_path, writer=FakeWriter(refuse="net_cap 2 is above gross_cap 1"))

        # Act
        response = await api.write(4, bearer("admin"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (422, "CONFIG_REFUSED")
        assert "net_cap" in response.json()["message"]
        assert api.published() == 0

    @pytest.mark.parametrize("body", [
        {"profile": "DEFENSIVE", "scope": "desk:7", "reason": REASON},
        {"profile": "DEFENSIVE", "scope": "global"},
        {"profile": "DEFENSIVE", "scope": "global", "reason": "x"},
        {"profile": "YOLO", "scope": "global", "reason": REASON},
        {"profile": "DEFENSIVE", "scope": "global", "reason": REASON, "if_version": "3"},
        {"profile": "DEFENSIVE", "scope": "global", "reason": REASON, "by": "me"},
    ], ids=["bad-scope", "no-reason", "short-reason", "unknown-profile", "string-version",
            "unknown-field"])
    async def test_an_invalid_body_is_422_before_the_writer(self, tmp_path, body):
        """A malformed scope, a missing reason, an unknown profile or field is 422 naming it."""
        # Arrange
        api = Api(tmp_path)

        # Act
        response = await api.client.post("/api/v2/policy/risk-mode", json=body,
                                          headers=bearer("operator"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (422, "INVALID_REQUEST")
        assert api.published() == 0

    async def test_without_a_writer_a_write_is_503_and_a_read_still_works(self, tmp_path):
        """With no ConfigWriter wired, writes say so (503) and reads answer."""
        # Arrange
        api = Api(tmp_path, no_writer=True)

        # Act
        write = await api.write(0, bearer("operator"))
        read = await api.client.get("/api/v2/policy/risk-modes", headers=bearer("viewer"))

        # Assert
        assert (write.status_code, write.json()["error"]) == (503, "WRITER_UNAVAILABLE")
        assert "config writer unavailable" in write.json()["message"]
        assert read.status_code == 200

    async def test_halt_and_the_profile_alias_are_global_changes(self, tmp_path):
        """halt is a global HALTED and PUT /v1/profiles/active a global profile switch."""
        # Arrange
        api = Api(tmp_path)

        # Act
        await api.write(3, bearer("operator"))
        await api.write(1, bearer("operator"))

        # Assert
        halt, alias = (c for c, _, _ in api.writer.submitted)
        assert (halt.scope, halt.trading_state.value, halt.profile) == ("global", "HALTED", None)
        assert (alias.scope, alias.profile.value, alias.trading_state) == (
            "global", "DEFENSIVE", None)

    async def test_under_four_eyes_a_limit_change_is_proposed_then_approved(self, tmp_path):
        """A limit change is 202 'proposed' with a change id; a second admin's approval
        publishes it as that admin."""
        # Arrange
        api = Api(tmp_path, writer=FakeWriter(four_eyes=True))

        # Act
        proposed = await api.write(4, bearer("admin"))
        change_id = proposed.json()["change_id"]
        approved = await api.client.post(f"/v1/config/approvals/{change_id}",
                                          headers=bearer("admin2"))

        # Assert
        assert (proposed.status_code, proposed.json()["status"]) == (202, "proposed")
        assert proposed.json()["version"] is None
        assert (approved.status_code, approved.json()["status"]) == (202, "published")
        assert api.writer.approved[0][:2][0] == change_id
        assert api.writer.approved[0][1].name == "admin2"


class RefusingWriter(FakeWriter):
    """A writer that refuses the way the real one does for a role or an unknown change."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def approve(self, change_id, actor, *, wait_s=None):
        raise self.error


class TestWriterRefusals:
    @pytest.mark.parametrize(("error", "status", "code"), [
        (NotPermitted("admin proposed C1; a second admin must approve it"), 403, "NOT_PERMITTED"),
        (UnknownChange("no proposal 'C9'"), 404, "UNKNOWN_CHANGE"),
    ], ids=["own-proposal", "unknown-change"])
    async def test_the_writers_own_refusals_keep_their_meaning(self, tmp_path, error, status,
                                                                code):
        """Approving one's own proposal is 403 and approving an unknown one 404."""
        # Arrange
        api = Api(tmp_path, writer=RefusingWriter(error))

        # Act
        response = await api.write(6, bearer("admin"))

        # Assert
        assert (response.status_code, response.json()["error"]) == (status, code)
        assert str(error) in response.json()["message"]


class StubRealWriter(FakeWriter):
    """Stands for control.writer.ConfigWriter: ``start`` fails with ``failure`` if set."""

    def __init__(self, failure: Exception | None = None, fail_on_submit: Exception | None = None):
        super().__init__()
        self.failure = failure
        self.fail_on_submit = fail_on_submit

    async def start(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def close(self) -> None:
        return None

    async def submit(self, change, actor, *, wait_s=None):
        if self.fail_on_submit is not None:
            raise self.fail_on_submit
        return await super().submit(change, actor, wait_s=wait_s)


class TestStartedWriter:
    async def test_until_the_writer_has_started_writes_are_503_saying_why(self, tmp_path):
        """A writer that cannot start (risk.config has 3 partitions) makes every write 503
        naming the reason, and /ready says so; nothing is submitted."""
        # Arrange
        stub = StubRealWriter(ConfigTopicInvalid("risk.config has 3 partitions, not 1"))
        started = StartedWriter(stub)
        api = Api(tmp_path, writer=started)
        await started.start()
        await asyncio.sleep(0.05)

        # Act
        response = await api.write(0, bearer("operator"))
        ready = (await api.client.get("/ready")).json()
        await started.stop()

        # Assert
        assert (response.status_code, response.json()["error"]) == (503, "WRITER_UNAVAILABLE")
        assert "3 partitions" in response.json()["message"]
        assert "3 partitions" in ready["writer"]
        assert stub.submitted == []

    async def test_once_started_writes_pass_and_an_unreachable_store_is_503(self, tmp_path):
        """A started writer is called as is; a database outage during a write is 503."""
        # Arrange
        stub = StubRealWriter()
        started = StartedWriter(stub)
        api = Api(tmp_path, writer=started)
        await started.start()
        await asyncio.sleep(0.05)

        # Act
        ok = await api.write(0, bearer("operator"))
        stub.fail_on_submit = OSError("connection refused")
        down = await api.write(0, bearer("operator"))
        await started.stop()

        # Assert
        assert ok.status_code == 202
        assert (down.status_code, down.json()["error"]) == (503, "WRITER_UNAVAILABLE")
