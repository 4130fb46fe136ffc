"""One table: what happens to a batch, per error type that its commit raised."""

from __future__ import annotations

from enum import Enum

from riskgate.errors import (
    OwnershipLost,
    PartitionHalted,
    PoisonMessage,
    PublisherFenced,
    PublishRefused,
    RetryableError,
    RetryablePublishError,
    RetryableStateError,
)


class Fate(Enum):
    RETRY = "back off and retry the same records; commit nothing"
    DEAD_LETTER = "dead-letter the record with its reason and commit past it"
    DROP = "stop deciding the partition here; publish nothing more for it"
    HALT = "stop the partition and wait for an operator"


# First match wins, most specific first. A PoisonMessage never reaches the loop: the handler
# turns it into a stored dead letter inside the batch, so it is listed for completeness.
FATES: tuple[tuple[type[BaseException], Fate], ...] = (
    (PoisonMessage, Fate.DEAD_LETTER),
    (PublisherFenced, Fate.DROP),       # a newer owner holds the transactional id
    (OwnershipLost, Fate.DROP),         # revoked while the batch was in flight
    (PublishRefused, Fate.HALT),        # too large, not authorised: no retry can help
    (PartitionHalted, Fate.HALT),       # stored halt, or PostgreSQL progress behind Kafka
    (RetryablePublishError, Fate.RETRY),  # after re-creating the producer and re-seeking
    (RetryableStateError, Fate.RETRY),
    (RetryableError, Fate.RETRY),
)


def fate_of(exc: BaseException) -> Fate:
    """The fate of the batch whose commit raised ``exc``. Anything unlisted is a bug: the
    records are kept and retried, never skipped."""
    for kind, fate in FATES:
        if isinstance(exc, kind):
            return fate
    return Fate.RETRY
