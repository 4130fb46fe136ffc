"""``riskgate dlq``: list, show and redrive dead letters (docs/dlq.md).

Exit 0 when done, 1 when nothing matches, 2 for a usage error, 3 when PostgreSQL or Kafka
cannot be used. Run it with the workers' ``RISKGATE_*`` settings: the predictions use their
topics, ``RISKGATE_MAX_MESSAGE_BYTES`` and ``RISKGATE_MAX_DECISION_AGE_S``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from riskgate.cli_audit import _who
from riskgate.cli_replay import _fail, _time
from riskgate.settings import Settings

EXIT_NONE, EXIT_USAGE, EXIT_INFRA = 1, 2, 3
_RECORD = re.compile(r"(\d+):(\d+)")

dlq_app = typer.Typer(help="Dead letters: list, show and redrive them.", no_args_is_help=True)

SinceOption = Annotated[str | None, typer.Option(
    "--since", help="Only dead letters received at or after this time, ISO 8601 (UTC when no "
                    "offset).")]
CodeOption = Annotated[str | None, typer.Option(
    "--error-code", help="Only this error code (OVERSIZE, SCHEMA_INVALID, ...).")]


@dlq_app.command("list")
def dlq_list(since: SinceOption = None, error_code: CodeOption = None,
             limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 200,
             as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")
                                ] = False) -> None:
    """The dead letters of the decisions topic, oldest first.

    Each with its source partition:offset, when, the code, the full value's size, how often it
    was redriven, and the reason."""
    from riskgate.dlq.render import LIST_HEADER, list_line
    from riskgate.dlq.render import as_json as to_json
    from riskgate.store.dlq import list_dead_letters

    command = "dlq list"
    settings = Settings()
    after, code = _since(since, command), _code(error_code, command)
    letters = _run(command, settings, lambda conn: list_dead_letters(
        conn, settings.topics.proposed, since=after, error_code=code, limit=limit + 1))
    more, letters = len(letters) > limit, letters[:limit]
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(to_json(letter)))
        return
    typer.echo(LIST_HEADER)
    for letter in letters:
        typer.echo(list_line(letter))
    typer.echo(f"{_letters(len(letters))} of {settings.topics.proposed}"
               + (f" shown; there are more (raise --limit {limit})" if more else ""))


@dlq_app.command("show")
def dlq_show(
    record: Annotated[str, typer.Argument(
        metavar="PARTITION:OFFSET", help="The refused record's partition and offset on the "
                                         "decisions topic.")],
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object, with the full "
                                                         "bytes in value_b64.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the full original bytes to "
                                                           "this file.")] = None,
) -> None:
    """One dead letter, with its full original bytes.

    The error, the key, the bytes (length, SHA-256, a printable preview), what a redrive would
    do with it now, its redrives so far and the envelope as published."""
    from riskgate.dlq.plan import examine, predict
    from riskgate.dlq.render import as_json as to_json
    from riskgate.dlq.render import show_lines
    from riskgate.store.dlq import dead_letter, redrives_of
    from riskgate.store.state import seen_decisions

    command = "dlq show"
    partition, offset = _record(record, command)
    settings = Settings()
    topic = settings.topics.proposed

    async def load(conn):
        letter = await dead_letter(conn, topic, partition, offset)
        if letter is None:
            return None
        item = examine(letter, settings.max_message_bytes)
        ids = [item.decision_id] if item.decision_id else []
        seen = await seen_decisions(conn, ids) if ids else set()
        prediction = predict([item], seen, time.time(), settings.max_decision_age_s)[0]
        return letter, prediction, await redrives_of(conn, topic, partition, offset)

    found = _run(command, settings, load)
    if found is None:
        _fail(f"no dead letter of {topic} at {partition}:{offset}", EXIT_NONE, command)
    letter, prediction, redrives = found
    if out is not None:
        out.write_bytes(letter.value or b"")
    if as_json:
        body = to_json(letter) | {"redrive_now": {"expect": prediction.expect.value,
                                                  "detail": prediction.detail}}
        typer.echo(json.dumps(body, default=str))
        return
    for line in show_lines(topic, letter, prediction, redrives):
        typer.echo(line)
    if out is not None:
        typer.echo(f"wrote         {len(letter.value or b'')} bytes to {out}")


@dlq_app.command("redrive")
def dlq_redrive(
    reason: Annotated[str, typer.Option("--reason", help="Why: kept with the redrive (required).")],
    error_code: CodeOption = None, since: SinceOption = None,
    record: Annotated[list[str] | None, typer.Option(
        "--record", metavar="PARTITION:OFFSET", help="Only this dead letter (repeatable).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter, when no other filter "
                                                      "is given.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen; publish and "
                                                            "record nothing.")] = False,
    by: Annotated[str | None, typer.Option("--as", help="Who, for the record (default: the OS "
                                                        "user; unauthenticated).")] = None,
) -> None:
    """Publish dead letters' original bytes to the decisions topic again.

    Each goes with its original key and headers naming the dead letter. The command says first
    how many will be decided, come back DUPLICATE (decision_id already processed) or EXPIRED, or
    dead-letter again; every redrive is recorded (dlq_redrives)."""
    from riskgate.dlq import redrive as rd
    from riskgate.dlq.plan import summary

    command = "dlq redrive"
    records = tuple(_record(r, command) for r in record or ())
    selection = rd.Selection(_code(error_code, command), _since(since, command), records)
    if not (selection.error_code or selection.since or records or every):
        _fail("say which dead letters: --error-code, --since, --record, or --all", command=command)
    if not reason.strip() or len(reason) > 1000:
        _fail("--reason must say why, in at most 1000 characters", command=command)
    settings = Settings()

    async def act(conn):
        predictions = await rd.plan(conn, settings, selection, time.time())
        _say_plan(settings, selection, predictions, summary(predictions, settings.max_decision_age_s))
        if dry_run or not predictions:
            return rd.RedriveResult(predictions)
        return await rd.redrive(conn, settings, predictions, selection, _who(by), reason.strip())

    result = _run(command, settings, act)
    if not result.predictions:
        _fail("no dead letter matches; nothing to redrive", EXIT_NONE, command)
    if dry_run:
        typer.echo("dry run: nothing published, nothing recorded")
        return
    for r in result.published:
        typer.echo(f"published     {r.partition}:{r.offset} -> {settings.topics.proposed} "
                   f"{r.published_partition}:{r.published_offset} (expected {r.expected})")
    typer.echo(f"redrive {result.redrive_id}: {len(result.published)} of "
               f"{len(result.predictions)} published, recorded in dlq_redrives")
    if result.error is not None:
        _fail(f"publishing failed after {len(result.published)} records: {result.error} "
              f"(redrive {result.redrive_id} recorded as FAILED)", EXIT_INFRA, command)


def _say_plan(settings: Settings, selection, predictions, lines: list[str]) -> None:
    """The up-front summary, then one line per record (the first 50)."""
    filters = ", ".join(f"{k}={','.join(v) if isinstance(v, list) else v}"
                        for k, v in selection.as_dict().items() if v) or "all"
    typer.echo(f"{_letters(len(predictions))} of {settings.topics.proposed} selected ({filters})")
    for line in lines:
        typer.echo(line)
    for p in predictions[:50]:
        typer.echo(f"  {p.letter.partition}:{p.letter.offset:<8} {p.letter.error_code:<19} -> "
                   f"{p.expect.value:<11} {p.detail}")
    if len(predictions) > 50:
        typer.echo(f"  ... and {len(predictions) - 50} more")


def _letters(n: int) -> str:
    return f"{n} dead letter" + ("" if n == 1 else "s")


def _record(text: str, command: str) -> tuple[int, int]:
    found = _RECORD.fullmatch(text.strip())
    if found is None:
        _fail(f"{text!r} is not PARTITION:OFFSET (e.g. 3:1042)", command=command)
    return int(found[1]), int(found[2])


def _since(text: str | None, command: str):
    return None if text is None else _time(text, "--since", command)


def _code(text: str | None, command: str) -> str | None:
    from riskgate.contracts.enums import ErrorCode

    if text is None:
        return None
    if text.upper() not in ErrorCode.__members__:
        _fail(f"--error-code {text!r} is not one of {', '.join(ErrorCode)}", command=command)
    return text.upper()


def _run(command: str, settings: Settings, fn):
    """``fn(conn)`` on one PostgreSQL connection; an infrastructure fault is one line, exit 3."""
    from aiokafka.errors import KafkaError

    from riskgate.admin_errors import Endpoint, connect_postgres, failure_line
    from riskgate.store.state import init_connection

    async def run():
        conn = await connect_postgres(settings)
        try:
            await init_connection(conn)
            return await fn(conn)
        finally:
            await conn.close()

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the one line below says it once
    try:
        return asyncio.run(run())
    except Exception as exc:
        endpoint = (Endpoint.kafka(settings) if isinstance(exc, KafkaError)
                    else Endpoint.postgres(settings))
        line = failure_line(command, endpoint, exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INFRA) from None
