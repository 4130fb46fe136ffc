"""The reduced chaos run of `make test`; `make chaos` runs the full size."""

from __future__ import annotations

import os

import pytest

from tests.chaos.harness import ChaosPlan, run_chaos

pytestmark = pytest.mark.chaos


class TestChaos:
    @pytest.mark.timeout(900)
    async def test_kill9_broker_and_database_restarts_lose_and_duplicate_nothing(self, infra):
        """Under kill -9 of workers and restarts of Kafka and PostgreSQL every decision is answered
        exactly once, the answers equal a sequential reference run of the core, and a replay of
        the window from the stored evidence finds every one identical."""
        plan = ChaosPlan(decisions=int(os.environ.get("RISKGATE_CHAOS_DECISIONS", "2000")),
                         portfolios=20, kills=3, rate_per_s=150.0)
        line, report = await run_chaos(plan, infra)
        print(line)
        assert report["lost"] == 0, report["problems"]
        assert report["duplicates"] == 0, report["problems"]
        assert report["mismatches"] == 0, report["problems"]
        assert report["kills"] >= 3 and report["broker_restarts"] == 1 and report["pg_restarts"] == 1
        assert report["decisions"] == plan.decisions
        assert report["reference_compared"] >= plan.decisions  # the reference really ran
        # Replay of the whole window from the stored evidence reproduces every answer.
        assert report["replay_decisions"] >= plan.decisions, report["replay"]
        assert report["replay_different"] == 0, report["replay_problems"]
        assert report["replay_unreplayable"] == 0, report["replay_problems"]
        assert report["verify_clean"], report["replay"]
