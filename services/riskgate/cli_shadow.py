"""``riskgate shadow report``: how often the shadow candidate agreed with the live config.

It reads the stored shadow records (``shadow_records``, docs/shadow.md), so it reports exactly
what was published on ``risk.shadow``. Exit 0 with the report, 2 for a bad window, 3 when
PostgreSQL cannot be used.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer

from riskgate.admin_errors import Endpoint, connect_postgres, failure_line
from riskgate.cli_replay import EXIT_INFRA, EXIT_USAGE
from riskgate.cli_replay import _fail as replay_fail
from riskgate.cli_replay import _time as replay_time
from riskgate.settings import Settings

shadow_app = typer.Typer(help="The live shadow profile: what a candidate config would decide.",
                         no_args_is_help=True)
_COMMAND = "shadow report"


def _fail(line: str, code: int = EXIT_USAGE):
    replay_fail(line, code, command=_COMMAND)


def _time(text: str, option: str) -> datetime:
    return replay_time(text, option, _COMMAND)


def _transitions(settings: Settings, start: datetime, end: datetime, portfolios: Sequence[str]):
    from riskgate.store.shadow import transitions

    async def run():
        conn = await connect_postgres(settings)
        try:
            return await transitions(conn, start, end, portfolios)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        line = failure_line(_COMMAND, Endpoint.postgres(settings), exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INFRA) from None


@shadow_app.command("report")
def shadow_report(
    start: str = typer.Option(..., "--from", help="Window start, ISO 8601 (UTC when no offset)."),
    end: str = typer.Option(..., "--to", help="Window end, ISO 8601."),
    portfolio: Annotated[list[str] | None, typer.Option(
        "--portfolio", help="Only these portfolios.")] = None,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per transition."),
) -> None:
    """Agreement of the candidate with the live config, per live -> shadow action transition,
    with the reasons of the differences; the last line sums it up."""
    t1, t2 = _time(start, "--from"), _time(end, "--to")
    if t1 > t2:
        _fail(f"--from {start} is after --to {end}")
    found = _transitions(Settings(), t1, t2, portfolio or ())
    for t in found:
        reasons = dict(sorted(t.reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        if as_json:
            typer.echo(json.dumps({"live_action": t.live_action, "shadow_action": t.shadow_action,
                                   "decisions": t.decisions, "differ": t.differ,
                                   "reasons": reasons}))
            continue
        why = "  " + ", ".join(f"{code}={n}" for code, n in reasons.items()) if reasons else ""
        typer.echo(f"{t.live_action:>13} -> {t.shadow_action:<13} decisions={t.decisions} "
                   f"differ={t.differ}{why}")
    decisions = sum(t.decisions for t in found)
    differ = sum(t.differ for t in found)
    typer.echo(f"shadow: decisions={decisions} agree={decisions - differ} differ={differ}")
