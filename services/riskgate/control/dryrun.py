"""``--dry-run``: the diff a write would make, and how many of the last N stored decisions the
change would have decided differently (replay's what-if counterfactual: each decision against
the live state it saw, under the live config with this change applied on top)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from riskgate.control.model import Actor, ConfigChange, WriteResult, parse_scope
from riskgate.replay.run import ReplayInputError, replay_window
from riskgate.settings import Settings
from riskgate.worker.candidate import Candidate, CandidateSpec


@dataclass(frozen=True, slots=True)
class DryRun:
    preview: WriteResult
    evaluated: bool
    decisions: int = 0  # replayed in the window
    different: int = 0  # of those, decided differently under the change
    start: datetime | None = None
    end: datetime | None = None
    note: str | None = None  # why not evaluated, or what was left out
    details: tuple[str, ...] = ()  # the what-if report's lines: notional, transitions, refusals

    def lines(self) -> list[str]:
        out = [f"dry run: {self.preview.previous.get('scope')} (nothing published)"]
        out += [f"  {line}" for line in self.preview.diff] or ["  no change"]
        if self.evaluated:
            out.append(f"counterfactual: {self.different} of the last {self.decisions} stored "
                       f"decisions would have been decided differently "
                       f"({self.start:%Y-%m-%dT%H:%M:%SZ} .. {self.end:%Y-%m-%dT%H:%M:%SZ})")
            out += [f"  {line.strip()}" for line in self.details]
        if self.note:
            out.append(f"counterfactual: {self.note}")
        return out


def candidate_for(change: ConfigChange) -> tuple[Candidate | None, str | None]:
    """The what-if candidate for a limits or profile change, and a note on what it leaves out."""
    if change.rearm_event_id is not None:
        return None, "not evaluated for a re-arm"
    if change.profile is None and not change.limits:
        what = "a trading-state change" if change.trading_state else "--unset alone"
        return None, f"not evaluated for {what}"
    scope, ident = parse_scope(change.scope)
    spec = CandidateSpec(scope=scope, scope_id=ident, profile=change.profile, limits=change.limits)
    left_out = [part for part, present in (("the trading state", change.trading_state),
                                           ("--unset", change.unset)) if present]
    note = f"{' and '.join(left_out)} not evaluated" if left_out else None
    return Candidate(spec, "dry-run"), note


async def last_decisions(conn: asyncpg.Connection, topic: str, n: int
                         ) -> tuple[datetime, datetime, list[str]] | None:
    """The window holding the last ``n`` stored actions of this deployment, and its portfolios."""
    row = await conn.fetchrow(
        "SELECT min(timestamp) AS start, max(timestamp) AS end_, "
        "array_agg(DISTINCT portfolio_id) AS portfolios FROM (SELECT timestamp, portfolio_id "
        "FROM risk_actions WHERE source_topic = $1 ORDER BY timestamp DESC LIMIT $2) AS last_",
        topic, n)
    if row is None or row["start"] is None:
        return None
    return row["start"], row["end_"], sorted(row["portfolios"])


async def dry_run(writer, settings: Settings, change: ConfigChange, actor: Actor,
                  last_n: int) -> DryRun:
    """Validate and diff the change (``writer.preview``), then replay the last ``last_n``
    decisions under it. Writes nothing anywhere."""
    preview = await writer.preview(change, actor)
    candidate, note = candidate_for(change)
    if candidate is None:
        return DryRun(preview, False, note=note)
    async with writer.pool.acquire() as conn:
        window = await last_decisions(conn, settings.topics.proposed, last_n)
        if window is None:
            return DryRun(preview, False, note="no stored decision to evaluate")
        start, end, portfolios = window
        try:
            report = await replay_window(conn, settings, start, end, portfolios,
                                         candidate=candidate)
        except ReplayInputError as exc:
            return DryRun(preview, False, note=str(exc))
    whatif = report.whatif
    changed = {c.decision_id for c in whatif.changes} if whatif else set()
    return DryRun(preview, True, report.decisions, len(changed), start, end, note,
                  tuple(whatif.lines()[1:]) if whatif else ())
