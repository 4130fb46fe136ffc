"""Settings of ``riskgate stats`` (``RISKGATE_STATS_`` prefix), read once in its entry point."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from riskgate.settings import Settings
from riskgate.stats.windows import WindowRules


class StatsSettings(BaseSettings):
    """Window sizes and delays of the override statistics (docs/override-stats.md)."""

    model_config = SettingsConfigDict(env_prefix="RISKGATE_STATS_", frozen=True, extra="ignore")

    windows_s: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(60, 3600), description="window sizes in seconds, each dividing a day; "
                                        "'60,3600' or '[60, 3600]'")
    close_delay_s: float = Field(
        default=5.0, ge=0, description="a window closes this long after its end, in the written "
                                       "time of risk.actions")
    grace_s: float = Field(
        default=300.0, ge=0, description="actions written up to this long after a window's end "
                                         "still correct it")
    commit_interval_s: float = Field(default=0.5, gt=0, description="how often a checkpoint "
                                                                    "transaction is made")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve Prometheus /metrics on 127.0.0.1 at "
                                                  "this port; unset: none")
    state_topic: str | None = Field(
        default=None, description="the compacted changelog of the open windows; default "
                                  "'<override_stats topic>.state', created on first start")

    @field_validator("windows_s", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            return tuple(int(part) for part in text.split(",") if part.strip())
        return value

    def rules(self) -> WindowRules:
        """The windows' rules; raises ValueError when a size does not divide a day."""
        return WindowRules(self.windows_s, self.close_delay_s, self.grace_s)

    def state_topic_for(self, settings: Settings) -> str:
        return self.state_topic or f"{settings.topics.override_stats}.state"


def stats_group_id(settings: Settings) -> str:
    """The stats process's own consumer group: it only stores offsets there, it never joins."""
    return f"{settings.group_id}.stats"


def stats_transactional_id(settings: Settings) -> str:
    """One transactional id per deployment, so a new stats process fences the previous one."""
    return f"{settings.transactional_id_prefix}.stats"
