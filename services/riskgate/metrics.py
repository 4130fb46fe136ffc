"""Prometheus metrics of the worker (module-level registry objects, no I/O at import)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

# Decision metrics are raised once the batch's Kafka transaction committed (worker/decision_metrics.py).
DECISIONS = Counter("riskgate_decisions_total",
                    "Committed risk actions, one increment per reason code (reason 'none' when "
                    "none bound)", ["action_type", "reason", "profile"])
RISK_ACTIONS = Counter("riskgate_risk_actions_total", "Committed risk actions, one each",
                       ["action_type", "profile"])
TRADES_DENIED = Counter("riskgate_trades_denied_total",
                        "Committed REJECTED actions, one increment per reason code",
                        ["profile", "reason"])
REDRIVES = Counter("riskgate_redrives_total", "Dead letters re-published by riskgate dlq redrive",
                   ["error_code"])
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
# The control plane (docs/control-plane.md).
CONFIG_VERSION = Gauge("riskgate_config_version", "The config version this worker has applied",
                       ["worker"])
ACTIVE_PROFILE = Gauge("riskgate_active_profile",
                       "1 for the base profile each configured scope names (global always)",
                       ["scope", "profile"])
CONFIG_CHANGES = Counter("riskgate_config_changes_total",
                         "Config records published by the control plane, by principal and route",
                         ["actor", "via"])
API_AUTH_FAILURES = Counter(
    "riskgate_api_auth_failures_total",
    "HTTP API requests refused: no key, unknown key, role too low, keys unusable", ["reason"])
CONSUMER_LAG = Gauge("riskgate_consumer_lag",
                     "Records on an owned decisions partition not yet decided: its end offset at "
                     "the last fetch minus the next offset to decide", ["partition"])
EMERGENCY_LEVEL = Gauge("riskgate_emergency_level",
                        "The emergency level in force: 0 NORMAL, 1 ELEVATED, 2 EMERGENCY")
EMERGENCY_LEVELS = {"NORMAL": 0, "ELEVATED": 1, "EMERGENCY": 2}
END_TO_END_SECONDS = Histogram(
    "riskgate_end_to_end_seconds",
    "Per committed batch: the Kafka commit's time minus the oldest record's Kafka timestamp",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0))


def observe_batch_age(now: float, timestamps_ms: Iterable[int]) -> None:
    """Record ``now`` minus the oldest Kafka timestamp of a committed batch; records without a
    timestamp (-1) are left out, and clock skew never makes an age negative."""
    oldest = min((t for t in timestamps_ms if t >= 0), default=None)
    if oldest is not None:
        END_TO_END_SECONDS.observe(max(0.0, now - oldest / 1000.0))


def forget_partition(partition: int) -> None:
    """Drop the per-partition series of a partition this worker no longer owns."""
    for gauge in (PARTITION_HALTED, PARTITION_STUCK, CONSUMER_LAG):
        with contextlib.suppress(KeyError):
            gauge.remove(str(partition))
