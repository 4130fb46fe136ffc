"""``riskgate config``: show, change and audit the risk config through the one ConfigWriter.

Every write needs ``--reason``; it is recorded as ``--as NAME`` (default: the OS user), marked
unauthenticated. Exit 0 on success; 1 when a wait timed out (the change is published); 2 for a
refused change, a usage error or an unusable risk.config topic, in one line; 3 when PostgreSQL
or Kafka cannot be used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from riskgate.cli_audit import _who
from riskgate.cli_replay import _time
from riskgate.settings import Settings

EXIT_WAIT, EXIT_USAGE, EXIT_INFRA = 1, 2, 3

config_app = typer.Typer(help="Show, change and audit the risk config (docs/control-plane.md).",
                         no_args_is_help=True)

Scope = Annotated[str, typer.Option("--scope", help="global, strategy:ID or portfolio:ID.")]
Reason = Annotated[str, typer.Option("--reason", help="Why: recorded with the change (required).")]
As = Annotated[str | None, typer.Option("--as", help="Who, recorded as unauthenticated "
                                                     "(default: the OS user).")]
IfVersion = Annotated[int | None, typer.Option(
    "--if-version", help="Refuse unless the scope's current version is this (-1: never written).")]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until every live worker "
                                    "applied it (RISKGATE_CONFIG_WAIT_S).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the diff and the counterfactual "
                                      "over the last --last stored decisions; publish nothing.")]
Last = Annotated[int, typer.Option("--last", min=1, help="Decisions the dry run replays.")]


def _fail(command: str, line: str, code: int = EXIT_USAGE):
    print(f"riskgate config {command}: {line}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _run(command: str, settings: Settings, make):
    """``asyncio.run(make())``: refusals exit 2 and infrastructure faults exit 3, in one line."""
    from aiokafka.errors import KafkaError

    from riskgate.admin_errors import Endpoint, failure_line
    from riskgate.control.model import ConfigRefused, ConfigTopicInvalid, VersionConflict

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(make())
    except (ConfigRefused, VersionConflict, ConfigTopicInvalid) as exc:
        _fail(command, str(exc))
    except Exception as exc:
        endpoint = Endpoint.kafka(settings) if isinstance(exc, KafkaError) else Endpoint.postgres(settings)
        line = failure_line(f"config {command}", endpoint, exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INFRA) from None


def _change(command: str, **fields: Any):
    from riskgate.control.model import ConfigChange

    try:
        return ConfigChange(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "change"
        _fail(command, f"{where}: {first['msg'].removeprefix('Value error, ')}")


def _write(command: str, who: str | None, wait: bool, dry: bool, last: int, **fields: Any) -> None:
    """Build the change from ``fields`` and submit it (or dry-run it) as ``who``."""
    from riskgate.control.dryrun import dry_run
    from riskgate.control.model import Actor
    from riskgate.control.show import emergency_line
    from riskgate.control.writer import ConfigWriter

    change = _change(command, **fields)
    settings = Settings()
    actor = Actor(name=_who(who), via="cli")

    async def go():
        async with ConfigWriter(settings) as writer:
            if dry:
                return await dry_run(writer, settings, change, actor, last), None
            result = await writer.submit(change, actor,
                                         wait_s=settings.config_wait_s if wait else None)
            if change.rearm_event_id is None or result.status != "published":
                return result, None
            async with writer.pool.acquire() as conn:
                return result, await emergency_line(conn, settings)

    result, emergency = _run(command, settings, go)
    if dry:
        typer.echo("\n".join(result.lines()))
        return
    try:
        _print_result(result, settings.config_wait_s)
    finally:
        if emergency is not None:
            typer.echo(emergency)


def _print_result(result, wait_s: float) -> None:
    scope = result.new.get("scope") or result.previous.get("scope")
    if result.status == "proposed":
        typer.echo(f"proposed {result.change_id} for {scope} (four-eyes): a second admin runs "
                   f"`riskgate config approve {result.change_id}` before "
                   f"{result.expires_at:%Y-%m-%dT%H:%M:%SZ}")
    else:
        typer.echo(f"published version {result.version} ({result.change_id}) for {scope}")
    typer.echo("\n".join(f"  {line}" for line in result.diff) or "  no change")
    if not result.waited:
        return
    if result.not_applied_by:
        typer.echo(f"not applied within {wait_s:g} s by: {', '.join(result.not_applied_by)}")
        raise typer.Exit(EXIT_WAIT)
    if result.applied_by:
        typer.echo(f"applied by every live worker: {', '.join(result.applied_by)}")
    else:
        typer.echo("no live worker to wait for (worker_status)")


@config_app.command("set-profile")
def set_profile(name: str, reason: Reason, scope: Scope = "global", who: As = None,
                if_version: IfVersion = None, wait: Wait = True, dry_run: DryRun = False,
                last: Last = 1000) -> None:
    """Switch the base profile of a scope (AGGRESSIVE_SMALL_ACCOUNT, NORMAL, DEFENSIVE)."""
    _write("set-profile", who, wait, dry_run, last, scope=scope, profile=name.upper(),
           reason=reason, if_version=if_version)


@config_app.command("set-limits")
def set_limits(file: Path, reason: Reason, scope: Scope = "global", who: As = None,
               unset: Annotated[list[str] | None, typer.Option(
                   "--unset", help="Remove a limit from the overlay: it inherits again.")] = None,
               if_version: IfVersion = None, wait: Wait = True, dry_run: DryRun = False,
               last: Last = 1000) -> None:
    """Merge a YAML or JSON mapping of limits into the scope's overlay (null: no cap); --unset
    NAME removes one (the layer below applies again). Use - as FILE for no file."""
    limits = None if str(file) == "-" else _limits_file(file)
    _write("set-limits", who, wait, dry_run, last, scope=scope, limits=limits, unset=unset or [],
           reason=reason, if_version=if_version)


def _limits_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail("set-limits", f"cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        _fail("set-limits", f"{path} is not YAML or JSON: {' '.join(str(exc).split())}")
    if not isinstance(body, dict):
        _fail("set-limits", f"{path} must hold a mapping of limit names to values")
    return body


@config_app.command("trading-state")
def trading_state(state: str, reason: Reason, scope: Scope = "global", who: As = None,
                  if_version: IfVersion = None, wait: Wait = True, dry_run: DryRun = False,
                  last: Last = 1000) -> None:
    """Set a scope's trading state: ACTIVE, REDUCING or HALTED."""
    _write("trading-state", who, wait, dry_run, last, scope=scope, trading_state=state.upper(),
           reason=reason, if_version=if_version)


