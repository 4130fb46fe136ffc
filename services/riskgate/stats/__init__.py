"""Override statistics for the meta-orchestrator: ``riskgate stats`` counts risk.actions per
strategy, action type and reason code in tumbling UTC windows and publishes each window on
risk.override_stats (docs/override-stats.md)."""
