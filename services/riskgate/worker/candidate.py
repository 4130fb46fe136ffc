"""A candidate config: one config change evaluated beside the live config, never applied to it.

What-if replay and the live shadow profile share it. The candidate is exactly what the live
config would have been had this change been published on top of it: ``on(book)`` is the live
book with the change applied, so narrower live scopes still win over a GLOBAL candidate, as they
would on the topic. A file holds a scope and a profile and/or a limits overlay:

    scope: GLOBAL          # GLOBAL | PORTFOLIO | STRATEGY
    scope_id: null         # the portfolio or strategy id unless GLOBAL
    profile: DEFENSIVE     # optional
    limits: {sector_cap: 0.2}   # optional, riskgate.core.limits.Limits names
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from riskgate.contracts.enums import ConfigScope, ProfileName
from riskgate.core import LimitsError, load_limits
from riskgate.worker.globals import ConfigBook


class CandidateError(ValueError):
    """A candidate that cannot be used: unreadable, unknown keys, or inconsistent limits."""


class CandidateSpec(BaseModel):
    """The candidate file's contents; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: ConfigScope = ConfigScope.GLOBAL
    scope_id: str | None = None
    profile: ProfileName | None = None
    limits: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CandidateSpec:
        if self.profile is None and not self.limits:
            raise ValueError("a candidate needs a profile or limits")
        if (self.scope is ConfigScope.GLOBAL) != (self.scope_id is None):
            raise ValueError("scope_id is required unless scope is GLOBAL, and only then")
        return self


class Candidate:
    """One config change, applied on top of each live config version it meets (cached)."""

    def __init__(self, spec: CandidateSpec, name: str) -> None:
        self.spec = spec
        self.name = name  # for reports and metrics: the profile or the file's name
        if spec.limits:
            try:
                load_limits(spec.limits)  # unknown names and bad types, before any replay
            except LimitsError as exc:
                raise CandidateError(f"candidate limits: {exc}") from None
        self._books: dict[int, ConfigBook] = {}

    @classmethod
    def of_profile(cls, profile: str) -> Candidate:
        try:
            return cls(CandidateSpec(profile=profile), profile)
        except ValidationError:
            names = ", ".join(p.value for p in ProfileName)
            raise CandidateError(f"unknown profile {profile!r} (one of {names})") from None

    @classmethod
    def from_file(cls, path: Path) -> Candidate:
        try:
            body = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CandidateError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CandidateError(f"{path} is not YAML or JSON: {exc}") from None
        try:
            spec = CandidateSpec.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "file"
            raise CandidateError(f"{path}: {where}: {first['msg']}") from None
        return cls(spec, path.name)

    def on(self, live: ConfigBook) -> ConfigBook:
        """The candidate book for this live version; LimitsError if the change is inconsistent
        with it (the live config has moved where the candidate cannot follow)."""
        book = self._books.get(live.version)
        if book is None:
            s = self.spec
            book = live.clone()
            book.version = live.version - 1  # let apply() take the change at the same version
            book.apply(live.version, s.scope.value, s.scope_id,
                       s.profile.value if s.profile else None, s.limits, None)
            self._books[live.version] = book
        return book
