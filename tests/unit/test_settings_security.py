"""Security settings: secrets stay secret, files stand beside variables, bad combinations fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from riskgate.kafka.clients import confluent_config, kafka_options
from riskgate.settings import Settings
from riskgate.store.connect import connect_options

pytestmark = pytest.mark.unit
SERVICES = Path(__file__).resolve().parents[2] / "services" / "riskgate"


class TestDatabasePassword:
    def test_a_password_in_the_url_moves_beside_it(self) -> None:
        """The URL keeps user, host and database; the password becomes a SecretStr."""
        # Arrange / Act
        s = Settings(database_url="postgresql://alice:s3cr%40t@db.example:5432/risk")
        # Assert
        assert s.database_url == "postgresql://alice@db.example:5432/risk"
        assert s.database_password is not None
        assert s.database_password.get_secret_value() == "s3cr@t"
        assert connect_options(s)["password"] == "s3cr@t"

    def test_two_different_passwords_are_refused(self) -> None:
        """A URL password that differs from database_password is an error, not a silent pick."""
        with pytest.raises(ValidationError, match="differs from database_password"):
            Settings(database_url="postgresql://a:one@h/db", database_password="two")

    def test_no_secret_in_the_repr(self) -> None:
        """Neither the repr nor the str of the settings shows a password."""
        # Arrange
        s = Settings(database_url="postgresql://a:pw-db-1234@h/db",
                     kafka_security_protocol="SASL_SSL", kafka_sasl_username="worker",
                     kafka_sasl_password="pw-kafka-5678")
        # Act
        shown = repr(s) + str(s) + s.model_dump_json()
        # Assert
        assert "pw-db-1234" not in shown and "pw-kafka-5678" not in shown


class TestSecretFiles:
    def test_a_file_gives_the_secret(self, tmp_path, monkeypatch) -> None:
        """RISKGATE_X_FILE is read, without its trailing newline."""
        # Arrange
        (tmp_path / "kafka").write_text("from-a-file\n")
        (tmp_path / "db").write_text("db-file-pw")
        monkeypatch.setenv("RISKGATE_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "kafka"))
        monkeypatch.setenv("RISKGATE_DATABASE_PASSWORD_FILE", str(tmp_path / "db"))
        monkeypatch.setenv("RISKGATE_KAFKA_SASL_USERNAME", "worker")
        monkeypatch.setenv("RISKGATE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
        # Act
        s = Settings()
        # Assert
        assert s.kafka_sasl_password is not None
        assert s.kafka_sasl_password.get_secret_value() == "from-a-file"
        assert connect_options(s)["password"] == "db-file-pw"

    def test_both_the_variable_and_the_file_is_an_error(self, tmp_path, monkeypatch) -> None:
        """Giving a secret twice names both variables."""
        # Arrange
        (tmp_path / "pw").write_text("x")
        monkeypatch.setenv("RISKGATE_DATABASE_PASSWORD_FILE", str(tmp_path / "pw"))
        monkeypatch.setenv("RISKGATE_DATABASE_PASSWORD", "y")
        # Act / Assert
        with pytest.raises(ValueError, match="both RISKGATE_DATABASE_PASSWORD and "
                                             "RISKGATE_DATABASE_PASSWORD_FILE"):
            Settings()

    def test_an_unreadable_file_names_itself(self, tmp_path, monkeypatch) -> None:
        """A missing secret file is a clear error naming the variable and the path."""
        monkeypatch.setenv("RISKGATE_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
        with pytest.raises(ValueError, match="RISKGATE_KAFKA_SASL_PASSWORD_FILE: cannot read"):
            Settings()


class TestCombinations:
    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs kafka_sasl_username"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": __file__}, "go together"),
        ({"kafka_ssl_cafile": __file__}, "kafka_security_protocol is PLAINTEXT"),
        ({"database_sslmode": "verify-full"}, "needs database_sslrootcert"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"},
         "no such file"),
    ])
    def test_a_combination_that_cannot_work_is_refused(self, kwargs, message) -> None:
        """Settings that could only fail at the first connection fail at start-up instead."""
        with pytest.raises(ValidationError, match=message):
            Settings(**kwargs)

    def test_sasl_reaches_both_clients(self) -> None:
        """aiokafka and librdkafka get the same mechanism, user and password."""
        # Arrange
        s = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-256",
                     kafka_sasl_username="worker", kafka_sasl_password="pw")
        # Act
        ours, theirs = kafka_options(s), confluent_config(s)
        # Assert
        assert (ours["security_protocol"], ours["sasl_mechanism"], ours["sasl_plain_username"],
                ours["sasl_plain_password"]) == ("SASL_SSL", "SCRAM-SHA-256", "worker", "pw")
        assert ours["ssl_context"] is not None
        assert (theirs["security.protocol"], theirs["sasl.mechanisms"], theirs["sasl.username"],
                theirs["sasl.password"]) == ("sasl_ssl", "SCRAM-SHA-256", "worker", "pw")


class TestOneFactory:
    CLIENTS = re.compile(r"\b(AIOKafkaProducer|AIOKafkaConsumer|AIOKafkaAdminClient)\(|"
                         r"\basyncpg\.(connect|create_pool)\(")
    FACTORIES = {SERVICES / "kafka" / "clients.py", SERVICES / "store" / "connect.py"}

    def test_every_client_is_built_by_the_factories(self) -> None:
        """No module outside the two factories constructs a Kafka client or a connection."""
        # Arrange / Act
        found = [f"{p.relative_to(SERVICES)}:{n}" for p in sorted(SERVICES.rglob("*.py"))
                 if p not in self.FACTORIES
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if self.CLIENTS.search(line)]
        # Assert
        assert found == []


class TestCommandLine:
    def test_invalid_settings_are_one_line_without_the_secret(self) -> None:
        """A command with settings that cannot load exits 2 with one line, and no password."""
        # Arrange
        env = {k: v for k, v in os.environ.items() if not k.startswith("RISKGATE_")}
        env.update(RISKGATE_DATABASE_URL="postgresql://a:pw-in-url-42@h/db",
                   RISKGATE_DATABASE_PASSWORD="pw-beside-43")
        # Act
        done = subprocess.run([sys.executable, "-m", "riskgate.cli", "worker"], env=env,
                              capture_output=True, text=True, timeout=60)
        # Assert
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "riskgate: invalid settings: database_url carries a password that differs from "
            "database_password; give the password once, in database_password"]
        assert "pw-in-url-42" not in done.stderr + done.stdout
        assert "pw-beside-43" not in done.stderr + done.stdout
