"""Secrets in the settings: ``RISKGATE_X_FILE`` files, the password kept out of the URL, and
the security settings checked for combinations that cannot work (docs/security.md)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

if TYPE_CHECKING:
    from riskgate.settings import Settings

ENV_PREFIX = "RISKGATE_"
# Settings that may come from a file: every secret, and what names the principal.
SECRET_FILE_FIELDS = (
    "database_url", "database_password", "kafka_sasl_username", "kafka_sasl_password",
    "kafka_ssl_key_password",
)


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``RISKGATE_<FIELD>_FILE``; giving both it and ``RISKGATE_<FIELD>`` is an error."""

    def __init__(self, settings_cls: type[BaseSettings], fields: tuple[str, ...]) -> None:
        super().__init__(settings_cls)
        self._fields = fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        found: dict[str, Any] = {}
        for name in self._fields:
            var = f"{ENV_PREFIX}{name.upper()}"
            path = env.get(f"{var}_FILE")
            if not path:
                continue
            if var in env:
                raise ValueError(f"both {var} and {var}_FILE are set; give one")
            try:
                found[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{var}_FILE: cannot read {path}: {exc.strerror}") from None
        return found


def move_url_password(data: Any) -> Any:
    """A password inside ``database_url`` moves to ``database_password``, so no repr shows it."""
    if not isinstance(data, dict) or not isinstance(data.get("database_url"), str):
        return data
    parts = urlsplit(data["database_url"])
    if parts.password is None:
        return data
    given = data.get("database_password")
    given = given.get_secret_value() if hasattr(given, "get_secret_value") else given
    password = unquote(parts.password)
    if given is not None and given != password:
        raise ValueError("database_url carries a password that differs from database_password; "
                         "give the password once, in database_password")
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}@{host}" if user else host
    return {**data, "database_url": urlunsplit(parts._replace(netloc=netloc)),
            "database_password": password}


def settings_problems(exc: ValidationError) -> str:
    """The problems without the input values, which may hold secrets (pydantic's str shows them)."""
    def one(error: ErrorDetails) -> str:
        where = ".".join(str(part) for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return "; ".join(one(e) for e in exc.errors(include_url=False, include_input=False))


def check_consistent(s: Settings) -> None:
    """Refuse settings that could only fail later, at the first connection or client."""
    problems = []
    if s.kafka_security_protocol.startswith("SASL_") and (
            not s.kafka_sasl_username or s.kafka_sasl_password is None):
        problems.append(f"kafka_security_protocol {s.kafka_security_protocol} needs "
                        "kafka_sasl_username and kafka_sasl_password")
    if (s.kafka_ssl_certfile is None) != (s.kafka_ssl_keyfile is None):
        problems.append("kafka_ssl_certfile and kafka_ssl_keyfile go together (mTLS)")
    uses_tls = s.kafka_security_protocol in ("SSL", "SASL_SSL")
    if not uses_tls and (s.kafka_ssl_cafile or s.kafka_ssl_certfile):
        problems.append(f"kafka_ssl_* files are set but kafka_security_protocol is "
                        f"{s.kafka_security_protocol}")
    if (s.database_sslcert is None) != (s.database_sslkey is None):
        problems.append("database_sslcert and database_sslkey go together")
    if s.database_sslmode in ("verify-ca", "verify-full") and s.database_sslrootcert is None:
        problems.append(f"database_sslmode {s.database_sslmode} needs database_sslrootcert")
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
                 "database_sslrootcert", "database_sslcert", "database_sslkey"):
        path = getattr(s, name)
        if path is not None and not Path(path).is_file():
            problems.append(f"{name}: no such file {path}")
    if s.kafka_client == "confluent" and importlib.util.find_spec("confluent_kafka") is None:
        problems.append("kafka_client confluent needs confluent-kafka: pip install 'riskgate[rdkafka]'")
    if problems:
        raise ValueError("; ".join(problems))
