"""Four-eyes (RISKGATE_FOUR_EYES=true) on the real broker and database: limit changes and re-arms
wait for a second admin, proposals expire, and profile switches and halts never wait."""

from __future__ import annotations

import asyncio
import json

import pytest

from riskgate.control.model import Actor, ConfigChange, ConfigRefused, NotPermitted
from tests.support.config import config_cli, end_offset, fetch, writer_for
from tests.support.kafka import topics

pytestmark = pytest.mark.integration

FOUR_EYES = {"RISKGATE_FOUR_EYES": "true"}


class TestFourEyes:
    @pytest.mark.timeout(180)
    async def test_a_limit_change_needs_a_second_admin(self, test_settings, tmp_path):
        """alice's set-limits is only proposed (nothing on the topic); alice cannot approve
        it; bob's approval publishes it with both names; approving twice is refused."""
        s = test_settings
        limits = tmp_path / "limits.json"
        limits.write_text(json.dumps({"gross_cap": 2.0}))
        async with topics(s):
            proposed = await asyncio.to_thread(
                config_cli, s, "set-limits", str(limits), "--reason", "tighter book", "--as",
                "alice", **FOUR_EYES)
            change_id = proposed.stdout.split()[1]
            offset_after_proposal = await end_offset(s)
            own = await asyncio.to_thread(config_cli, s, "approve", change_id, "--as", "alice",
                                          **FOUR_EYES)
            approved = await asyncio.to_thread(config_cli, s, "approve", change_id, "--as", "bob",
                                               "--no-wait", **FOUR_EYES)
            again = await asyncio.to_thread(config_cli, s, "approve", change_id, "--as", "carol",
                                            **FOUR_EYES)
            rows = await fetch(s, "SELECT version, actor, approved_by, payload FROM config_writes "
                                  "WHERE source_topic = $1", s.topics.config)
            history = await asyncio.to_thread(config_cli, s, "history", "--json")
        assert proposed.returncode == 0 and proposed.stdout.startswith(f"proposed {change_id}")
        assert offset_after_proposal == 0
        assert own.returncode == 2 and "a second admin must approve it" in own.stderr
        assert approved.returncode == 0, approved.stderr
        assert approved.stdout.startswith(f"published version 1 ({change_id})")
        assert again.returncode == 2 and "already approved by bob (version 1)" in again.stderr
        assert [(r["version"], r["actor"], r["approved_by"]) for r in rows] == [(1, "alice", "bob")]
        record = json.loads(rows[0]["payload"])
        assert (record["updated_by"], record["approved_by"], record["reason"]) == (
            "alice", "bob", "tighter book")
        assert [(e["by"], e["approved_by"]) for e in json.loads(history.stdout)] == [("alice", "bob")]

    @pytest.mark.timeout(120)
    async def test_a_proposal_expires_and_switches_never_wait(self, test_settings):
        """A re-arm proposal approved after its expiry is refused; a profile switch and a halt
        are published at once under four-eyes; a viewer cannot write."""
        s = test_settings.model_copy(update={"four_eyes": True, "proposal_expiry_s": 1.0})
        async with topics(s), writer_for(s) as writer:
            proposal = await writer.submit(ConfigChange(rearm_event_id="E1", reason="clear"),
                                           Actor(name="alice", role="admin"))
            await asyncio.sleep(1.5)
            with pytest.raises(ConfigRefused, match="expired at"):
                await writer.approve(proposal.change_id, Actor(name="bob", role="admin"))
            switched = await writer.submit(ConfigChange(profile="DEFENSIVE", reason="switch"),
                                           Actor(name="olivia", role="operator"))
            halted = await writer.submit(ConfigChange(trading_state="HALTED", reason="stop"),
                                         Actor(name="olivia", role="operator"))
            with pytest.raises(NotPermitted, match="viewer"):
                await writer.submit(ConfigChange(profile="NORMAL", reason="peek"),
                                    Actor(name="vic", role="viewer"))
            with pytest.raises(NotPermitted, match="needs admin"):
                await writer.submit(ConfigChange(limits={"gross_cap": 1.0}, reason="cap"),
                                    Actor(name="olivia", role="operator"))
        assert proposal.status == "proposed" and proposal.version is None
        assert (switched.status, switched.version) == ("published", 1)
        assert (halted.status, halted.version) == ("published", 2)
        assert halted.new["profile"] == "DEFENSIVE" and halted.new["trading_state"] == "HALTED"
