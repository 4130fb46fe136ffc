"""Run a replay window against the stored evidence, in one read-only transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from riskgate.records import OutRecord
from riskgate.replay import evidence
from riskgate.replay.engine import Replayer, Verdict
from riskgate.replay.whatif import WhatIfReport
from riskgate.settings import Settings
from riskgate.worker.candidate import Candidate

Sink = Callable[[list[OutRecord]], Awaitable[None]]


class ReplayInputError(ValueError):
    """A window or filter that names nothing replayable: a usage error, exit 2."""


@dataclass(slots=True)
class ReplayReport:
    """Counts of every verdict; only the findings (different, unreplayable) are kept whole, so a
    day of decisions costs a counter, not a verdict each."""

    verdicts: list[Verdict] = field(default_factory=list)  # the findings
    portfolios: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    whatif: WhatIfReport | None = None  # with a candidate
    by_portfolio: dict[str, Counter] = field(default_factory=dict)

    def table(self, limit: int = 20) -> list[str]:
        """Per-portfolio counts, the portfolios with findings first."""
        rows = sorted(self.by_portfolio.items(),
                      key=lambda kv: (-(kv[1]["different"] + kv[1]["unreplayable"]), kv[0]))
        out = [f"{'portfolio':<24} {'decisions':>9} {'identical':>9} {'different':>9} "
               f"{'unreplayable':>12}"]
        for pid, c in rows[:limit]:
            out.append(f"{pid:<24} {c.total():>9} {c['identical']:>9} {c['different']:>9} "
                       f"{c['unreplayable']:>12}")
        if len(rows) > limit:
            out.append(f"... and {len(rows) - limit} more portfolios")
        return out

    @property
    def decisions(self) -> int:
        return self.counts.total()

    def summary(self) -> str:
        c = self.counts
        return (f"replay: decisions={self.decisions} identical={c['identical']} "
                f"different={c['different']} unreplayable={c['unreplayable']}")

    @property
    def clean(self) -> bool:
        return self.counts["different"] == 0 and self.counts["unreplayable"] == 0


async def replay_window(conn: asyncpg.Connection, settings: Settings, start: datetime,
                        end: datetime, portfolios: Sequence[str] = (),
                        strategies: Sequence[str] = (), candidate: Candidate | None = None,
                        mode: str = "counterfactual", sink: Sink | None = None,
                        progress: Callable[[int, int, int], None] | None = None) -> ReplayReport:
    """Re-decide every stored decision in [start, end] for the given filters (empty: all); with
    a ``candidate``, decide each again under it too (what-if, ``mode``). ``sink`` receives each
    portfolio's replayed outputs (the candidate's, with a candidate); ``progress`` gets
    (portfolios done, portfolios, decisions done) after each portfolio."""
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
        replayer = Replayer(settings, history, candidate, mode, strategies=strategies,
                            keep_outputs=sink is not None)
        report = ReplayReport(portfolios=ids)
        for portfolio_id in ids:
            await _replay_portfolio(conn, replayer, history, report, portfolio_id, start, end, sink)
            if progress is not None:
                progress(len(report.by_portfolio), len(ids), report.decisions)
        report.whatif = replayer.whatif.report if replayer.whatif else None
        return report


async def _replay_portfolio(conn: asyncpg.Connection, replayer: Replayer, history, report: ReplayReport,
                            portfolio_id: str, start: datetime, end: datetime,
                            sink: Sink | None) -> None:
    """One portfolio, its decisions a bounded chunk at a time: only the findings are kept."""
    run = replayer.portfolio(portfolio_id, await evidence.load_snapshots(conn, portfolio_id),
                             start, await evidence.first_seq(conn, portfolio_id))
    counts = report.by_portfolio[portfolio_id] = Counter()
    async for decisions in evidence.decision_chunks(conn, portfolio_id, end):
        wanted = {(t, v) for d in decisions if d.witness
                  for t, v in d.witness.get("market_versions", {}).items() if v >= 0}
        await evidence.load_market(conn, history, wanted)
        verdicts = run.feed(decisions)
        counts.update(v.status for v in verdicts)
        report.verdicts += [v for v in verdicts if v.status != "identical"]
        if sink is not None:
            await sink(replayer.take_outputs())
    report.counts.update(counts)
