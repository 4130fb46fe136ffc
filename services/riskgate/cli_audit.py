"""``riskgate audit prune``: retention of the replay evidence (docs/replay.md, "Retention")."""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import sys
from datetime import UTC, datetime

import typer

from riskgate.cli_replay import _time
from riskgate.settings import Settings

EXIT_USAGE, EXIT_INFRA = 2, 3
DEFAULT_KEEP_DEDUP = "7d"  # Kafka's default retention: how long a decision id can come back
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")


def duration_s(text: str) -> float | None:
    """Seconds in ``7d``, ``36h``, ``90m``, ``45s`` or a bare number of seconds; None if not."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        return None
    return float(found[1]) * _UNITS[found[2] or "s"]


def _refuse(line: str) -> None:
    print(f"riskgate audit prune: {line}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USAGE)


def _who(by: str | None) -> str:
    if by is not None and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry
        return f"uid:{os.getuid()}"


def prune(
    before: str = typer.Option(..., "--before", help="Cut-off, ISO 8601 (UTC when no offset): "
                               "remove what is older, except what replay of the rest needs."),
    reason: str = typer.Option(..., "--reason", help="Why: kept in the audit row (required)."),
    by: str | None = typer.Option(None, "--by", help="Who, for the audit row (default: the OS user)."),
    keep_dedup: str = typer.Option(
        DEFAULT_KEEP_DEDUP, "--keep-dedup",
        help="Deduplication horizon (7d, 36h, 90m, 45s): decision ids processed within it are "
             "kept, and a cut-off inside it is refused."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, remove nothing, write no audit row."),
) -> None:
    """Remove the actions, inputs and history older than --before, keeping what a replay of any
    later window needs (per portfolio, its last snapshot apply at the cut-off and on; the config
    history whole), nothing within one batch (RISKGATE_BATCH_MAX_RECORDS) of a partition's
    stored progress or of a halted partition, and the decision ids of the deduplication
    horizon. Run it with the workers' RISKGATE_* settings. One transaction under an advisory lock; each prune writes an
    audit row (audit_prunes). Needs the admin role once roles exist: there are none yet, so
    anyone who can write to the database can run it.

    Exit 0 when done, 2 for a bad or refused argument, 3 when PostgreSQL cannot be used."""
    cutoff = _time(before, "--before", "audit prune")
    keep_s = duration_s(keep_dedup)
    if keep_s is None:
        _refuse(f"--keep-dedup {keep_dedup!r} is not a duration (e.g. 7d, 36h, 90m, 45s)")
    if not reason.strip():
        _refuse("--reason must say why (it is kept in the audit row)")
    now = datetime.now(UTC)
    if cutoff > now:
        _refuse(f"--before {before} is in the future")
    if (now - cutoff).total_seconds() < keep_s:
        _refuse(f"--before {before} is inside the deduplication horizon (--keep-dedup "
                f"{keep_dedup}): give an earlier time or a shorter horizon")
    settings = Settings()
    report = _run(settings, cutoff, keep_s, _who(by), reason.strip(), dry_run)
    for line in report.lines():
        typer.echo(line)


def _run(settings: Settings, cutoff: datetime, keep_s: float, by: str, reason: str,
         dry_run: bool):
    from riskgate.admin_errors import Endpoint, connect_postgres, failure_line
    from riskgate.replay.prune import PruneRefused
    from riskgate.replay.prune import prune as prune_store
    from riskgate.store.state import init_connection

    async def run():
        conn = await connect_postgres(settings)
        try:
            await init_connection(conn)
            return await prune_store(conn, cutoff, keep_dedup_s=keep_s,
                                     ttl_s=settings.snapshot_ttl_s,
                                     batch_max=settings.batch_max_records, by=by,
                                     reason=reason, dry_run=dry_run)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except PruneRefused as exc:
        _refuse(str(exc))
    except Exception as exc:
        line = failure_line("audit prune", Endpoint.postgres(settings), exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INFRA) from None
