"""How large the worker's output records and batches may be, read from the broker at start-up.

A record the broker refuses as too large would fail its transaction on every retry and jam the
partition, so every output must fit. The limits come from each output topic's effective
``max.message.bytes`` (its own setting, else the broker's default) and the producer's
``max_request_size``, whichever is smaller. aiokafka never splits a batch the broker refuses, so
the producer's batch size is kept at or below the smallest of them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from riskgate.kafka.clients import kafka_admin
from riskgate.settings import Settings

_MAX_MESSAGE_BYTES = "max.message.bytes"
_BATCH_BYTES_CEILING = 256 * 1024  # bigger batches buy no throughput here
_LENGTH_SLACK = 8  # the value-length varint: estimated at 1 byte, up to 5
MIN_OUTPUT_BYTES = 128 * 1024
"""The smallest output topic limit the worker accepts: a dead letter needs room for its reason
and a useful prefix of the value, and a risk action for its details."""


class TopicConfigError(RuntimeError):
    """A topic's configuration could not be read."""


class OutputLimitTooSmall(ValueError):
    """An output topic's limit is below what riskgate needs."""


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The largest record batch each output may take, in bytes, as the broker counts them."""

    dlq_bytes: int
    smallest_bytes: int

    def check(self) -> None:
        """Refuse limits too small to publish every output (a setting to fix, not to retry)."""
        if self.smallest_bytes < MIN_OUTPUT_BYTES:
            raise OutputLimitTooSmall(
                f"an output topic accepts only {self.smallest_bytes} bytes per batch (its "
                f"max.message.bytes, or publish_max_request_bytes); riskgate needs at least "
                f"{MIN_OUTPUT_BYTES}")

    @property
    def batch_bytes(self) -> int:
        """The producer's batch size: a full batch of small records still fits every topic."""
        return min(_BATCH_BYTES_CEILING, self.smallest_bytes)

    def dlq_value_budget(self, key: bytes | None) -> int:
        """The largest envelope that fits the DLQ topic in a batch of its own under ``key``."""
        overhead = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"", [])
        return self.dlq_bytes - overhead - _LENGTH_SLACK


def output_limits(topic_limits: dict[str, int], dlq_topic: str, max_request_bytes: int) -> OutputLimits:
    """Combine the topics' own limits with the producer's request limit."""
    capped = {name: min(limit, max_request_bytes) for name, limit in topic_limits.items()}
    return OutputLimits(dlq_bytes=capped[dlq_topic], smallest_bytes=min(capped.values()))


async def read_topic_limits(settings: Settings, names: list[str]) -> dict[str, int]:
    """Each topic's effective ``max.message.bytes``."""
    admin = kafka_admin(settings, request_timeout_ms=10_000)
    await admin.start()
    try:
        responses = await admin.describe_configs([
            ConfigResource(ConfigResourceType.TOPIC, name, {_MAX_MESSAGE_BYTES: None}) for name in names
        ])
    finally:
        await admin.close()
    limits: dict[str, int] = {}
    for response in responses:
        for error_code, error_message, _type, name, entries in response.resources:
            if error_code != 0:
                raise TopicConfigError(f"topic {name!r}: describe configs failed with error "
                                       f"{error_code} {error_message or ''}".rstrip())
            for entry in entries:
                if entry[0] == _MAX_MESSAGE_BYTES:
                    limits[name] = int(entry[1])
    missing = sorted(set(names) - set(limits))
    if missing:
        raise TopicConfigError(f"no max.message.bytes reported for topics {missing}")
    return limits


async def read_output_limits(settings: Settings) -> OutputLimits:
    t = settings.topics
    names = [t.actions, t.targets, t.dlq]
    return output_limits(await read_topic_limits(settings, names), t.dlq,
                         settings.publish_max_request_bytes)
