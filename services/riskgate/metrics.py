"""Prometheus metrics of the worker (module-level registry objects, no I/O at import)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter("riskgate_decisions_total", "Decisions processed", ["action_type"])
DEAD_LETTERS = Counter("riskgate_dead_letters_total", "Records dead-lettered", ["error_code"])
DEAD_LETTERS_TRUNCATED = Counter(
    "riskgate_dead_letters_truncated_total", "Dead letters whose value_b64 was cut to fit the topic")
UNKNOWN_FIELDS = Counter("riskgate_unknown_fields_total", "Unknown fields ignored", ["topic"])
MISROUTED = Counter("riskgate_misrouted_decisions_total",
                   "Decisions on another partition than murmur2(key) picks (still decided)", ["topic"])
REPUBLISHED = Counter("riskgate_republished_total", "Stored outputs republished after a replay")
BATCH_SECONDS = Histogram("riskgate_batch_seconds", "Time to commit one batch (PostgreSQL + Kafka)")
RETRIES = Counter("riskgate_retries_total", "Batches retried after an infrastructure fault", ["kind"])
CONFIG_REFUSED = Counter("riskgate_config_refused_total", "Config events refused as inconsistent")
GLOBAL_BAD = Counter("riskgate_global_input_invalid_total", "Invalid records on global inputs", ["topic"])
HALTED_PARTITIONS = Gauge("riskgate_halted_partitions", "Partitions halted for operator attention")
PARTITION_HALTED = Gauge("riskgate_partition_halted", "1 while this owned partition is halted",
                         ["partition"])
PARTITION_STUCK = Gauge("riskgate_partition_stuck", "1 while this partition's publishes are failing",
                        ["partition"])
PUBLISH_FAILURES = Counter("riskgate_publish_failures_total",
                           "Failed Kafka transactions, retryable or refused by the broker", ["kind"])
SHADOW_DECISIONS = Counter("riskgate_shadow_decisions_total",
                           "Decisions evaluated under the shadow candidate config too")
SHADOW_MISMATCHES = Counter(
    "riskgate_shadow_mismatches_total", "Shadow outcomes that differ from the live one",
    ["live_action", "shadow_action", "reason"])
SHADOW_SKIPPED = Counter("riskgate_shadow_skipped_total",
                         "Decisions without a shadow record: candidate inconsistent with the "
                         "live config, or the shadow evaluation failed", ["reason"])
READY = Gauge("riskgate_ready", "1 when the worker is ready")


def forget_partition(partition: int) -> None:
    """Drop the per-partition series of a partition this worker no longer owns."""
    for gauge in (PARTITION_HALTED, PARTITION_STUCK):
        with contextlib.suppress(KeyError):
            gauge.remove(str(partition))
