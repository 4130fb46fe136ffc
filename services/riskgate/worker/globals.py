"""In-memory view of the compacted global inputs: market data, emergency state and config.

Each ``apply_*`` is idempotent and monotonic by version, so reading a compacted topic from the
start, or twice, lands in the same state. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from riskgate.build import digest
from riskgate.core import (
    PROFILES,
    EmergencyLevel,
    Environment,
    Limits,
    LimitsError,
    MarketData,
    TradingState,
    load_limits,
    resolve_limits,
)


@dataclass(frozen=True, slots=True)
class EmergencyState:
    level: EmergencyLevel = EmergencyLevel.NORMAL
    version: int = -1
    event_id: str | None = None
    as_of: float | None = None
    gross_cut_pct: float = 0.5
    # While EMERGENCY is held for want of a re-arm: the engine's newer, calmer state, which
    # takes over once a re-arm for ``event_id`` is on risk.config (``in_force``).
    released: EmergencyState | None = None


def next_emergency(current: EmergencyState, proposed: EmergencyState, rearm: bool) -> EmergencyState:
    """The state after an event: older versions are ignored; leaving EMERGENCY needs ``rearm``
    (the record's own flag; a re-arm on risk.config is applied by ``in_force``)."""
    if proposed.version <= current.version:
        return current
    leaving = current.level is EmergencyLevel.EMERGENCY and proposed.level is not EmergencyLevel.EMERGENCY
    if leaving and not rearm:
        # Never flap: keep EMERGENCY, but note the newer version so staleness is measured from it.
        return EmergencyState(current.level, proposed.version, current.event_id, proposed.as_of,
                              current.gross_cut_pct, released=proposed)
    return proposed


def in_force(state: EmergencyState, rearms: frozenset[str]) -> EmergencyState:
    """The emergency state the gate enforces: a held EMERGENCY gives way to the engine's calmer
    state once a re-arm names its event. It depends only on the fold of the black swan records
    and on the set of re-arms, never on the order the two topics were read in, so a restart
    and a replay (witness: emergency and config versions) reach the same state."""
    if state.released is not None and state.event_id in rearms:
        return state.released
    return state


@dataclass(slots=True)
class ConfigBook:
    """Profiles, limit overrides, trading states and re-arms per scope, as of ``version``."""

    version: int = -1
    profile: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, id) -> profile
    overrides: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    states: dict[tuple[str, str], TradingState] = field(default_factory=dict)
    rearms: frozenset[str] = frozenset()  # black swan event ids re-armed on risk.config
    scope_versions: dict[tuple[str, str], int] = field(default_factory=dict)  # last applied
    _cache: dict[tuple[str, str], tuple[Limits, str]] = field(default_factory=dict)
    _digests: dict[tuple[str, str], str] = field(default_factory=dict)

    def apply(self, version: int, scope: str, scope_id: str | None, profile: str | None,
              limits: dict[str, Any] | None, state: str | None, full_state: bool = False,
              rearm_event_id: str | None = None) -> None:
        """Apply one config event, or raise LimitsError and leave the book unchanged.

        A ``full_state`` event replaces the scope's profile, overlay and trading state (an
        absent part is unset); otherwise the parts present are merged into the scope."""
        if version <= self.version:
            return
        if rearm_event_id is not None:
            self.rearms = self.rearms | {rearm_event_id}
            self.scope_versions[("REARM", rearm_event_id)] = version
            self.version = version
            return
        key = (scope, scope_id or "")
        if profile is not None and profile not in PROFILES:
            raise LimitsError(f"unknown profile {profile!r}")
        new_state = TradingState(state) if state is not None else None
        trial_profile = dict(self.profile)
        trial_overrides = dict(self.overrides)
        if full_state:
            trial_profile.pop(key, None)
            trial_overrides.pop(key, None)
        if profile is not None:
            trial_profile[key] = profile
        if limits is not None:
            trial_overrides[key] = {**trial_overrides.get(key, {}), **limits}
            if full_state and not limits:
                del trial_overrides[key]  # an empty overlay: the scope inherits everything
        _check_all(trial_profile, trial_overrides)
        self.profile, self.overrides = trial_profile, trial_overrides
        if full_state:
            self.states.pop(key, None)
        if new_state is not None:
            self.states[key] = new_state
        self.scope_versions[key] = version
        self.version = version
        self._cache.clear()
        self._digests.clear()

    def trial(self, version: int, scope: str, scope_id: str | None, profile: str | None,
              limits: dict[str, Any] | None, state: str | None, full_state: bool = False,
              rearm_event_id: str | None = None) -> str | None:
        """Why ``apply`` would refuse this event, or None; the book is left unchanged."""
        clone = self.clone()
        try:
            clone.apply(version, scope, scope_id, profile, limits, state, full_state,
                        rearm_event_id)
        except (LimitsError, ValueError) as exc:
            return str(exc)
        return None

    def clone(self) -> ConfigBook:
        """An independent copy (caches not shared)."""
        return ConfigBook(self.version, dict(self.profile), dict(self.overrides), dict(self.states),
                          self.rearms, dict(self.scope_versions))

    def limits(self, portfolio_id: str, strategy_id: str) -> tuple[Limits, str]:
        """(limits, profile name) for a portfolio and strategy; the core tightens them further
        for the emergency level and the regime."""
        cache_key = (portfolio_id, strategy_id)
        hit = self._cache.get(cache_key)
        if hit is None:
            hit = _resolve(self.profile, self.overrides, portfolio_id, strategy_id)
            self._cache[cache_key] = hit
        return hit

    def limits_digest(self, portfolio_id: str, strategy_id: str) -> str:
        """A digest of the effective limits for the witness, computed once per config version."""
        key = (portfolio_id, strategy_id)
        found = self._digests.get(key)
        if found is None:
            found = self._digests[key] = digest(self.limits(portfolio_id, strategy_id)[0].as_dict())
        return found

    def state(self, scope: str, scope_id: str = "") -> TradingState:
        return self.states.get((scope, scope_id), TradingState.ACTIVE)


