"""The live shadow profile: a candidate config decides every fresh proposal beside the live one.

The candidate runs in the same pass, on the same inputs and against the same book as the live
decision sees it (before the live target is applied), with the environment built from the
candidate's config book. Its targets are never applied to any book or row: the only thing it
produces is one shadow record per decision, stored and published with the batch (docs/shadow.md).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from riskgate import metrics
from riskgate.contracts.outputs import SHADOW_COMPARED
from riskgate.contracts.versions import SCHEMA_VERSION
from riskgate.core import LimitsError, assess
from riskgate.records import InRecord, OutRecord
from riskgate.settings import Settings
from riskgate.store.shadow import ShadowRow
from riskgate.worker import outputs as out
from riskgate.worker.candidate import Candidate, CandidateError

log = structlog.get_logger("riskgate.shadow")


class ShadowConfigError(ValueError):
    """The shadow settings cannot be used; the worker refuses to start (one line, exit 2)."""


def candidate_from(settings: Settings) -> Candidate | None:
    """The candidate the settings name, None when shadow is off; ShadowConfigError when bad."""
    profile, path = settings.shadow_profile, settings.shadow_limits_file
    if profile is not None and path is not None:
        raise ShadowConfigError("RISKGATE_SHADOW_PROFILE and RISKGATE_SHADOW_LIMITS_FILE are both "
                                "set; a shadow runs one candidate, set only one of them")
    try:
        if profile is not None:
            return Candidate.of_profile(profile)
        if path is not None:
            return Candidate.from_file(path)
    except CandidateError as exc:
        setting = "RISKGATE_SHADOW_PROFILE" if profile is not None else "RISKGATE_SHADOW_LIMITS_FILE"
        raise ShadowConfigError(f"{setting}: {exc}") from None
    return None


def shadow_for(settings: Settings) -> Shadow | None:
    """The worker's shadow, None when shadow is off; ShadowConfigError when the settings are bad."""
    candidate = candidate_from(settings)
    if candidate is None:
        return None
    log.info("shadow_enabled", candidate=candidate.name, topic=settings.topics.shadow)
    return Shadow(candidate, settings.topics.shadow)


class Shadow:
    """The candidate of one worker; ``open`` gives the pass of one batch."""

    def __init__(self, candidate: Candidate, topic: str) -> None:
        self.candidate = candidate
        self.topic = topic
        self._refused_versions: set[int] = set()

    def open(self, ctx: out.BatchContext, result: Any) -> ShadowPass:
        """The pass for one batch: its environments come from the candidate book of the live
        config version in force (the config is not applied while a batch is handled)."""
        live = ctx.world.config
        try:
            book = self.candidate.on(live)
        except (LimitsError, ValueError) as exc:
            if live.version not in self._refused_versions:
                self._refused_versions.add(live.version)
                log.error("shadow_candidate_inconsistent", candidate=self.candidate.name,
                          config_version=live.version, error=str(exc))
            return ShadowPass(self, None, result)
        world = dataclasses.replace(ctx.world, config=book)
        view = out.BatchContext(now=ctx.now, now_text=ctx.now_text, world=world,
                                portfolios=ctx.portfolios)
        return ShadowPass(self, view, result)


