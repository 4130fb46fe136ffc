"""Prometheus metrics of the worker (module-level registry objects, no I/O at import)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter("riskgate_decisions_total", "Decisions processed", ["action_type"])
DEAD_LETTERS = Counter("riskgate_dead_letters_total", "Records dead-lettered", ["error_code"])
UNKNOWN_FIELDS = Counter("riskgate_unknown_fields_total", "Unknown fields ignored", ["topic"])
MISROUTED = Counter("riskgate_misrouted_decisions_total",
                   "Decisions on another partition than murmur2(key) picks (still decided)", ["topic"])
REPUBLISHED = Counter("riskgate_republished_total", "Stored outputs republished after a replay")
BATCH_SECONDS = Histogram("riskgate_batch_seconds", "Time to commit one batch (PostgreSQL + Kafka)")
RETRIES = Counter("riskgate_retries_total", "Batches retried after an infrastructure fault", ["kind"])
CONFIG_REFUSED = Counter("riskgate_config_refused_total", "Config events refused as inconsistent")
GLOBAL_BAD = Counter("riskgate_global_input_invalid_total", "Invalid records on global inputs", ["topic"])
HALTED_PARTITIONS = Gauge("riskgate_halted_partitions", "Partitions halted for operator attention")
READY = Gauge("riskgate_ready", "1 when the worker is ready")