def _profile_for(profiles: dict[tuple[str, str], str], portfolio_id: str, strategy_id: str) -> str:
    for key in (("STRATEGY", strategy_id), ("PORTFOLIO", portfolio_id), ("GLOBAL", "")):
        if key in profiles:
            return profiles[key]
    return "NORMAL"


def _resolve(profiles, overrides, portfolio_id: str, strategy_id: str) -> tuple[Limits, str]:
    name = _profile_for(profiles, portfolio_id, strategy_id)
    layers = [overrides[k] for k in (("GLOBAL", ""), ("PORTFOLIO", portfolio_id),
                                     ("STRATEGY", strategy_id)) if k in overrides]
    return resolve_limits(name, *layers), name


def _check_all(profiles: dict[tuple[str, str], str], overrides: dict[tuple[str, str], dict]) -> None:
    """Every scope's resulting limits must be consistent on their own."""
    for key, layer in overrides.items():
        base = PROFILES[profiles.get(key, profiles.get(("GLOBAL", ""), "NORMAL"))]
        load_limits(layer, base=base)
    for name in set(profiles.values()):
        load_limits(overrides.get(("GLOBAL", ""), {}), base=PROFILES[name])


@dataclass(slots=True)
class GlobalState:
    """What every worker knows about the world outside one portfolio."""

    market: dict[str, MarketData] = field(default_factory=dict)
    portfolios: set[str] = field(default_factory=set)  # seen on this deployment's snapshots topic
    emergency: EmergencyState = field(default_factory=EmergencyState)
    config: ConfigBook = field(default_factory=ConfigBook)
    snapshot_ttl_s: float = 600.0
    max_decision_age_s: float | None = 60.0
    max_snapshot_age_s: float | None = 300.0
    max_price_age_s: float | None = 120.0
    max_emergency_age_s: float | None = None

    def emergency_in_force(self) -> EmergencyState:
        """The emergency state enforced now (``in_force`` with this config's re-arms)."""
        return in_force(self.emergency, self.config.rearms)

    def is_new_market(self, data: MarketData) -> bool:
        """Whether ``data`` is newer than the version held (an older one is ignored)."""
        old = self.market.get(data.ticker)
        return old is None or old.version < data.version

    def apply_market(self, data: MarketData) -> bool:
        if not self.is_new_market(data):
            return False
        self.market[data.ticker] = data
        return True

    def environment(self, portfolio_id: str, strategy_id: str, now: float) -> Environment:
        """The environment one decision is assessed in."""
        c = self.config
        em = self.emergency
        if em.released is not None and em.event_id in c.rearms:  # in_force, inlined (hot path)
            em = em.released
        limits, profile = c.limits(portfolio_id, strategy_id)
        return Environment(
            now=now, limits=limits, profile=profile, config_version=c.version,
            global_state=c.state("GLOBAL"),
            strategy_states={strategy_id: c.state("STRATEGY", strategy_id)},
            portfolio_states={portfolio_id: c.state("PORTFOLIO", portfolio_id)},
            emergency_level=em.level, emergency_as_of=em.as_of, emergency_version=em.version,
            max_snapshot_age_s=self.max_snapshot_age_s, max_price_age_s=self.max_price_age_s,
            max_emergency_age_s=self.max_emergency_age_s, max_decision_age_s=self.max_decision_age_s,
        )
