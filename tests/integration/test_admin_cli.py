"""Admin commands as real processes: an unreachable or refusing broker or database is one line.

Each test runs ``python -m riskgate.cli ...`` and reads its exit status and stderr: one line
naming the system, the address and the setting, no traceback, never the password.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

#: (arguments, the command's name in its message)
DB_COMMANDS = [(["migrate"], "migrate"), (["audit", "why", "D-none"], "audit why"),
               (["audit", "overrides", "S-none"], "audit overrides")]
DB_IDS = ["migrate", "audit-why", "audit-overrides"]


def dead_port() -> int:
    """A port nothing listens on: bound once to get a free number, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def riskgate(args: list[str], deadline_s: float = 60.0, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "riskgate.cli", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=deadline_s)


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def assert_one_clean_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


class TestAdminCommandFailures:
    def test_topics_create_names_a_dead_broker(self, infra) -> None:
        """topics create against a dead port exits 2 with one line naming Kafka, the address
        and RISKGATE_BOOTSTRAP_SERVERS."""
        # Arrange
        port = dead_port()
        # Act
        done = riskgate(["topics", "create"], RISKGATE_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}")
        # Assert
        line = assert_one_clean_line(done)
        assert line.startswith("riskgate topics create: cannot reach Kafka at ")
        assert f"127.0.0.1:{port}" in line and "(RISKGATE_BOOTSTRAP_SERVERS)" in line

    @pytest.mark.parametrize(("args", "name"), DB_COMMANDS, ids=DB_IDS)
    def test_database_commands_name_a_dead_database(self, infra, unique, args, name) -> None:
        """Each database command against a dead port exits 2 with one line naming PostgreSQL,
        the address and RISKGATE_DATABASE_URL, and no password."""
        # Arrange
        port, password = dead_port(), f"pw-{unique}"
        url = with_password(infra.database_url, password).replace(
            f":{urlsplit(infra.database_url).port}/", f":{port}/")
        # Act
        done = riskgate(args, RISKGATE_DATABASE_URL=url)
        # Assert
        line = assert_one_clean_line(done)
        assert line == (f"riskgate {name}: cannot reach PostgreSQL at 127.0.0.1:{port} "
                        "(RISKGATE_DATABASE_URL): connection refused")
        assert password not in done.stderr + done.stdout

    @pytest.mark.parametrize(("args", "name"), DB_COMMANDS, ids=DB_IDS)
    def test_database_commands_name_a_refused_login(self, infra, unique, args, name) -> None:
        """A wrong password against the real PostgreSQL is one line saying the login was
        refused, naming the user and the setting, never the password."""
        # Arrange
        password = f"wrong-{unique}"
        url = with_password(infra.database_url, password)
        user = urlsplit(url).username
        # Act
        done = riskgate(args, RISKGATE_DATABASE_URL=url)
        # Assert
        line = assert_one_clean_line(done)
        assert line.startswith(f"riskgate {name}: PostgreSQL at ")
        assert "refused the login: password authentication failed for user" in line
        assert user in line and line.endswith("(RISKGATE_DATABASE_URL)")
        assert password not in done.stderr + done.stdout

    @pytest.mark.parametrize(("args", "setting"), [
        (["migrate"], "RISKGATE_DATABASE_URL"),
        (["topics", "create"], "RISKGATE_BOOTSTRAP_SERVERS"),
    ], ids=["postgres", "kafka"])
    def test_a_silent_server_fails_in_seconds(self, infra, args, setting) -> None:
        """A port that accepts connections but never answers ends the command within 30 s,
        not after the drivers' default minute."""
        # Arrange
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            port = silent.getsockname()[1]
            value = (f"postgresql://riskgate:x@127.0.0.1:{port}/riskgate"
                     if setting == "RISKGATE_DATABASE_URL" else f"127.0.0.1:{port}")
            started = time.monotonic()
            # Act
            done = riskgate(args, deadline_s=45.0, **{setting: value})
            took = time.monotonic() - started
        # Assert
        line = assert_one_clean_line(done)
        assert took < 30.0
        assert f"127.0.0.1:{port}" in line and f"({setting})" in line
