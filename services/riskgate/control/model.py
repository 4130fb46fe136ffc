"""What an operator asks of the control plane, who asked, and what came of it.

The CLI (``riskgate config``) and the HTTP API both build a ``ConfigChange`` and an ``Actor``
and hand them to one ``ConfigWriter`` (docs/control-plane.md); nothing else writes
``risk.config``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from riskgate.contracts.enums import ConfigScope, ProfileName, TradingState
from riskgate.errors import ConfigTopicInvalid as ConfigTopicInvalid  # worker raises it too

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}


def parse_scope(text: str) -> tuple[ConfigScope, str | None]:
    """``global``, ``strategy:ID`` or ``portfolio:ID`` as (scope, id); ValueError otherwise."""
    if text.lower() == "global":
        return ConfigScope.GLOBAL, None
    kind, sep, ident = text.partition(":")
    names = {"strategy": ConfigScope.STRATEGY, "portfolio": ConfigScope.PORTFOLIO}
    if not sep or kind.lower() not in names or not ident or len(ident) > 128:
        raise ValueError(f"scope {text!r} is not global, strategy:ID or portfolio:ID")
    return names[kind.lower()], ident


class Actor(BaseModel):
    """Who makes a change, and how sure we are of it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: Role | None = None  # None: not known (the CLI without authentication)
    authenticated: bool = False
    via: Literal["cli", "api"] = "cli"


class ConfigChange(BaseModel):
    """One requested change to one scope; the writer turns it into a full-state record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str = "global"
    profile: ProfileName | None = None
    limits: dict[str, Any] | None = Field(
        None, description="Merged into the scope's overlay; a null value means no cap.")
    unset: list[str] = Field(default_factory=list, description="Limits to inherit again.")
    trading_state: TradingState | None = None
    rearm_event_id: str | None = Field(None, min_length=1, max_length=128)
    reason: str = Field(min_length=3, max_length=1000)
    if_version: int | None = Field(None, ge=-1)

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        parse_scope(value)
        return value.lower() if value.lower() == "global" else value

    @property
    def needs_second_admin(self) -> bool:
        """Under four-eyes: limit changes and re-arms (docs/control-plane.md)."""
        return bool(self.limits or self.unset or self.rearm_event_id)


class WriteResult(BaseModel):
    change_id: str
    status: Literal["published", "proposed"]
    version: int | None = None  # the published record's version; None while proposed
    previous: dict[str, Any] = Field(default_factory=dict)  # the scope's state before
    new: dict[str, Any] = Field(default_factory=dict)  # and after
    not_applied_by: list[str] = Field(default_factory=list)  # live workers, after a wait
    applied_by: list[str] = Field(default_factory=list)  # live workers that applied, after a wait
    waited: bool = False  # a wait was asked for (and the two lists above are its answer)
    diff: list[str] = Field(default_factory=list)  # "name: old -> new" per changed part
    expires_at: datetime | None = None  # a proposal's expiry


class ConfigRefused(ValueError):
    """Invalid or inconsistent: nothing was published (CLI exit 2, HTTP 422)."""


class VersionConflict(ValueError):
    """``if_version`` did not match the scope's current version (HTTP 409)."""


class NotPermitted(ConfigRefused):
    """The actor's known role is too low, or a proposer tries to approve their own change
    (CLI exit 2, HTTP 403 if mapped, else 422 as a ConfigRefused)."""


class UnknownChange(ConfigRefused):
    """``approve`` names no proposal of this deployment (HTTP 404 if mapped)."""


class ConfigWriter(Protocol):
    """The one path to ``risk.config``; the real one and a fake for tests."""

    async def submit(self, change: ConfigChange, actor: Actor, *, wait_s: float | None = None
                     ) -> WriteResult: ...

    async def approve(self, change_id: str, actor: Actor, *, wait_s: float | None = None
                      ) -> WriteResult: ...
