"""Prometheus metrics of ``riskgate stats`` (module-level registry objects, no I/O at import)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ACTIONS = Counter("riskgate_stats_actions_total", "Risk actions read from risk.actions")
TOO_LATE = Counter("riskgate_stats_too_late_total",
                   "Actions written after their window's end + grace, so never counted",
                   ["window_s"])
UNDECODABLE = Counter("riskgate_stats_undecodable_total",
                      "Records on risk.actions the statistics cannot read (skipped)")
EMITTED = Counter("riskgate_stats_emitted_total",
                  "Committed window revisions on risk.override_stats", ["window_s", "kind"])
CHECKPOINTS = Counter("riskgate_stats_checkpoints_total", "Committed checkpoint transactions")
SESSIONS = Counter("riskgate_stats_sessions_total",
                   "Times the state was rebuilt from the changelog and the committed offsets")
OPEN_WINDOWS = Gauge("riskgate_stats_open_windows", "Windows not yet final")
WATERMARK_LAG = Gauge("riskgate_stats_watermark_lag_seconds",
                      "Processing time minus the watermark of risk.actions")
