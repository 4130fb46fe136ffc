"""The worker process refuses bad shadow settings at start-up: one line on stderr, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from riskgate.settings import Settings
from tests.support.kafka import worker_env

pytestmark = pytest.mark.e2e


def start_worker(**env: str) -> subprocess.CompletedProcess:
    # An unreachable broker and database: a refused setting must end before either is tried.
    return subprocess.run([sys.executable, "-m", "riskgate.cli", "worker"],
                          env=worker_env(Settings(), RISKGATE_BOOTSTRAP_SERVERS="127.0.0.1:1",
                                         RISKGATE_DATABASE_URL="postgresql://x@127.0.0.1:1/x",
                                         **env),
                          capture_output=True, text=True, timeout=60)


class TestShadowStartup:
    @pytest.mark.parametrize(("env", "expected"), [
        ({"RISKGATE_SHADOW_PROFILE": "DEFENSIVE", "RISKGATE_SHADOW_LIMITS_FILE": "/tmp/c.yaml"},
         "RISKGATE_SHADOW_PROFILE and RISKGATE_SHADOW_LIMITS_FILE are both set"),
        ({"RISKGATE_SHADOW_PROFILE": "BOLD"}, "RISKGATE_SHADOW_PROFILE: unknown profile 'BOLD'"),
        ({"RISKGATE_SHADOW_LIMITS_FILE": "/nonexistent/candidate.yaml"},
         "RISKGATE_SHADOW_LIMITS_FILE: cannot read /nonexistent/candidate.yaml"),
    ], ids=["both", "unknown-profile", "missing-file"])
    def test_bad_shadow_settings_exit_2_with_one_line(self, env, expected):
        """Both settings, an unknown profile or an unreadable file: exit 2 and one stderr line."""
        done = start_worker(**env)

        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stderr
        assert len(lines) == 1 and lines[0].startswith("riskgate worker: "), done.stderr
        assert expected in lines[0]

    def test_unknown_key_in_the_candidate_file_exits_2(self, tmp_path):
        """A candidate file with a key riskgate does not know is refused, naming the key."""
        path = tmp_path / "candidate.yaml"
        path.write_text("profile: DEFENSIVE\nlimts: {sector_cap: 0.2}\n", encoding="utf-8")

        done = start_worker(RISKGATE_SHADOW_LIMITS_FILE=str(path))

        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "limts" in done.stderr
