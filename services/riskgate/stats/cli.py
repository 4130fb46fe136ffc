"""The ``riskgate stats`` command: exit 0 on SIGTERM, 2 for bad settings, 3 when another stats
process took over."""

from __future__ import annotations

import asyncio

import typer
from pydantic import ValidationError

EXIT_USAGE = 2
EXIT_FENCED = 3


def stats() -> None:
    """Count risk actions per strategy, action type and reason code in tumbling UTC windows and
    publish each window on risk.override_stats when it closes, and again as a correction
    (docs/override-stats.md). One process per deployment; runs until SIGTERM."""
    from riskgate.errors import PublisherFenced
    from riskgate.logging import configure
    from riskgate.settings import Settings
    from riskgate.stats.service import StatsService
    from riskgate.stats.settings import StatsSettings

    try:
        settings, stats_settings = Settings(), StatsSettings()
        service = StatsService(settings, stats_settings)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()
        typer.echo(f"riskgate stats: bad RISKGATE_STATS_* setting: {' '.join(first[:3])}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    configure(settings.log_level)
    if stats_settings.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(stats_settings.metrics_port, addr="127.0.0.1")
    try:
        asyncio.run(service.run())
    except PublisherFenced as exc:
        typer.echo(f"riskgate stats: {exc}; this process stops", err=True)
        raise typer.Exit(EXIT_FENCED) from None
