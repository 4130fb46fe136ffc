"""The secured local broker and database (deploy/local): principals, passwords, certificates."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pydantic import SecretStr

from riskgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("RISKGATE_LOCAL_HOME", "/var/tmp/riskgate-local"))
TLS, SECRETS = LOCAL / "tls", LOCAL / "secrets"
SASL_SSL = f"127.0.0.1:{os.environ.get('KAFKA_SASL_PORT', '9094')}"
MTLS = f"127.0.0.1:{os.environ.get('KAFKA_MTLS_PORT', '9095')}"
TLS_ROLE = "riskgate_tls"


def password(name: str) -> str:
    """A local principal's password: ``kafka-USER`` or ``pg-ROLE``."""
    return (SECRETS / f"{name}.password").read_text()


def as_principal(s: Settings, user: str, **changes) -> Settings:
    """``s`` over the SASL_SSL listener as Kafka user ``user`` (SCRAM-SHA-512)."""
    return s.model_copy(update={
        "bootstrap_servers": SASL_SSL, "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": user,
        "kafka_sasl_password": SecretStr(password(f"kafka-{user}")), "kafka_ssl_cafile": TLS / "ca.pem",
        **changes})


def with_verified_tls(s: Settings, **changes) -> Settings:
    """``s`` on PostgreSQL as the TLS-only role, verify-full against the local CA."""
    url = s.database_url.replace("postgresql://riskgate@", f"postgresql://{TLS_ROLE}@")
    return s.model_copy(update={
        "database_url": url, "database_password": SecretStr(password(f"pg-{TLS_ROLE}")),
        "database_sslmode": "verify-full", "database_sslrootcert": TLS / "ca.pem", **changes})


def acls(s: Settings, command: str) -> None:
    """``grant`` or ``remove`` every principal's ACLs on this test's names, group and prefix."""
    env = {**os.environ, "RISKGATE_GROUP_ID": s.group_id,
           "RISKGATE_TRANSACTIONAL_ID_PREFIX": s.transactional_id_prefix}
    env.update({f"RISKGATE_TOPICS__{k.upper()}": v for k, v in s.topics.model_dump().items()})
    subprocess.run(["bash", str(ROOT / "deploy/local/kafka-acls.sh"),
                    {"grant": "acls", "remove": "remove"}[command]],
                   env=env, check=True, capture_output=True, timeout=300)
