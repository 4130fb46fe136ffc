"""Fakes for the HTTP API: live inputs held in memory, stored portfolios, a config writer that
records what it was asked, and a keys file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from riskgate.api.auth import hash_key
from riskgate.control.model import Actor, ConfigChange, ConfigRefused, VersionConflict, WriteResult
from riskgate.store.state import PortfolioRow
from riskgate.worker.globals import GlobalState

KEYS = {"viewer": "key-viewer-0123456789", "operator": "key-operator-0123456789",
        "admin": "key-admin-0123456789", "admin2": "key-admin-two-0123456789"}


def write_keys_file(path: Path, keys: dict[str, str] = KEYS) -> Path:
    """A keys file naming each key after its role (admin2 is a second admin)."""
    entries = [{"name": name, "role": "admin" if name.startswith("admin") else name,
                "sha256": hash_key(key)} for name, key in keys.items()]
    path.write_text(json.dumps(entries))
    return path


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@dataclass
class FixedInputs:
    """Live inputs that are already (or never) caught up."""

    world: GlobalState = field(default_factory=GlobalState)
    ready: bool = True

    def caught_up(self) -> bool:
        return self.ready

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class FakePortfolios:
    rows: dict[str, PortfolioRow] = field(default_factory=dict)

    async def portfolio(self, portfolio_id: str) -> PortfolioRow | None:
        return self.rows.get(portfolio_id)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class FakeWriter:
    """Records every submit and approve; ``refuse`` or ``conflict`` makes the next ones fail;
    a wait reports ``live`` workers as having applied, except the ``lagging`` ones."""

    submitted: list[tuple[ConfigChange, Actor, float | None]] = field(default_factory=list)
    approved: list[tuple[str, Actor, float | None]] = field(default_factory=list)
    refuse: str | None = None
    conflict: str | None = None
    four_eyes: bool = False
    live: list[str] = field(default_factory=lambda: ["w-1"])
    lagging: list[str] = field(default_factory=list)
    version: int = 0

    async def submit(self, change: ConfigChange, actor: Actor, *, wait_s: float | None = None
                     ) -> WriteResult:
        if self.refuse is not None:
            raise ConfigRefused(self.refuse)
        if self.conflict is not None:
            raise VersionConflict(self.conflict)
        self.submitted.append((change, actor, wait_s))
        if self.four_eyes and change.needs_second_admin:
            return WriteResult(change_id=f"C{len(self.submitted)}", status="proposed")
        return self._published(f"C{len(self.submitted)}", change, wait_s)

    async def approve(self, change_id: str, actor: Actor, *, wait_s: float | None = None
                      ) -> WriteResult:
        if self.refuse is not None:
            raise ConfigRefused(self.refuse)
        self.approved.append((change_id, actor, wait_s))
        return self._published(change_id, None, wait_s)

    def _published(self, change_id: str, change: ConfigChange | None,
                   wait_s: float | None) -> WriteResult:
        self.version += 1
        new = change.model_dump(exclude_none=True, exclude={"reason", "if_version"}) if change else {}
        result = WriteResult(change_id=change_id, status="published", version=self.version,
                             new=new)
        if wait_s is None:
            return result
        return result.model_copy(update={
            "waited": True, "not_applied_by": list(self.lagging),
            "applied_by": [w for w in self.live if w not in self.lagging]})
