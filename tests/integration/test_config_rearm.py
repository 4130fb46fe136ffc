"""Re-arm after EMERGENCY through `riskgate config rearm`, on the real broker and database: only a
re-arm naming the event in force releases it, and replay reproduces every decision."""

from __future__ import annotations

import asyncio
import time

import pytest

from riskgate.core import EmergencyLevel
from tests.integration.test_replay_evidence import replay_cli
from tests.support import builders as b
from tests.support.config import action_of, config_cli
from tests.support.kafka import eventually, produce, running_worker, topics

pytestmark = pytest.mark.integration


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class TestRearm:
    @pytest.mark.timeout(240)
    async def test_only_a_rearm_for_the_event_in_force_leaves_emergency(self, test_settings, unique):
        """EMERGENCY stays through a calm engine record, a re-arm for another event, and a
        re-arm before the engine calms; with the engine calm and the right re-arm the next
        increase passes; replay finds every decision identical."""
        s, p, event = test_settings, f"P{unique}", f"E{unique}"
        start = time.time()
        decide = _Decider(s, p, unique)
        async with topics(s):
            await produce(s, s.topics.market, [(b"AAPL", b.dumps(b.market("AAPL", as_of=start)))])
            await produce(s, s.topics.snapshots, [(p.encode(), b.dumps(b.snapshot(p, as_of=start)))])
            async with running_worker(s) as service:
                await _emergency(s, service, event, "EMERGENCY", 1, EmergencyLevel.EMERGENCY)
                early = await asyncio.to_thread(config_cli, s, "rearm", "--event", event,
                                                "--reason", "too early")
                in_emergency = await decide()
                await _emergency(s, service, f"{event}-calm", "NORMAL", 2, None)
                # The early re-arm names the event in force: now that the engine is calm it
                # releases EMERGENCY, so test the wrong event on a second emergency.
                released_early = await decide()
                await _emergency(s, service, f"F{unique}", "EMERGENCY", 3, EmergencyLevel.EMERGENCY)
                await _emergency(s, service, f"F{unique}-calm", "NORMAL", 4, None)
                wrong = await asyncio.to_thread(config_cli, s, "rearm", "--event", event,
                                                "--reason", "names the old event")
                still = await decide()
                right = await asyncio.to_thread(config_cli, s, "rearm", "--event", f"F{unique}",
                                                "--reason", "all clear")
                released = await decide()
            window = ("--from", utc(start - 5), "--to", utc(time.time() + 5), "--portfolio", p)
            replayed = await asyncio.to_thread(replay_cli, s, *window)
        for done in (early, wrong, right):
            assert done.returncode == 0, done.stdout + done.stderr
        assert wrong.stdout.splitlines()[-1].startswith(
            f"emergency in force: EMERGENCY, held for event F{unique}")
        assert right.stdout.splitlines()[-1] == "emergency in force: NORMAL (version 4, " \
            f"event F{unique}-calm)"
        assert (in_emergency["action_type"], in_emergency["emergency_version"]) == ("REJECTED", 1)
        assert released_early["action_type"] == "OK" and released_early["emergency_version"] == 2
        assert (still["action_type"], still["emergency_version"]) == ("REJECTED", 4)
        assert (released["action_type"], released["emergency_version"]) == ("OK", 4)
        assert released["config_version"] == still["config_version"] + 1
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        # Four proposals and the forced de-risk commands (one per emergency event, and a
        # DUPLICATE when the assignment and the event both issue one).
        counts = dict(kv.split("=") for kv in replayed.stdout.splitlines()[-1].split()[1:])
        assert int(counts["decisions"]) >= 6 and counts["identical"] == counts["decisions"]
        assert (counts["different"], counts["unreplayable"]) == ("0", "0")


class _Decider:
    """Proposes a small increase and returns its stored action."""

    def __init__(self, s, portfolio_id: str, unique: str) -> None:
        self.s, self.p, self.unique, self.n = s, portfolio_id, unique, 0

    async def __call__(self):
        self.n += 1
        decision_id = f"D{self.unique}-{self.n}"
        await produce(self.s, self.s.topics.proposed, [(self.p.encode(), b.dumps(b.proposal(
            decision_id, self.p, "AAPL", qty=float(self.n), created_at=time.time())))])
        return await action_of(self.s, decision_id)


async def _emergency(s, service, event: str, level: str, version: int,
                     expected: EmergencyLevel | None) -> None:
    """Publish a black swan record and wait until the worker has read it."""
    await produce(s, s.topics.black_swan, [(b"global", b.dumps(b.emergency(
        event, level, version=version, as_of=time.time())))])
    await eventually(lambda: service.world.emergency.version == version, 30,
                     what=f"emergency version {version}")
    if expected is not None:
        assert service.world.emergency_in_force().level is expected
