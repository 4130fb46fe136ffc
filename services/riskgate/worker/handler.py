"""Turn one batch of fresh records into outputs and rows: sync, no I/O, one bad record never
stops the others.

Decoding happens first (so the store knows which portfolio rows to lock), then ``handle``
runs every record in offset order against the locked rows and the global state.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import NamedTuple

import orjson
import structlog
from aiokafka.partitioner import murmur2

from riskgate import metrics
from riskgate.contracts.base import unknown_fields
from riskgate.contracts.decode import decode_proposed, encode
from riskgate.contracts.inputs import ForcedDeriskCommand, ProposedDecision
from riskgate.contracts.outputs import DeadLetter, dlq_key
from riskgate.errors import PoisonMessage
from riskgate.kafka.limits import OutputLimits
from riskgate.records import InRecord, OutRecord
from riskgate.settings import Settings
from riskgate.store.shadow import ShadowRow
from riskgate.store.state import ActionRow, DeadLetterRow, PortfolioRow, TargetRow
from riskgate.worker import outputs as out
from riskgate.worker.globals import GlobalState
from riskgate.worker.shadow import Shadow
from riskgate.worker.witness import WitnessBuilder

log = structlog.get_logger("riskgate.handler")


class Decoded(NamedTuple):
    """One record as decoded: its message, or why it is poison (a tuple: one per record)."""

    record: InRecord
    message: ProposedDecision | ForcedDeriskCommand | None
    poison: PoisonMessage | None


@dataclass(slots=True)
class HandlerResult:
    outputs: list[OutRecord] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    targets: list[TargetRow] = field(default_factory=list)
    dead: list[DeadLetterRow] = field(default_factory=list)
    processed: list[tuple[str, str, int, int]] = field(default_factory=list)
    shadows: list[ShadowRow] = field(default_factory=list)


class DecisionHandler:
    """Decides a batch of one partition against locked portfolio rows."""

    def __init__(self, settings: Settings, world: GlobalState,
                 partition_count: Callable[[str], int | None] | None = None,
                 limits: OutputLimits | None = None, shadow: Shadow | None = None) -> None:
        """``partition_count`` gives a topic's real partition count (the consumer's metadata),
        or None while it is unknown; then ``settings.partitions`` stands in. ``shadow`` runs a
        candidate config beside the live one (docs/shadow.md)."""
        t = settings.topics
        self.out_topics = (t.actions, t.targets, t.dlq)
        self.shadow_topic = t.shadow  # stored shadow records are republished even with it off
        self._shadow = shadow
        self._max_bytes = settings.max_message_bytes
        self._world = world
        self._limits = limits  # None: the envelope is not cut (in-memory use, no broker)
        self._partition_count = partition_count
        self._configured_partitions = settings.partitions
        self._misrouted_warned: set[str] = set()

    def decode(self, record: InRecord) -> Decoded:
        try:
            message = decode_proposed(record.value, max_bytes=self._max_bytes)
            key = record.key.decode("utf-8", "replace") if record.key is not None else None
            if key != message.portfolio_id:
                raise PoisonMessage("KEY_MISMATCH", f"record key {key!r} is not portfolio_id "
                                                    f"{message.portfolio_id!r}")
            extra = unknown_fields(message)
            if extra:
                metrics.UNKNOWN_FIELDS.labels(record.topic).inc(len(extra))
            self._check_partition(record, message.portfolio_id)
            return Decoded(record, message, None)
        except PoisonMessage as exc:
            return Decoded(record, None, exc)

    def _check_partition(self, record: InRecord, portfolio_id: str) -> None:
        """Count (and warn once per portfolio) a decision that is not on murmur2(key)'s partition.

        It is still decided: it is valid, only its producer's partitioner is not the contract's.
        But its portfolio's decisions are then split over two partitions, unordered, and the
        forced de-risk commands (written with murmur2) can overtake it; see docs/contracts.md."""
        live = self._partition_count(record.topic) if self._partition_count is not None else None
        n = live or self._configured_partitions
        if record.key is None or record.partition == expected_partition(record.key, n):
            return
        metrics.MISROUTED.labels(record.topic).inc()
        if portfolio_id not in self._misrouted_warned:
            self._misrouted_warned.add(portfolio_id)
            log.warning("decision_misrouted", portfolio_id=portfolio_id, partition=record.partition,
                        expected=expected_partition(record.key, n), partitions=n,
                        hint="producers must key by portfolio_id with the murmur2 partitioner")

    @staticmethod
    def portfolio_ids(items: list[Decoded]) -> list[str]:
        return sorted({d.message.portfolio_id for d in items if d.message is not None})

    @staticmethod
    def decision_ids(items: list[Decoded]) -> list[str]:
        return [d.message.decision_id for d in items if d.message is not None]

    def batch_context(self, portfolios: dict[str, PortfolioRow], now: float) -> out.BatchContext:
        """The per-batch caches one ``handle`` call builds (replay keeps one across the calls
        that re-decide one live batch, so the book's running sums follow the same order)."""
        return out.BatchContext(now=now, now_text=_rfc3339(now), world=self._world,
                                portfolios=portfolios)

    def handle(self, items: list[Decoded], portfolios: dict[str, PortfolioRow], seen: set[str],
               now: float, ctx: out.BatchContext | None = None) -> HandlerResult:
        _freeze_start_up_heap()
        return self._handle(items, portfolios, seen, now, ctx)

    def _handle(self, items: list[Decoded], portfolios: dict[str, PortfolioRow], seen: set[str],
                now: float, ctx: out.BatchContext | None) -> HandlerResult:
        result = HandlerResult()
        if ctx is None:
            ctx = self.batch_context(portfolios, now)
        seen = set(seen)
        now_dt = datetime.fromtimestamp(now, UTC)
        witnesses = WitnessBuilder(self._world, now)
        shadow = self._shadow.open(ctx, result) if self._shadow is not None else None
        for item in items:
            if item.poison is not None:
                self._dead_letter(item.record, item.poison, ctx, result)
                continue
            message = item.message
            assert message is not None
            witness = self._witness(message, portfolios[message.portfolio_id], ctx, witnesses)
            if message.decision_id in seen:
                legs = [out.duplicate(message, item.record, ctx)]
            else:
                legs = self._decide(message, item.record, ctx, shadow)
                seen.add(message.decision_id)
                first = legs[0].action_id
                result.processed.append((message.decision_id, first, item.record.partition,
                                         item.record.offset))
            for seq, leg in enumerate(legs):
                out.emit(leg, item.record, seq, self.out_topics, result, now_dt, witness)
        return result

    @staticmethod
    def _witness(message, row: PortfolioRow, ctx: out.BatchContext,
                 witnesses: WitnessBuilder) -> bytes:
        """Advance the portfolio's sequence (under its row lock) and record what this decision
        sees, before it runs."""
        row.seq += 1
        row.dirty = True
        try:
            env = ctx.env(message.portfolio_id, message.strategy_id)
            return witnesses.witness(row, ctx.book(row).positions, getattr(message, "ticker", None),
                                     env, message.strategy_id)
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the batch: say so
            log.exception("witness_failed", decision_id=message.decision_id)
            return orjson.dumps({"seq": row.seq, "now": ctx.now,
                                 "error": f"{type(exc).__name__}: {exc}"})

    def _decide(self, message, record: InRecord, ctx: out.BatchContext, shadow) -> list[out.Leg]:
        # A forced de-risk command carries the emergency SOP's cut, not a config's answer to a
        # proposal: it is not shadowed (docs/shadow.md).
        try:
            if isinstance(message, ForcedDeriskCommand):
                return out.forced_derisk(message, record, ctx)
            return [out.proposal(message, record, ctx, shadow)]
        except Exception as exc:  # noqa: BLE001 - a bug must reject this decision, not stop the batch
            log.exception("decision_failed", decision_id=message.decision_id)
            if shadow is not None:
                shadow.discard(message.decision_id)
            return [out.internal_error(message, record, ctx, exc)]

    def _dead_letter(self, record: InRecord, poison: PoisonMessage, ctx: out.BatchContext,
                     result: HandlerResult) -> None:
        """Dead-letter ``record``: an envelope that fits the DLQ topic, and the full bytes stored."""
        metrics.DEAD_LETTERS.labels(poison.code).inc()
        received = datetime.fromtimestamp(ctx.now, UTC)
        key = dlq_key(record.key)
        budget = self._limits.dlq_value_budget(key) if self._limits is not None else None
        letter = DeadLetter.for_record(
            code=poison.code, reason=poison.reason, source_topic=record.topic,
            partition=record.partition, offset=record.offset, key=record.key, value=record.value,
            received_at=received, max_bytes=budget)
        if letter.value_truncated:
            metrics.DEAD_LETTERS_TRUNCATED.inc()
        payload = encode(letter)
        result.outputs.append(OutRecord(self.out_topics[2], key, payload))
        result.dead.append(DeadLetterRow(
            record.topic, record.partition, record.offset, poison.code, poison.reason,
            received, record.key, payload, record.value, letter.value_sha256,
        ))


@cache
def _freeze_start_up_heap() -> None:
    """Once per process, at its first batch: what start-up left alive (modules, clients, the
    inputs read) is moved out of the cyclic collector's reach (gc.freeze), so the collections
    the batches trigger no longer re-scan it. The collector itself stays on: a batch creates
    no cycles, and the live objects it builds are what the young collections look at."""
    gc.collect()
    gc.freeze()


@lru_cache(maxsize=65_536)
def expected_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java, aiokafka; murmur2) picks for ``key``.

    Cached: aiokafka's murmur2 is pure Python, and the same portfolios come again and again."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
