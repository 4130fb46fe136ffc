"""Process settings, read once in the entry point (``RISKGATE_`` environment prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from riskgate.settings_secrets import (
    SECRET_FILE_FIELDS,
    FileSecretsSource,
    check_consistent,
    move_url_password,
)


class Topics(BaseModel):
    """Topic names; every one can be overridden, e.g. ``RISKGATE_TOPICS__TARGETS``."""

    model_config = ConfigDict(frozen=True)

    proposed: str = "decisions.proposed"
    black_swan: str = "risk.black_swan_state"
    snapshots: str = "portfolio.snapshots"
    market: str = "market.metrics"
    config: str = "risk.config"
    targets: str = "risk.targets"
    actions: str = "risk.actions"
    dlq: str = "decisions.proposed.dlq"
    shadow: str = "risk.shadow"
    override_stats: str = "risk.override_stats"


class Settings(BaseSettings):
    """Everything a riskgate process needs from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="RISKGATE_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    # Kafka security (docs/security.md). The plaintext default is for development only.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="trust these CAs (PEM)")
    kafka_ssl_certfile: Path | None = Field(default=None, description="client certificate for mTLS")
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # The password never stays in the URL: one given there moves to database_password.
    database_url: str = "postgresql://riskgate@127.0.0.1:55432/riskgate"
    database_password: SecretStr | None = SecretStr("riskgate")
    database_sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = None
    database_sslrootcert: Path | None = Field(default=None, description="trust these CAs (PEM)")
    database_sslcert: Path | None = None
    database_sslkey: Path | None = None
    topics: Topics = Field(default_factory=Topics)
    group_id: str = "riskgate"
    transactional_id_prefix: str = "riskgate"
    kafka_client: Literal["aiokafka", "confluent"] = Field(
        default="aiokafka", description="the worker loop's Kafka client (docs/kafka-clients.md): "
        "aiokafka, one transactional producer per input partition, or confluent (librdkafka), "
        "one KIP-447 producer per worker")
    publish_linger_ms: int = Field(default=0, ge=0, le=1000,
                                   description="how long a producer waits to fill a batch")
    partitions: int = Field(default=8, ge=1)
    global_partitions: int = Field(default=1, ge=1)
    max_message_bytes: int = Field(default=64 * 1024, ge=256)
    batch_max_records: int = Field(default=500, ge=1)
    batch_timeout_ms: int = Field(default=50, ge=1)
    snapshot_ttl_s: float = Field(default=600.0, gt=0, description="targets in flight expire")
    max_decision_age_s: float | None = Field(default=60.0, gt=0)
    max_snapshot_age_s: float | None = Field(default=300.0, gt=0)
    max_price_age_s: float | None = Field(default=120.0, gt=0)
    max_emergency_age_s: float | None = Field(default=None, gt=0)
    publish_max_request_bytes: int = Field(
        default=4 * 1024 * 1024, ge=64 * 1024, description="the producer's max_request_size")
    publish_halt_after_s: float = Field(
        default=300.0, gt=0,
        description="a partition whose publishes keep failing this long is halted; longer than "
                    "a broker restart")
    halt_recheck_s: float = Field(default=2.0, gt=0, description="how often a lifted halt is noticed")
    fenced_recheck_s: float = Field(default=15.0, gt=0, description="after being fenced, wait this long")
    shadow_profile: str | None = Field(
        default=None, description="a candidate profile evaluated beside the live config "
                                  "(docs/shadow.md); not with shadow_limits_file")
    shadow_limits_file: Path | None = Field(
        default=None, description="a YAML/JSON candidate config file evaluated beside the live "
                                  "config (docs/shadow.md); not with shadow_profile")
    http_port: int = Field(default=8080, ge=0)
    # The HTTP API (`riskgate api`, docs/api.md).
    api_keys_file: Path | None = Field(
        default=None, description="JSON list of API keys [{name, role, sha256}], re-read when "
                                  "it changes; unset: reads are anonymous, every write is 503")
    api_write_rate_per_min: int = Field(default=30, ge=1, description="writes per key per minute")
    api_read_rate_per_min: int = Field(default=1200, ge=1, description="reads per key per minute")
    api_wait_s: float = Field(default=30.0, gt=0, description="how long wait=true waits for "
                                                               "every live worker to apply")
    api_tls_certfile: Path | None = Field(default=None, description="serve HTTPS with this "
                                                                     "certificate (and keyfile)")
    api_tls_keyfile: Path | None = None
    # The control plane (docs/control-plane.md).
    four_eyes: bool = Field(default=False, description="limit changes and re-arms need a second "
                                                       "admin's `config approve`")
    proposal_expiry_s: float = Field(default=3600.0, gt=0, description="a four-eyes proposal "
                                                                       "not approved by then expires")
    config_wait_s: float = Field(default=30.0, gt=0, description="how long `riskgate config` "
                                                                 "waits for every live worker")
    heartbeat_s: float = Field(default=5.0, gt=0, description="worker_status heartbeat; live = "
                                                              "younger than 3 intervals")
    worker_id: str | None = Field(default=None, max_length=128, description="this worker's id in "
                                  "worker_status (default host:pid:random)")
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``RISKGATE_X_FILE`` (the Kubernetes secret convention) stands beside ``RISKGATE_X``."""
        return (init_settings, env_settings, FileSecretsSource(settings_cls, SECRET_FILE_FIELDS),
                dotenv_settings, file_secret_settings)

    @model_validator(mode="before")
    @classmethod
    def _password_out_of_url(cls, data: object) -> object:
        return move_url_password(data)

    @model_validator(mode="after")
    def _security_consistent(self) -> Settings:
        check_consistent(self)
        return self
