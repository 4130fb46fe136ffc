"""A scope's whole state, a change applied to it, and the full-state record that carries it.

Pure: the writer rebuilds the config (a ``ConfigBook``), reads the scope's state from it with
``scope_state``, applies the operator's change with ``changed`` and publishes ``record_for``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from riskgate.contracts.inputs import RiskConfigEvent
from riskgate.contracts.versions import SCHEMA_VERSION
from riskgate.control.model import Actor, ConfigChange, ConfigRefused, parse_scope
from riskgate.core import LimitsError, TradingState
from riskgate.core.limits import LIMIT_NAMES
from riskgate.worker.globals import ConfigBook

INHERIT = "(inherit)"


@dataclass(frozen=True, slots=True)
class ScopeState:
    """Everything one record key stands for; a re-arm key only says whether it exists."""

    key: str  # global, strategy:ID, portfolio:ID or rearm:EVENT
    version: int = -1  # the last applied record for this key; -1 never written
    profile: str | None = None  # None: inherits (global: NORMAL)
    limits: dict[str, Any] = field(default_factory=dict)  # the overlay; absent inherits
    trading_state: str = TradingState.ACTIVE.value
    rearmed: bool = False

    @property
    def is_rearm(self) -> bool:
        return self.key.startswith("rearm:")

    def as_dict(self) -> dict[str, Any]:
        if self.is_rearm:
            return {"scope": self.key, "version": self.version, "rearmed": self.rearmed}
        return {"scope": self.key, "version": self.version, "profile": self.profile,
                "limits": dict(self.limits), "trading_state": self.trading_state}


def book_key(change: ConfigChange) -> tuple[str, str]:
    """The ``ConfigBook`` key of the change's scope (``("REARM", id)`` for a re-arm)."""
    if change.rearm_event_id is not None:
        return "REARM", change.rearm_event_id
    scope, ident = parse_scope(change.scope)
    return scope.value, ident or ""


def record_key_of(book_scope: tuple[str, str]) -> str:
    scope, ident = book_scope
    return "global" if scope == "GLOBAL" else f"{scope.lower()}:{ident}"


def scope_state(book: ConfigBook, key: tuple[str, str]) -> ScopeState:
    """The state ``book`` holds for one scope (or re-arm) key."""
    version = book.scope_versions.get(key, -1)
    if key[0] == "REARM":
        return ScopeState(record_key_of(key), version, rearmed=key[1] in book.rearms)
    return ScopeState(record_key_of(key), version, book.profile.get(key),
                      dict(book.overrides.get(key, {})), book.state(*key).value)


def check_change(change: ConfigChange) -> None:
    """What can be refused before the config is read: nothing to do, unknown limit names, a
    re-arm mixed with other changes."""
    if change.rearm_event_id is not None:
        if change.scope != "global" or change.profile or change.limits or change.unset \
                or change.trading_state:
            raise ConfigRefused("a re-arm names only the event (scope global, nothing else)")
        return
    if change.profile is None and change.limits is None and not change.unset \
            and change.trading_state is None:
        raise ConfigRefused("nothing to change: give a profile, limits, --unset or a trading state")
    names = set(change.limits or {}) | set(change.unset)
    unknown = sorted(names - LIMIT_NAMES)
    if unknown:
        raise ConfigRefused(f"unknown limit keys: {', '.join(unknown)}")
    both = sorted(set(change.limits or {}) & set(change.unset))
    if both:
        raise ConfigRefused(f"both set and unset: {', '.join(both)}")


def changed(state: ScopeState, change: ConfigChange) -> ScopeState:
    """The scope's state after the change: limits merged in, ``unset`` names removed."""
    if state.is_rearm:
        return ScopeState(state.key, state.version, rearmed=True)
    limits = {**state.limits, **(change.limits or {})}
    for name in change.unset:
        limits.pop(name, None)
    profile = change.profile.value if change.profile is not None else state.profile
    trading = change.trading_state.value if change.trading_state is not None else state.trading_state
    return ScopeState(state.key, state.version, profile, limits, trading)


def record_for(new: ScopeState, change: ConfigChange, actor: Actor, version: int, now: float,
               approved_by: str | None = None) -> tuple[RiskConfigEvent, bytes]:
    """The full-state record (or re-arm) that puts ``new`` in force at ``version``, validated
    by the contract, and the exact bytes to publish."""
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "version": version, "scope": "GLOBAL",
        "updated_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "updated_by": actor.name, "reason": change.reason, "authenticated": actor.authenticated}
    if approved_by is not None:
        body["approved_by"] = approved_by
    if new.is_rearm:
        body["rearm_event_id"] = change.rearm_event_id
    else:
        scope, ident = parse_scope(change.scope)
        body.update(scope=scope.value, limits=new.limits, trading_state=new.trading_state,
                    full_state=True)
        if ident is not None:
            body["scope_id"] = ident
        if new.profile is not None:
            body["profile"] = new.profile
    payload = orjson.dumps(body)
    try:
        return RiskConfigEvent.model_validate_json(payload), payload
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ConfigRefused(f"{where}: {first['msg']}") from None


def diff(previous: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``name: old -> new`` for every part that differs (limits one by one)."""
    out = []
    for name in ("profile", "trading_state", "rearmed"):
        if name in new and previous.get(name) != new.get(name):
            a, b = (INHERIT if name == "profile" and v is None else v
                    for v in (previous.get(name), new.get(name)))
            out.append(f"{name}: {_shown(a)} -> {_shown(b)}")
    old_limits, new_limits = previous.get("limits") or {}, new.get("limits") or {}
    for name in sorted(set(old_limits) | set(new_limits)):
        a, b = old_limits.get(name, INHERIT), new_limits.get(name, INHERIT)
        if a != b:
            out.append(f"limits.{name}: {_shown(a)} -> {_shown(b)}")
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    return value if isinstance(value, str) else repr(value)


def combined_problem(book: ConfigBook, key: tuple[str, str]) -> str | None:
    """Why the layers that meet at one decision (global, portfolio and strategy overlays over
    the profile that wins) would not resolve, for every pair the changed scope takes part in;
    ``ConfigBook.apply`` checks each layer on its own only."""
    scopes = {*book.profile, *book.overrides}
    portfolios = sorted({i for s, i in scopes if s == "PORTFOLIO"} | {""})
    strategies = sorted({i for s, i in scopes if s == "STRATEGY"} | {""})
    if key[0] == "PORTFOLIO":
        portfolios = [key[1]]
    elif key[0] == "STRATEGY":
        strategies = [key[1]]
    for portfolio in portfolios:
        for strategy in strategies:
            try:
                book.limits(portfolio, strategy)
            except LimitsError as exc:
                return (f"portfolio {portfolio or '(any)'} with strategy {strategy or '(any)'}: "
                        f"{exc}")
    return None
