"""Shared fixtures. The infrastructure starts once per session; each test gets its own topics."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import hypothesis  # noqa: F401 - see below
import pytest

from riskgate.settings import Settings, Topics

ROOT = Path(__file__).resolve().parents[1]
# hypothesis is imported at collection on purpose: pytest rewrites the modules of its plugin, and
# when the first import happens only in the terminal summary, deep in pytest's stack, CPython
# 3.11.7 fails that rewrite with "AST constructor recursion depth mismatch" and the run exits 1.


def _docker_engine_answers() -> bool:
    """Only a real engine counts: the docker client alone answers --version but cannot run."""
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def infra() -> Settings:
    """Settings for a running broker and database: RISKGATE_* if set, else local infra."""
    if not os.environ.get("RISKGATE_BOOTSTRAP_SERVERS"):
        if _docker_engine_answers() and os.environ.get("RISKGATE_USE_TESTCONTAINERS"):
            pytest.fail("testcontainers mode is selected but not wired here; set RISKGATE_* instead")
        subprocess.run(["bash", str(ROOT / "deploy/local/infra.sh"), "up"], check=True, timeout=600)
    return Settings()


@pytest.fixture()
def unique() -> str:
    """A short id that keeps this test's topics, group and ids apart from every other test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture()
def test_settings(infra: Settings, unique: str) -> Settings:
    """Settings with topics, group and transactional ids of this test only."""
    names = {field: f"t{unique}.{default}" for field, default in Topics().model_dump().items()}
    return infra.model_copy(update={
        "topics": Topics(**names), "group_id": f"g{unique}", "transactional_id_prefix": f"x{unique}",
        "partitions": 4, "http_port": 0, "batch_timeout_ms": 20,
    })
