"""Run a replay window against the stored evidence, in one read-only transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from riskgate.replay import evidence
from riskgate.replay.engine import Replayer, Verdict
from riskgate.settings import Settings


class ReplayInputError(ValueError):
    """A window or filter that names nothing replayable: a usage error, exit 2."""


@dataclass(slots=True)
class ReplayReport:
    verdicts: list[Verdict] = field(default_factory=list)
    portfolios: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counter:
        return Counter(v.status for v in self.verdicts)

    def summary(self) -> str:
        c = self.counts
        return (f"replay: decisions={len(self.verdicts)} identical={c['identical']} "
                f"different={c['different']} unreplayable={c['unreplayable']}")

    @property
    def clean(self) -> bool:
        return self.counts["different"] == 0 and self.counts["unreplayable"] == 0


async def replay_window(conn: asyncpg.Connection, settings: Settings, start: datetime,
                        end: datetime, portfolios: Sequence[str] = (),
                        strategies: Sequence[str] = ()) -> ReplayReport:
    """Re-decide every stored decision in [start, end] for the given filters (empty: all)."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        if portfolios:
            unknown = sorted(set(portfolios) - await evidence.known_portfolios(conn, portfolios))
            if unknown:
                raise ReplayInputError(f"unknown portfolio {', '.join(unknown)}")
        ids = await evidence.portfolios_in_window(conn, start, end, portfolios, strategies)
        if not ids:
            raise ReplayInputError(f"no stored decision between {start.isoformat()} and "
                                   f"{end.isoformat()} for the given filters")
        history = await evidence.load_globals(conn, settings.topics)
        replayer = Replayer(settings, history)
        report = ReplayReport(portfolios=ids)
        for portfolio_id in ids:
            snapshots, decisions = await evidence.load_portfolio(conn, portfolio_id, end)
            wanted = {(t, v) for d in decisions if d.witness
                      for t, v in d.witness.get("market_versions", {}).items() if v >= 0}
            await evidence.load_market(conn, history, wanted)
            verdicts = replayer.replay(portfolio_id, snapshots, decisions, start)
            if strategies:
                by_id = {d.decision_id: d.legs[0].strategy_id for d in decisions}
                verdicts = [v for v in verdicts if by_id.get(v.decision_id) in strategies]
            report.verdicts += verdicts
        return report
