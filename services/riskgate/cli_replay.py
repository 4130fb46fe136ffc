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


def _time(text: str, option: str, command: str = "replay") -> datetime:
    """An ISO 8601 option value (UTC when it has no offset), or one line and exit 2."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-12-01T09:30:00Z)", command=command)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fail(line: str, code: int = EXIT_USAGE, command: str = "replay"):
    print(f"riskgate {command}: {line}", file=sys.stderr, flush=True)
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
    profile: Annotated[str | None, typer.Option(
        "--profile", help="What-if: decide the window again under this profile (GLOBAL).")] = None,
    limits: Annotated[Path | None, typer.Option(
        "--limits", help="What-if: a YAML or JSON candidate (scope, scope_id, profile, limits).")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="What-if mode: counterfactual (the live state) or path (its own book).")
    ] = "counterfactual",
    html: Annotated[Path | None, typer.Option(
        "--html", help="What-if: write a self-contained HTML report with charts.")] = None,
    to_topic: Annotated[str | None, typer.Option(
        "--to-topic", help="Write the replayed outputs (the candidate's, in a what-if) to "
                           "sandbox topics PREFIX.<topic>, never the live ones.")] = None,
) -> None:
    """Re-decide every stored decision in the window from its witness and compare, read-only;
    with --profile or --limits, also under a candidate config (what-if).

    Exit 0 when all are identical, 1 on any difference or unreplayable decision (between the
    stored and the replayed live outcome: what-if changes are the answer, not a failure), 2 for
    a usage error, 3 when PostgreSQL or Kafka cannot be used."""
    from riskgate.admin_errors import Endpoint, connect_postgres, failure_line
    from riskgate.replay.run import ReplayInputError, replay_window

    t1, t2 = _time(start, "--from"), _time(end, "--to")
    if t1 > t2:
        _fail(f"--from {start} is after --to {end}")
    settings = Settings()
    candidate = _candidate(profile, limits, mode, html)
    sandbox = _sandbox(settings, to_topic)

    async def run():
        conn = await connect_postgres(settings)
        try:
            if sandbox is not None:
                await sandbox.start()
            result = await replay_window(conn, settings, t1, t2, portfolio or (), strategy or (),
                                         candidate, mode, sandbox.send if sandbox else None,
                                         _progress if sys.stderr.isatty() else None)
            checks = {}
            if verify_topics:
                from riskgate.replay.verify import verify_topics as verify

                checks = await verify(conn, settings, t1, t2, result.portfolios)
            return result, checks
        finally:
            await conn.close()
            if sandbox is not None:
                await sandbox.stop()

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
    if html is not None and result.whatif is not None:
        from riskgate.replay.html import write_html

        write_html(html, result.whatif, t1, t2)
        typer.echo(f"html report: {html}")
    if sandbox is not None:
        typer.echo(sandbox.line())
    _print(result, report)
    for topic, check in checks.items():
        for label, ids in (("missing", check.missing), ("extra", check.extra),
                           ("differing", check.differing)):
            for action_id in ids[:10]:
                typer.echo(f"{label:<13} {topic} action_id={action_id}")
        typer.echo(check.line(topic))
    clean = result.clean and all(c.clean for c in checks.values())
    raise typer.Exit(0 if clean else EXIT_DIFFERENT)


def _progress(done: int, total: int, decisions: int) -> None:
    """A progress bar on a terminal's stderr, redrawn after each portfolio."""
    width = 30
    filled = width * done // total
    end = "\n" if done == total else ""
    print(f"\rreplaying [{'#' * filled}{'.' * (width - filled)}] {done}/{total} portfolios, "
          f"{decisions} decisions", end=end, file=sys.stderr, flush=True)


def _candidate(profile: str | None, limits: Path | None, mode: str, html: Path | None):
    from riskgate.replay.whatif import MODES
    from riskgate.worker.candidate import Candidate, CandidateError

    if mode not in MODES:
        _fail(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    if profile is not None and limits is not None:
        _fail("give --profile or --limits, not both")
    if (profile is None and limits is None) and (html is not None or mode != "counterfactual"):
        _fail("--html and --mode need a candidate: --profile NAME or --limits FILE")
    try:
        if profile is not None:
            return Candidate.of_profile(profile)
        return Candidate.from_file(limits) if limits is not None else None
    except CandidateError as exc:
        _fail(str(exc))


def _sandbox(settings: Settings, prefix: str | None):
    if prefix is None:
        return None
    from riskgate.replay.sandbox import Sandbox, SandboxError

    try:
        return Sandbox(settings, prefix)
    except SandboxError as exc:
        _fail(str(exc))


def _print(result, report: Path | None) -> None:
    if result.whatif is not None:
        for line in result.whatif.lines():
            typer.echo(line)
    shown = [v for v in result.verdicts if v.status != "identical"]
    for v in shown[:20]:
        detail = v.reason if v.status == "unreplayable" else ", ".join(
            f"{d.field}: {d.stored!r} -> {d.replayed!r}" for d in v.differences[:4])
        typer.echo(f"{v.status:<13} {v.portfolio_id:<16} {v.decision_id:<36} {detail}")
    if len(shown) > 20:
        typer.echo(f"... and {len(shown) - 20} more (see --report)")
    for line in result.table():
        typer.echo(line)
    if report is not None:
        with report.open("w", encoding="utf-8") as out:
            for v in shown:
                out.write(json.dumps({
                    "decision_id": v.decision_id, "portfolio_id": v.portfolio_id,
                    "status": v.status, "likely_cause": v.reason,
                    "differences": [{"field": d.field, "stored": d.stored, "replayed": d.replayed}
                                    for d in v.differences]}, default=str) + "\n")
            for change in result.whatif.changes if result.whatif is not None else ():
                out.write(json.dumps({"status": "what-if", **change.as_dict()}) + "\n")
    typer.echo(result.summary())
