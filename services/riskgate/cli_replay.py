"""``riskgate replay``: re-decide a window of stored decisions and report every difference."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from riskgate.settings import Settings

EXIT_DIFFERENT, EXIT_USAGE, EXIT_INFRA = 1, 2, 3


def _time(text: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-12-01T09:30:00Z)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fail(line: str, code: int = EXIT_USAGE):
    print(f"riskgate replay: {line}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def replay(
    start: str = typer.Option(..., "--from", help="Window start, ISO 8601 (UTC when no offset)."),
    end: str = typer.Option(..., "--to", help="Window end, ISO 8601."),
    portfolio: Annotated[list[str] | None, typer.Option(
        "--portfolio", help="Only these portfolios.")] = None,
    strategy: Annotated[list[str] | None, typer.Option(
        "--strategy", help="Only these strategies.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write every difference as NDJSON.")] = None,
    verify_topics: Annotated[bool, typer.Option(
        "--verify-topics", help="Also check every stored output is on its topic exactly once.")] = False,
) -> None:
    """Re-decide every stored decision in the window from its witness and compare, read-only.

    Exit 0 when all are identical, 1 on any difference or unreplayable decision, 2 for a usage
    error, 3 when PostgreSQL cannot be used."""
    from riskgate.admin_errors import Endpoint, connect_postgres, failure_line
    from riskgate.replay.run import ReplayInputError, replay_window

    t1, t2 = _time(start, "--from"), _time(end, "--to")
    if t1 > t2:
        _fail(f"--from {start} is after --to {end}")
    settings = Settings()

    async def run():
        conn = await connect_postgres(settings)
        try:
            result = await replay_window(conn, settings, t1, t2, portfolio or (), strategy or ())
            checks = {}
            if verify_topics:
                from riskgate.replay.verify import verify_topics as verify

                checks = await verify(conn, settings, t1, t2, result.portfolios)
            return result, checks
        finally:
            await conn.close()

    try:
        result, checks = asyncio.run(run())
    except ReplayInputError as exc:
        _fail(str(exc))
    except Exception as exc:
        from aiokafka.errors import KafkaError

        endpoint = Endpoint.kafka(settings) if isinstance(exc, KafkaError) else Endpoint.postgres(settings)
        line = failure_line("replay", endpoint, exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INFRA) from None
    _print(result, report)
    for topic, check in checks.items():
        for label, ids in (("missing", check.missing), ("extra", check.extra),
                           ("differing", check.differing)):
            for action_id in ids[:10]:
                typer.echo(f"{label:<13} {topic} action_id={action_id}")
        typer.echo(check.line(topic))
    clean = result.clean and all(c.clean for c in checks.values())
    raise typer.Exit(0 if clean else EXIT_DIFFERENT)


def _print(result, report: Path | None) -> None:
    shown = [v for v in result.verdicts if v.status != "identical"]
    for v in shown[:20]:
        detail = v.reason if v.status == "unreplayable" else ", ".join(
            f"{d.field}: {d.stored!r} -> {d.replayed!r}" for d in v.differences[:4])
        typer.echo(f"{v.status:<13} {v.portfolio_id:<16} {v.decision_id:<36} {detail}")
    if len(shown) > 20:
        typer.echo(f"... and {len(shown) - 20} more (see --report)")
    if report is not None:
        with report.open("w", encoding="utf-8") as out:
            for v in shown:
                out.write(json.dumps({
                    "decision_id": v.decision_id, "portfolio_id": v.portfolio_id,
                    "status": v.status, "likely_cause": v.reason,
                    "differences": [{"field": d.field, "stored": d.stored, "replayed": d.replayed}
                                    for d in v.differences]}, default=str) + "\n")
    typer.echo(result.summary())
