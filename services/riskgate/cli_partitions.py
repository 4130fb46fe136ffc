"""``riskgate partitions``: see which input partitions are halted, and lift a halt with a reason.

A worker halts a partition when its stored state contradicts Kafka or when the broker keeps
refusing its outputs. The halt is stored, so every later owner stays halted, until an operator
resumes it here; the owning worker notices within ``halt_recheck_s`` and takes it up again.
"""

from __future__ import annotations

import getpass
import json

import typer

from riskgate.admin_errors import with_database
from riskgate.settings import Settings

partitions_app = typer.Typer(help="Halted partitions: list and resume.", no_args_is_help=True)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


@partitions_app.command("list")
def partitions_list(
    topic: str | None = typer.Option(None, help="Only this input topic (default: the decisions topic)."),
    halted_only: bool = typer.Option(False, "--halted", help="Only halted partitions."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per partition."),
) -> None:
    """Every partition's stored progress, and the reason it is halted, if it is."""
    from riskgate.store.partitions import list_status

    settings = Settings()
    rows = with_database("partitions list", settings, list_status,
                            topic or settings.topics.proposed, halted_only)
    for r in rows:
        if as_json:
            typer.echo(json.dumps({"topic": r.topic, "partition": r.partition,
                                   "last_offset": r.last_offset, "halted": r.halted,
                                   "halted_at": r.halted_at.isoformat() if r.halted_at else None}))
        else:
            state = f"HALTED since {r.halted_at:%Y-%m-%d %H:%M:%S%z}: {r.halted}" if r.halted else "ok"
            typer.echo(f"{r.topic}[{r.partition}] last_offset={r.last_offset} {state}")


@partitions_app.command("resume")
def partitions_resume(
    partition: int = typer.Argument(..., min=0, help="The input partition to resume."),
    reason: str = typer.Option(..., "--reason", help="Why it is safe to resume (kept with the halt)."),
    topic: str | None = typer.Option(None, help="The input topic (default: the decisions topic)."),
) -> None:
    """Lift a stored halt; the owning worker re-reads from the committed offset and goes on.
    After a halt for progress behind the committed offset, the stored progress moves to just
    below it: that gap is accepted as lost (docs/runbook.md)."""
    from riskgate.store.partitions import resume

    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    settings = Settings()
    name = topic or settings.topics.proposed
    was = with_database("partitions resume", settings, resume, name, partition, reason.strip(),
                           _actor())
    if was is None:
        typer.echo(f"{name}[{partition}] is not halted; nothing to resume", err=True)
        raise typer.Exit(1)
    typer.echo(f"{name}[{partition}] resumed (it was halted: {was.halted})")
    if was.gap is not None:
        typer.echo(f"{name}[{partition}] stored {was.moved()}")
