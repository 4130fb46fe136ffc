"""``riskgate audit prune``: remove the evidence older than a cut-off, except what replay of the
rest needs, in one transaction under an advisory lock (docs/replay.md, "Retention: audit prune").

The order inside the transaction:

1. Take the prune lock (another prune running is refused) and check the cut-off against the
   database clock and the deduplication horizon.
2. Per portfolio, choose its anchor (``prune_plan.choose_anchor``) and remove the decisions and
   snapshot applies before it, with their targets and input records; record the anchor.
3. Remove the dead letters before the cut-off with their input records.
4. Remove the emergency versions before the emergency anchor, and the market versions no
   remaining witness names and older than each ticker's last version at the cut-off.
5. Remove the processed decision ids of the removed decisions that nothing remaining needs.
6. Count what stays before the cut-off, and write the audit row.

Only rows of a partition that has stored progress and is not halted, more than one batch below
that progress, are removed. A dry run does all of it and rolls back, so its counts are exact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from riskgate.replay import prune_sql as q
from riskgate.replay.prune_plan import (
    Decided,
    EmergencyRecord,
    Event,
    SnapshotApply,
    choose_anchor,
    emergency_anchor,
    in_flight,
)

LOCK_KEY = 0x7072756E  # "prun": one prune at a time, whatever the connection
CHUNK = 200  # portfolios per round trip
_SLACK = timedelta(seconds=1)  # witness times are rounded to the microsecond in timestamps
TABLES = ("risk_actions", "target_positions", "input_records", "dead_letters",
          "processed_decisions", "snapshot_history", "market_history", "risk_configs",
          "emergency_events", "shadow_records")


class PruneRefused(ValueError):
    """The cut-off is refused, or another prune holds the lock: nothing was done."""


@dataclass(slots=True)
class PruneReport:
    before: datetime
    dry_run: bool
    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    anchored: int = 0  # portfolios whose recorded history now starts at a later snapshot
    prune_id: int | None = None

    def lines(self) -> list[str]:
        """Per table, then the portfolios cut, then the summary as the last line."""
        out = [f"{t:<20} removed={self.removed[t]} kept={self.kept[t]}" for t in TABLES]
        out.append(f"portfolios anchored={self.anchored}")
        if self.dry_run:
            out.append("dry run: nothing was removed and no audit row was written")
        out.append(self.summary())
        return out

    def summary(self) -> str:
        before = self.before.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return (f"prune: before={before} removed={sum(self.removed.values())} "
                f"kept_for_replay={sum(self.kept.values())}")


async def prune(conn: asyncpg.Connection, before: datetime, *, keep_dedup_s: float,
                ttl_s: float, batch_max: int, by: str, reason: str,
                dry_run: bool = False) -> PruneReport:
    """Prune everything before ``before`` that replay of the rest does not need.

    ``ttl_s`` and ``batch_max`` are the workers' target time-to-live (``snapshot_ttl_s``) and
    largest batch (``batch_max_records``): the last ``batch_max`` records stored at or below
    each partition's progress stay, as a lost Kafka commit republishes them. Raises PruneRefused
    when ``before`` is in the future or inside the deduplication horizon (``keep_dedup_s``
    before now, by the database clock), or when another prune is running."""
    report = PruneReport(before, dry_run)
    tx = conn.transaction()
    await tx.start()
    try:
        await _start(conn, before, keep_dedup_s)
        report.prune_id = await conn.fetchval(q.AUDIT_ROW, by, reason, before, keep_dedup_s)
        for sql in (q.DECIDED_TABLE, q.FLOOR_TABLE):
            await conn.execute(sql)
        await conn.execute(q.FLOORS, batch_max)
        await _portfolios(conn, report, ttl_s)
        await _add(report, conn, q.DEAD_LETTERS_BATCH, before, q.BATCH, repeat=True)
        await _emergencies(conn, report)
        await _add(report, conn, q.MARKET, before)
        await _add(report, conn, q.PROCESSED)
        row = await conn.fetchrow(q.KEPT, before)
        report.kept.update({t: row[t] for t in TABLES})
        await conn.execute(q.AUDIT_COUNTS, report.prune_id, orjson.dumps(report.removed).decode(),
                           orjson.dumps(report.kept).decode())
    except BaseException:
        await tx.rollback()
        raise
    await (tx.rollback() if dry_run else tx.commit())
    if dry_run:
        report.prune_id = None
    return report


async def _start(conn: asyncpg.Connection, before: datetime, keep_dedup_s: float) -> None:
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK_KEY):
        raise PruneRefused("another prune is running (its advisory lock is held); "
                           "try again when it has finished")
    now = await conn.fetchval("SELECT now()")
    if before > now:
        raise PruneRefused(f"--before {before.isoformat()} is in the future "
                           f"(the database clock says {now.isoformat()})")
    horizon = now - timedelta(seconds=keep_dedup_s)
    if before > horizon:
        raise PruneRefused(f"--before {before.isoformat()} is inside the deduplication horizon "
                           f"(--keep-dedup {keep_dedup_s:g} s: nothing after "
                           f"{horizon.isoformat()} may go)")


async def _add(report: PruneReport, conn: asyncpg.Connection, sql: str, *args,
               repeat: bool = False) -> None:
    """Run a counting statement (each column a table), again while ``repeat`` and it removed
    something: bounded batches inside the one transaction."""
    while True:
        row = await conn.fetchrow(sql, *args)
        for table, count in row.items():
            report.removed[table] += count
        if not repeat or not any(row.values()):
            return


async def _portfolios(conn: asyncpg.Connection, report: PruneReport, ttl_s: float) -> None:
    ids = [r["portfolio_id"] for r in await conn.fetch(q.PORTFOLIOS, report.before)]
    until = report.before + timedelta(seconds=ttl_s) + _SLACK
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        events, loose = await _load_events(conn, chunk, report.before, until)
        firsts = {r["portfolio_id"]: r["seq"] for r in await conn.fetch(q.ANCHORS, chunk)}
        places, cuts = list(loose), []
        for portfolio_id in chunk:
            found = events.get(portfolio_id, [])
            first = firsts.get(portfolio_id, 1)
            anchor = choose_anchor([e for e, _ in found], first, ttl_s)
            if anchor is None or anchor.seq == first:
                continue
            places += [where for e, where in found if e.seq < anchor.seq and where is not None]
            cuts.append((portfolio_id, anchor.seq, anchor.version))
        await _remove(conn, report, places, cuts)


async def _load_events(conn: asyncpg.Connection, chunk: list[str], before: datetime,
                       until: datetime):
    """Per portfolio, its events up to ``until`` (event -> the decision's place, or None for a
    snapshot apply); and the removable places of decisions stored without a witness."""
    events: dict[str, list[tuple[Event, tuple[str, int, int] | None]]] = defaultdict(list)
    legs: dict[tuple[str, int, int], list[asyncpg.Record]] = defaultdict(list)
    for r in await conn.fetch(q.DECIDED, chunk, before, until):
        legs[(r["source_topic"], r["source_partition"], r["source_offset"])].append(r)
    loose = []
    for where, rows in legs.items():
        deletable = all(r["deletable"] for r in rows)
        witness = orjson.loads(rows[0]["witness"]) if rows[0]["witness"] else None
        if witness is None:  # decided before witnesses existed: outside any sequence
            if deletable:
                loose.append(where)
            continue
        targets = tuple((r["ticker"], r["action_id"]) for r in rows
                        if in_flight(r["action_type"], r["reason_codes"], r["delta_position"]))
        event = Decided(witness["seq"], witness["now"], targets, deletable)
        events[rows[0]["portfolio_id"]].append((event, where))
    for r in await conn.fetch(q.SNAPSHOTS, chunk, before, until):
        reflects = frozenset(orjson.loads(r["payload"]).get("reflects_action_ids") or ())
        apply = SnapshotApply(r["seq"], r["version"], reflects, r["candidate"], r["deletable"])
        events[r["portfolio_id"]].append((apply, None))
    return events, loose


async def _remove(conn: asyncpg.Connection, report: PruneReport,
                  places: list[tuple[str, int, int]], cuts: list[tuple[str, int, int]]) -> None:
    """Remove the decisions at ``places`` and the snapshot applies before each anchor in
    ``cuts`` (portfolio, seq, snapshot version), and record the anchors."""
    if places:
        await _add(report, conn, q.DECISIONS, *(list(c) for c in zip(*places, strict=True)))
    if cuts:
        portfolios, seqs, versions = (list(c) for c in zip(*cuts, strict=True))
        await _add(report, conn, q.SNAPSHOT_PREFIX, portfolios, seqs, report.before)
        await conn.execute(q.SET_ANCHORS, portfolios, seqs, versions, report.prune_id)
        report.anchored += len(cuts)


async def _emergencies(conn: asyncpg.Connection, report: PruneReport) -> None:
    """Per emergency topic, remove the versions before its anchor."""
    referenced = await conn.fetchval(q.EMERGENCY_REFERENCED)
    for r in await conn.fetch(q.EMERGENCY_LAST, report.before):
        bound = r["version"] if referenced is None else min(r["version"], referenced)
        rows = await conn.fetch(q.EMERGENCY_ROWS, r["source_topic"], bound, report.before)
        anchor = emergency_anchor([EmergencyRecord(x["version"], bytes(x["payload"]),
                                                   x["candidate"], x["deletable"]) for x in rows],
                                  bound)
        if anchor is not None:
            await _add(report, conn, q.EMERGENCY_PREFIX, r["source_topic"], anchor, report.before)