@config_app.command("halt")
def halt(reason: Reason, who: As = None, if_version: IfVersion = None, wait: Wait = True) -> None:
    """The kill switch: global HALTED (only verified de-risking passes)."""
    _write("halt", who, wait, False, 1, scope="global", trading_state="HALTED", reason=reason,
           if_version=if_version)


@config_app.command("rearm")
def rearm(event: Annotated[str, typer.Option("--event", help="The black swan event id.")],
          reason: Reason, who: As = None, wait: Wait = True) -> None:
    """Allow leaving EMERGENCY for this event once the black swan level is below EMERGENCY."""
    _write("rearm", who, wait, False, 1, rearm_event_id=event, reason=reason)


@config_app.command("approve")
def approve(change_id: str, who: As = None, wait: Wait = True) -> None:
    """Publish a four-eyes proposal, as a second admin (not its proposer)."""
    from riskgate.control.model import Actor
    from riskgate.control.writer import ConfigWriter

    settings = Settings()
    actor = Actor(name=_who(who), via="cli")

    async def go():
        async with ConfigWriter(settings) as writer:
            return await writer.approve(change_id, actor,
                                        wait_s=settings.config_wait_s if wait else None)

    _print_result(_run("approve", settings, go), settings.config_wait_s)


@config_app.command("show")
def show(portfolio: Annotated[str, typer.Option("--portfolio", help="Portfolio id.")] = "",
         strategy: Annotated[str, typer.Option("--strategy", help="Strategy id.")] = "",
         as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False
         ) -> None:
    """Effective limits (each with its layer), trading state, emergency level, live workers."""
    from riskgate.admin_errors import connect_postgres
    from riskgate.control.show import gather, lines

    settings = Settings()

    async def go():
        conn = await connect_postgres(settings)
        try:
            return await gather(conn, settings, portfolio, strategy)
        finally:
            await conn.close()

    view = _run("show", settings, go)
    typer.echo(json.dumps(view, indent=2, default=str) if as_json else "\n".join(lines(view)))


@config_app.command("history")
def history(scope: Annotated[str | None, typer.Option(
                "--scope", help="global, strategy:ID, portfolio:ID or rearm:EVENT.")] = None,
            since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time.")] = None,
            as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False
            ) -> None:
    """Every config version: who, when, why, and what changed."""
    from riskgate.admin_errors import connect_postgres
    from riskgate.control import history as h

    settings = Settings()
    start = _time(since, "--since", "config history") if since else None
    if scope is not None:
        try:
            h.record_key(scope)
        except ValueError as exc:
            _fail("history", str(exc))

    async def go():
        conn = await connect_postgres(settings)
        try:
            return await h.history(conn, settings.topics.config, scope, start)
        finally:
            await conn.close()

    entries = _run("history", settings, go)
    typer.echo(json.dumps(entries, indent=2, default=str) if as_json
               else "\n".join(h.lines(entries)) or "no config version on record")
