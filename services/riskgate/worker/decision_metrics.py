"""Decision metrics, counted once: when the Kafka transaction that carries the risk action commits.

A batch's PostgreSQL transaction can be retried (the handler then runs again), and a batch whose
Kafka commit was lost is republished from its stored rows. Counting in either place would count
a decision twice or never. So the loop counts after ``commit_transaction`` returned, from the
risk actions that transaction carried, fresh and republished alike:

- a retried PostgreSQL transaction counted nothing, because nothing was published;
- a lost Kafka commit counted nothing; the republish that follows is the first committed
  publication of those actions, and counts them;
- a commit that went through although the client saw an error is counted when the re-fetched
  committed offset shows the batch was taken (``PartitionCommit.resynced``).

So each risk action on ``risk.actions`` is counted once across the group, as a ``read_committed``
reader sees it, except for a worker killed between its commit and the count (its counters die
with it) and a fenced zombie's commit seen by the heir as its own (both rare).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
import structlog

from riskgate import metrics
from riskgate.records import OutRecord

Labels = tuple[str, tuple[str, ...], str]
"""(action_type, reason codes, profile) of one risk action."""

NO_REASON = "none"
log = structlog.get_logger("riskgate.metrics")


@dataclass(frozen=True, slots=True, eq=False)
class ActionRecord(OutRecord):
    """A freshly decided risk action to publish, with the labels it is counted under.

    It equals the plain ``OutRecord`` with the same topic, key and value (what storage rebuilds),
    so a republished batch compares equal to the one first computed."""

    labels: Labels

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutRecord):
            return NotImplemented
        return (self.topic, self.key, self.value) == (other.topic, other.key, other.value)

    def __hash__(self) -> int:
        return hash((self.topic, self.key, self.value))


def _stored_labels(value: bytes) -> Labels:
    """The labels of an action rebuilt from storage (only after a lost commit: parsing costs
    about 30 µs, so the hot path carries its labels instead)."""
    action = orjson.loads(value)
    return (action["action_type"], tuple(action.get("reason_codes") or ()),
            action.get("profile") or NO_REASON)


def count_committed(records: Iterable[OutRecord], actions_topic: str) -> None:
    """Count the risk actions of one committed Kafka transaction: aggregated per label set, then
    one ``inc`` per set. It never raises: the batch is committed, and a failing count must not
    make the loop treat it as failed (it would seek back and publish it again)."""
    try:
        _count(records, actions_topic)
    except Exception:  # noqa: BLE001 - see above; say so and go on
        log.exception("decision_count_failed")


def _count(records: Iterable[OutRecord], actions_topic: str) -> None:
    tally: Counter[Labels] = Counter()
    for r in records:
        if r.topic != actions_topic:
            continue
        tally[r.labels if isinstance(r, ActionRecord) else _stored_labels(r.value)] += 1
    for (action_type, reasons, profile), n in tally.items():
        metrics.RISK_ACTIONS.labels(action_type, profile).inc(n)
        for reason in reasons or (NO_REASON,):
            metrics.DECISIONS.labels(action_type, reason, profile).inc(n)
            if action_type == "REJECTED":
                metrics.TRADES_DENIED.labels(profile, reason).inc(n)