class ShadowPass:
    """Appends the shadow records of one batch to its result, in the order decided."""

    def __init__(self, shadow: Shadow, view: out.BatchContext | None, result: Any) -> None:
        self._shadow = shadow
        self._view = view  # None: the candidate cannot be applied on this live config version
        self._result = result
        self._ts = datetime.fromtimestamp(view.now, UTC) if view is not None else None

    def assessed(self, message, record: InRecord, leg: out.Leg, decision, book, market) -> None:
        """Run the candidate on the decision the live chain just ran on ``book`` (unchanged)."""
        self._observe(message, record, leg, lambda env: outcome_side(
            assess(decision, book, market, env), env.profile))

    def refused(self, message, record: InRecord, leg: out.Leg) -> None:
        """A decision refused before the core ran (no snapshot): no config changes that answer."""
        self._observe(message, record, leg, lambda env: {**leg_side(leg), "profile": env.profile})

    def _observe(self, message, record: InRecord, leg: out.Leg, side) -> None:
        if self._view is None:
            metrics.SHADOW_SKIPPED.labels("candidate_inconsistent").inc()
            return
        try:
            theirs = side(self._view.env(message.portfolio_id, message.strategy_id))
        except Exception:  # noqa: BLE001 - the shadow must never cost a live decision
            log.exception("shadow_failed", decision_id=message.decision_id)
            metrics.SHADOW_SKIPPED.labels("error").inc()
            return
        self._emit(record, leg, theirs)

    def discard(self, decision_id: str) -> None:
        """Drop the record just emitted for ``decision_id``: its live decision failed after it."""
        rows = self._result.shadows
        if rows and rows[-1].decision_id == decision_id:
            rows.pop()
            self._result.outputs.pop()

    def _emit(self, record: InRecord, leg: out.Leg, theirs: dict[str, Any]) -> None:
        ours = leg_side(leg)
        differs = [name for name in SHADOW_COMPARED if ours[name] != theirs[name]]
        reason = mismatch_reason(ours, theirs) if differs else None
        a = leg.action
        body = {
            "schema_version": SCHEMA_VERSION, "action_id": leg.action_id, "decision_id": a["decision_id"],
            "portfolio_id": a["portfolio_id"], "strategy_id": a["strategy_id"],
            "ticker": a["ticker"], "candidate": self._shadow.candidate.name,
            "config_version": a["config_version"], "live": ours, "shadow": theirs,
            "differs": differs, "timestamp": a["timestamp"],
            "source_partition": record.partition, "source_offset": record.offset,
        }
        payload = orjson.dumps(body)
        self._result.outputs.append(OutRecord(self._shadow.topic, leg.portfolio_id.encode(), payload))
        self._result.shadows.append(ShadowRow(
            record.topic, record.partition, record.offset, leg.action_id, a["decision_id"],
            a["portfolio_id"], a["strategy_id"], a["ticker"], self._shadow.candidate.name,
            ours["action_type"], theirs["action_type"], differs, reason, self._ts, payload))
        metrics.SHADOW_DECISIONS.inc()
        if differs:
            metrics.SHADOW_MISMATCHES.labels(ours["action_type"], theirs["action_type"],
                                             reason).inc()


def leg_side(leg: out.Leg) -> dict[str, Any]:
    """The live outcome as published in the leg's action and target."""
    a, t = leg.action, leg.target
    assert t is not None  # a fresh proposal always has a target
    return {
        "action_type": a["action_type"], "reason_codes": a["reason_codes"],
        "target_position": t["target_position"], "delta_position": t["delta_position"],
        "target_notional": t["target_notional"], "target_weight": t["target_weight"],
        "max_passing_position": a["max_passing_position"], "profile": a["profile"],
    }


def outcome_side(outcome, profile: str) -> dict[str, Any]:
    """The candidate's outcome, with the same numbers the live payloads take from theirs."""
    return {
        "action_type": outcome.action_type.value, "reason_codes": list(outcome.reason_codes),
        "target_position": outcome.target_position, "delta_position": outcome.delta_position,
        "target_notional": outcome.target_notional, "target_weight": outcome.target_weight,
        "max_passing_position": outcome.max_passing_position, "profile": profile,
    }


def mismatch_reason(live: dict[str, Any], shadow: dict[str, Any]) -> str:
    """Why the two differ, as one reason code: the first the candidate adds, else the first it
    drops, else the first they share (the same constraint binds at another size)."""
    ours, theirs = live["reason_codes"], shadow["reason_codes"]
    added = [c for c in theirs if c not in ours]
    dropped = [c for c in ours if c not in theirs]
    found = added or dropped or list(theirs)
    return found[0] if found else "NONE"
