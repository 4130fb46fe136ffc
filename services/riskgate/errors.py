"""One error family. The class says what happens to the message that caused it.

* ``Retryable*``: do not commit; back off and try the same records again.
* ``Poison*``: dead-letter the record with its reason and commit past it.
* ``PartitionHalted`` and ``PublishRefused``: stop the partition, store why, and wait for an
  operator (``riskgate partitions resume``).
* ``PublisherFenced`` and ``OwnershipLost``: this process no longer owns the partition; drop it
  and publish nothing more for it.

The worker's one table from error type to fate is ``riskgate.worker.fates.FATES``.
"""

from __future__ import annotations


class RiskgateError(Exception):
    """Base of every riskgate error."""


class RetryableError(RiskgateError):
    """A passing infrastructure fault: pause, back off, retry; commit nothing."""


class RetryableStateError(RetryableError):
    """PostgreSQL could not be read or written."""


class RetryablePublishError(RetryableError):
    """The Kafka transaction did not commit, or its outcome is unknown."""


class PublisherFenced(RiskgateError):
    """Another process now owns this partition's transactional id: we are the zombie. Retrying
    would mean fencing the rightful owner back, so the partition is dropped instead."""


class OwnershipLost(RiskgateError):
    """The partition was revoked (its ownership epoch moved on) before the batch was published:
    publish nothing; the next owner republishes what PostgreSQL stored."""


class PublishRefused(RiskgateError):
    """The broker refuses the batch for good (too large, not authorised): retrying the same
    records cannot succeed, so the partition halts with this reason for an operator."""


class PoisonMessage(RiskgateError):
    """A record that can never be processed: it goes to the DLQ with ``code`` and ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class PartitionHalted(RiskgateError):
    """The partition's stored progress contradicts Kafka; an operator must look before it resumes."""


class ConfigTopicInvalid(RiskgateError, RuntimeError):
    """risk.config is missing or has more than one partition: a deployment to fix, so the
    worker and the config writer refuse to start and nothing is written (CLI exit 2, HTTP 503).
    It lives here, not in riskgate.control, because the worker below the control plane raises it."""
