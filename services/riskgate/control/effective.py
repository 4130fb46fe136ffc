"""What ``riskgate config show`` says: the effective limits for a portfolio and strategy, each
with the layer it came from, the trading state and emergency level in force, and the regime
multipliers that exist (a regime belongs to each ticker's market record, so none is applied)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from riskgate.core import EmergencyLevel
from riskgate.core.profiles import (
    EMERGENCY_OVERLAYS,
    PROFILES,
    REGIME_MULTIPLIERS,
    SIZE_LIMITS,
    resolve_limits,
    tighten,
)
from riskgate.worker.globals import ConfigBook, EmergencyState, GlobalState, in_force

DEFAULT_PROFILE = "NORMAL"


@dataclass(frozen=True, slots=True)
class LimitLine:
    name: str
    value: Any
    source: str  # profile X, global overlay, portfolio:P overlay, strategy:S overlay, emergency overlay
    before_emergency: Any = None  # the value the emergency overlay tightened, if it did


@dataclass(frozen=True, slots=True)
class Effective:
    portfolio_id: str
    strategy_id: str
    config_version: int
    profile: str
    profile_from: str
    trading_state: str
    states: dict[str, str]  # scope -> its configured trading state
    emergency: dict[str, Any]
    limits: list[LimitLine] = field(default_factory=list)
    regime_multipliers: dict[str, float] = field(default_factory=dict)
    regime_scales: tuple[str, ...] = SIZE_LIMITS

    def as_dict(self) -> dict[str, Any]:
        return {
            "portfolio_id": self.portfolio_id or None, "strategy_id": self.strategy_id or None,
            "config_version": self.config_version, "profile": self.profile,
            "profile_from": self.profile_from, "trading_state": self.trading_state,
            "trading_states": self.states, "emergency": self.emergency,
            "limits": {x.name: {"value": x.value, "from": x.source,
                                **({"before_emergency": x.before_emergency}
                                   if x.source == "emergency overlay" else {})}
                       for x in self.limits},
            "regime_multipliers": {"applies_to": list(self.regime_scales),
                                   "by_regime": self.regime_multipliers,
                                   "note": "applied per ticker by its market regime"},
        }


def _layers(portfolio_id: str, strategy_id: str) -> list[tuple[tuple[str, str], str]]:
    """(book key, label) from the lowest layer to the highest, as ConfigBook resolves them."""
    return [(("GLOBAL", ""), "global overlay"),
            (("PORTFOLIO", portfolio_id), f"portfolio:{portfolio_id} overlay"),
            (("STRATEGY", strategy_id), f"strategy:{strategy_id} overlay")]


def _profile(book: ConfigBook, portfolio_id: str, strategy_id: str) -> tuple[str, str]:
    for key, label in ((("STRATEGY", strategy_id), f"strategy:{strategy_id}"),
                       (("PORTFOLIO", portfolio_id), f"portfolio:{portfolio_id}"),
                       (("GLOBAL", ""), "global")):
        if key in book.profile:
            return book.profile[key], label
    return DEFAULT_PROFILE, "default"


def effective(book: ConfigBook, emergency: EmergencyState, portfolio_id: str = "",
              strategy_id: str = "") -> Effective:
    """The view of one (portfolio, strategy); empty ids leave that scope out."""
    name, name_from = _profile(book, portfolio_id, strategy_id)
    sources = dict.fromkeys(PROFILES[name].as_dict(), f"profile {name}")
    overlays = []
    for key, label in _layers(portfolio_id, strategy_id):
        overlay = book.overrides.get(key)
        if overlay:
            overlays.append(overlay)
            sources.update(dict.fromkeys(overlay, label))
    limits = resolve_limits(name, *overlays)
    em = in_force(emergency, book.rearms)
    tight = tighten(limits, em.level).as_dict()
    lines = []
    for limit, value in limits.as_dict().items():
        if tight[limit] != value:
            lines.append(LimitLine(limit, tight[limit], "emergency overlay", value))
        else:
            lines.append(LimitLine(limit, value, sources[limit]))
    world = GlobalState(emergency=em, config=book)
    env = world.environment(portfolio_id, strategy_id, 0.0)
    states = {"global": book.state("GLOBAL").value}
    if strategy_id:
        states[f"strategy:{strategy_id}"] = book.state("STRATEGY", strategy_id).value
    if portfolio_id:
        states[f"portfolio:{portfolio_id}"] = book.state("PORTFOLIO", portfolio_id).value
    return Effective(portfolio_id, strategy_id, book.version, name, name_from,
                     env.trading_state(strategy_id, portfolio_id).value, states,
                     _emergency(emergency, em, book), lines,
                     {r.value: m for r, m in REGIME_MULTIPLIERS.items()})


def _emergency(raw: EmergencyState, em: EmergencyState, book: ConfigBook) -> dict[str, Any]:
    overlay = EMERGENCY_OVERLAYS.get(em.level)
    held = raw.released is not None and em is raw
    return {
        "level": em.level.value, "version": em.version, "event_id": em.event_id,
        "overlay": None if overlay is None else {"cap_multiplier": overlay[0],
                                                 "min_confidence_floor": overlay[1]},
        "held_for_rearm": held,  # the engine says calmer; a re-arm for event_id is missing
        "engine_level": raw.released.level.value if held else em.level.value,
        "rearmed_events": sorted(book.rearms),
        "is_emergency": em.level is EmergencyLevel.EMERGENCY,
    }
