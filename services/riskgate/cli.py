"""The ``riskgate`` command: run a worker, create topics, migrate, run the demo."""

from __future__ import annotations

import asyncio
import json

import typer
from pydantic import ValidationError

from riskgate.admin_errors import Endpoint, run_admin, with_database
from riskgate.cli_audit import prune
from riskgate.cli_config import config_app
from riskgate.cli_dlq import dlq_app
from riskgate.cli_partitions import partitions_app
from riskgate.cli_replay import replay
from riskgate.cli_shadow import shadow_app
from riskgate.settings import Settings
from riskgate.settings_secrets import settings_problems
from riskgate.stats.cli import stats

app = typer.Typer(help="riskgate: a streaming risk gate for trading pipelines.", no_args_is_help=True)
topics_app = typer.Typer(help="Topic administration.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
audit_app = typer.Typer(help="Audit queries over risk_actions and target_positions.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
audit_app.command("prune")(prune)
app.add_typer(partitions_app, name="partitions")
app.add_typer(shadow_app, name="shadow")
app.add_typer(config_app, name="config")
app.add_typer(dlq_app, name="dlq")
app.command("replay")(replay)
app.command("stats")(stats)


@app.command()
def worker() -> None:
    """Run one worker of the consumer group until SIGTERM."""
    from riskgate.kafka.limits import OutputLimitTooSmall
    from riskgate.logging import configure
    from riskgate.worker.service import WorkerService

    settings = Settings()
    configure(settings.log_level)
    try:
        asyncio.run(WorkerService(settings).run())
    except OutputLimitTooSmall as exc:  # a setting to fix, not a crash
        typer.echo(f"riskgate worker: {exc}", err=True)
        raise typer.Exit(2) from None


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic with its partition count and cleanup policy (idempotent)."""
    from riskgate.kafka.admin import create_topics

    settings = Settings()
    result = run_admin("topics create", Endpoint.kafka(settings), lambda: create_topics(settings))
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent)."""
    from riskgate.store.migrate import migrate as apply_migrations

    applied = _with_database("migrate", apply_migrations, init=False)
    typer.echo(f"applied: {applied or 'nothing (up to date)'}")


@app.command()
def demo() -> None:
    """Publish a realistic sample through a running worker and print decision -> action -> target."""
    from riskgate.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(Settings())))


def _with_database(command: str, fn, *args, init: bool = True):
    return with_database(command, Settings(), fn, *args, init=init)


@audit_app.command("why")
def audit_why(decision_id: str) -> None:
    """Why was this decision cut: its stored actions, and the full per-constraint trace of each
    leg, rebuilt by replaying the decision from its stored evidence (exit 1 when the decision is
    unknown, or its replay differs from the stored record or cannot be made)."""
    from riskgate.replay.why import why

    settings = Settings()
    answer = with_database("audit why", settings, why, settings, decision_id)
    typer.echo(json.dumps(answer, indent=2, default=str))
    if answer["replay"] != "identical":
        raise typer.Exit(1)


@audit_app.command("overrides")
def audit_overrides(strategy: str, days: float = 7.0) -> None:
    """How often risk overrode a strategy over the last ``days``, by reason."""
    from datetime import UTC, datetime, timedelta

    from riskgate.store.audit import overrides

    until = datetime.now(UTC)
    result = _with_database("audit overrides", overrides, strategy, until - timedelta(days=days),
                            until)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command("api")
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the HTTP API (docs/api.md): what-ifs, live book reads and the authenticated
    control routes, following the live inputs; TLS with RISKGATE_API_TLS_CERTFILE/_KEYFILE."""
    import uvicorn

    from riskgate.api import create_app
    from riskgate.api.wiring import real_parts
    from riskgate.logging import configure

    settings = Settings()
    configure(settings.log_level)
    tls = (settings.api_tls_certfile, settings.api_tls_keyfile)
    if (tls[0] is None) != (tls[1] is None):
        typer.echo("riskgate api: set both RISKGATE_API_TLS_CERTFILE and "
                   "RISKGATE_API_TLS_KEYFILE, or neither", err=True)
        raise typer.Exit(2)
    app_ = create_app(real_parts(settings), settings=settings)
    uvicorn.run(app_, host=host, port=port, log_level=settings.log_level.lower(),
                ssl_certfile=tls[0], ssl_keyfile=tls[1])


def main() -> None:
    """The console entry point: settings that cannot load are one line, exit 2."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        typer.echo(f"riskgate: invalid settings: {settings_problems(exc)}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
