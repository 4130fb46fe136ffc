"""How dead letters read on a terminal and as JSON."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from riskgate.dlq.plan import Prediction
from riskgate.store.dlq import StoredDeadLetter

PREVIEW_BYTES = 240


def printable(raw: bytes | None, limit: int = PREVIEW_BYTES) -> str:
    """The first ``limit`` bytes as text: UTF-8 where it decodes, every other byte and every
    control character escaped, so nothing in a record can move the terminal's cursor."""
    if raw is None:
        return "(none)"
    text = raw[:limit].decode("utf-8", "backslashreplace")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown + (f" ... ({len(raw) - limit} more bytes)" if len(raw) > limit else "")


def list_line(letter: StoredDeadLetter) -> str:
    size = "-" if letter.value_length is None else str(letter.value_length)
    error = letter.error if len(letter.error) <= 70 else letter.error[:67] + "..."
    note = f" (redrive of {letter.redrive_of})" if letter.redrive_of else ""
    return (f"{letter.partition}:{letter.offset:<8} {letter.received_at:%Y-%m-%dT%H:%M:%S%z} "
            f"{letter.error_code:<19} {size:>8} {letter.redriven:>8}  {error}{note}")


LIST_HEADER = f"{'P:OFFSET':<10} {'RECEIVED_AT':<24} {'ERROR_CODE':<19} {'BYTES':>8} " \
              f"{'REDRIVEN':>8}  ERROR"


def as_json(letter: StoredDeadLetter) -> dict[str, Any]:
    """A dead letter as one JSON object; with the full bytes when they were loaded."""
    body: dict[str, Any] = {
        "partition": letter.partition, "offset": letter.offset, "error_code": letter.error_code,
        "error": letter.error, "received_at": letter.received_at.isoformat(),
        "key_b64": _b64(letter.key), "value_length": letter.value_length,
        "value_sha256": letter.value_sha256, "redriven": letter.redriven,
        "redrive_of": letter.redrive_of,
    }
    if letter.envelope is not None:
        body["value_b64"] = _b64(letter.value)
        body["envelope"] = orjson.loads(letter.envelope)
    return body


def show_lines(topic: str, letter: StoredDeadLetter, prediction: Prediction,
               redrives: list) -> list[str]:
    """``dlq show``: the error, the key, the full bytes (length, digest, preview), what a
    redrive would do now, the redrives so far and the envelope as published."""
    value = letter.value
    envelope = orjson.loads(letter.envelope) if letter.envelope is not None else {}
    if value is None:
        held = "no value"
    else:
        digest = hashlib.sha256(value).hexdigest()
        check = "" if digest == letter.value_sha256 else f" (stored sha256 {letter.value_sha256}!)"
        held = (f"{len(value)} bytes, sha256 {digest}{check}; the envelope holds "
                + ("a prefix only (value_truncated)" if envelope.get("value_truncated")
                   else "all of them"))
    lines = [
        f"dead letter   {topic} partition {letter.partition} offset {letter.offset}",
        f"error_code    {letter.error_code}",
        f"error         {letter.error}",
        f"received_at   {letter.received_at.isoformat()}",
        f"key           {printable(letter.key)}"
        + ("" if letter.key is None else f" ({len(letter.key)} bytes)"),
        f"value         {held}",
        f"preview       {printable(value)}",
        f"redrive now   {prediction.expect.value}: {prediction.detail}",
    ]
    if letter.redrive_of:
        lines.append(f"redrive of    {letter.redrive_of} (this record was itself redriven)")
    for r in redrives:
        who = r["requested_by"] + ("" if r["authenticated"] else " (unauthenticated)")
        lines.append(f"redriven      {r['started_at'].isoformat()} by {who}, {r['status']}, "
                     f"to {r['target_topic']} {r['published_partition']}:"
                     f"{r['published_offset']}, expected {r['expected']}: {r['reason']}")
    if envelope.get("value_b64"):  # the bytes are above; keep the line readable
        envelope["value_b64"] = f"<{len(envelope['value_b64'])} base64 characters>"
    lines.append("envelope      " + orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS).decode())
    return lines


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")
