"""The ``riskgate`` command: run a worker, create topics, migrate, run the demo."""

from __future__ import annotations

import asyncio
import json

import typer

from riskgate.settings import Settings

app = typer.Typer(help="riskgate: a streaming risk gate for trading pipelines.", no_args_is_help=True)
topics_app = typer.Typer(help="Topic administration.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@app.command()
def worker() -> None:
    """Run one worker of the consumer group until SIGTERM."""
    from riskgate.logging import configure
    from riskgate.worker.service import WorkerService

    settings = Settings()
    configure(settings.log_level)
    asyncio.run(WorkerService(settings).run())


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic with its partition count and cleanup policy (idempotent)."""
    from riskgate.kafka.admin import create_topics

    result = asyncio.run(create_topics(Settings()))
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent)."""
    from riskgate.store.migrate import migrate_url

    applied = asyncio.run(migrate_url(Settings().database_url))
    typer.echo(f"applied: {applied or 'nothing (up to date)'}")


@app.command()
def demo() -> None:
    """Publish a realistic sample through a running worker and print decision -> action -> target."""
    from riskgate.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(Settings())))


if __name__ == "__main__":
    app()
