"""The commit step of one owned input partition: the written exactly-once contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka.structs import TopicPartition

from riskgate import metrics
from riskgate.errors import OwnershipLost, PartitionHalted
from riskgate.records import InRecord, OutRecord
from riskgate.worker.decision_metrics import count_committed
from riskgate.worker.ports import Publisher, StateStore


class PartitionCommit:
    """Commits batches of one input partition for one ownership epoch.

    ``commit`` runs, in order, and a crash at each point loses nothing and duplicates nothing:

    0. Drop the records below the offset floor: the lowest offset still to publish in this
       epoch (the committed offset fetched at assignment or after a resync, then the end of
       every committed batch). A commit that went through although its answer was lost moves
       the re-fetched offset, and with it the floor, past the batch: it is never published
       twice.
    1. Lock the partition's progress row in PostgreSQL (``partition_progress``). Two owners
       of one partition (a zombie and its successor) serialise here. A stored halt stops
       here too.
    2. For each record at or below the stored progress, load its stored outputs. They were
       computed before a crash or a lost Kafka commit and are republished byte for byte,
       never recomputed, so a replay cannot change an answer.
    3. For each record above it: decode (a bad record becomes a stored dead letter), lock the
       portfolio rows in id order, drop duplicates by ``processed_decisions``, run the core,
       and write the raw records (``input_records``), the new pending targets and portfolio
       sequences, ``risk_actions`` with their witnesses, ``target_positions``,
       ``processed_decisions`` and, with a shadow config, ``shadow_records``; then move the
       progress to the last offset. Shadow records are outputs like the others: step 2
       republishes them too, and step 5 publishes them in the same transaction.
    4. COMMIT in PostgreSQL. A crash before this point leaves PostgreSQL untouched and
       Kafka's offset where it was: the batch is read and computed again.
    5. Check the ownership epoch: a partition revoked meanwhile publishes nothing (its next
       owner republishes the stored outputs by step 2).
    6. In one Kafka transaction on the partition's own producer, publish the outputs and the
       consumer offset ``last + 1``, then commit. A crash before the Kafka commit aborts the
       transaction (the next owner's ``init_transactions`` does it); the records are read
       again, found at or below the progress, and step 2 republishes the same bytes. A crash
       after it leaves nothing to redo. ``read_committed`` readers see each output once.
       (With librdkafka the producer is the worker's one KIP-447 producer, the transaction
       may carry other partitions' batches too, and a zombie is fenced by its stale group
       generation; docs/kafka-clients.md.)
    7. Raise the floor to ``last + 1`` and count the decisions (once committed, never before).

    The invariants that keep this exactly-once, with the loop around it
    (``pipeline.PartitionPipeline``, ``app.DecisionLoop``):

    * per partition, at most one PostgreSQL transaction and one Kafka transaction are in
      flight: one pipeline task per partition runs its commits one after another, and a new
      epoch's pipeline starts only after the old one has ended;
    * Kafka transactions commit in offset order: batches are taken in offset order, a failed
      one is retried before anything after it;
    * a revocation waits only for the revoked partitions' in-flight commits;
    * the ownership epoch is checked before publishing (step 5), and the floor lives in this
      object, one per epoch, so a late batch of an old epoch moves no floor of the new one;
    * a partition revoked mid-commit and assigned back starts a new epoch from the committed
      offset: what was stored is republished (step 2), what was published is below the floor.
    """

    def __init__(self, tp: TopicPartition, store: StateStore, publisher: Publisher | None,
                 clock: Callable[[], float], floor: int = 0, epoch: int = 0,
                 owns: Callable[[TopicPartition, int], bool] = lambda tp, epoch: True,
                 actions_topic: str | None = None) -> None:
        self.tp = tp
        self.epoch = epoch
        self.floor = floor
        self._store = store
        self._publisher = publisher  # None: stop after step 4 (tools, and the crash tests)
        self._clock = clock
        self._owns = owns
        self._actions_topic = actions_topic
        # The last batch whose Kafka outcome is unknown: (last offset, its outputs).
        self._unconfirmed: tuple[int, list[OutRecord]] | None = None

    async def commit(self, batch: Sequence[InRecord]) -> list[OutRecord]:
        """Steps 0-7 above; returns the outputs published (or, without a publisher, stored)."""
        # Step 0: the floor.
        records = [r for r in batch if r.offset >= self.floor]
        if not records:
            return []
        tp, last = self.tp, records[-1].offset
        # Step 1: lock the progress row (the transaction commits on leaving the block: Step 4).
        async with self._store.transaction(tp.topic, tp.partition) as tx:
            progress, halted = await tx.lock_progress()
            if halted:
                raise PartitionHalted(halted)
            # Step 2: stored outputs for the offsets at or below the progress.
            replay = [r for r in records if r.offset <= progress]
            outputs = await tx.stored_outputs(replay) if replay else []
            metrics.REPUBLISHED.inc(len(outputs))
            # Step 3: decide and store the rest, then move the progress.
            fresh = [r for r in records if r.offset > progress]
            if fresh:
                outputs.extend(await tx.compute(fresh, self._clock()))
                await tx.set_progress(fresh[-1].offset)
        # Step 4 is behind us: PostgreSQL committed.
        if self._publisher is None:
            return outputs
        # Step 5: still ours?
        if not self._owns(tp, self.epoch):
            raise OwnershipLost(f"partition {tp.partition} was revoked (epoch {self.epoch})")
        # Step 6: one Kafka transaction with the outputs and the offset.
        self._unconfirmed = (last, outputs)
        await self._publisher.publish(outputs, tp, last + 1)
        self._unconfirmed = None
        # Step 7: the floor, and the count.
        self.floor = last + 1
        if self._actions_topic is not None:
            count_committed(outputs, self._actions_topic)
        return outputs

    def resynced(self, committed: int) -> None:
        """After a resync: the floor is Kafka's committed offset. A batch whose outcome was
        unknown and that the offset shows committed is counted now, once."""
        unconfirmed, self._unconfirmed = self._unconfirmed, None
        self.floor = committed
        if unconfirmed is not None and committed > unconfirmed[0] and self._actions_topic is not None:
            count_committed(unconfirmed[1], self._actions_topic)
