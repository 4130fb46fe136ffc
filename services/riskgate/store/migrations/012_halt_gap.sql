-- A partition halted because its stored progress was behind Kafka's committed offset keeps that
-- offset here. `riskgate partitions resume` accepts the gap below it as lost: it moves the
-- stored progress up to just below it, so that the next owner after a rebalance does not find
-- the same gap and halt the partition again (docs/runbook.md, "Restoring PostgreSQL").
ALTER TABLE partition_progress ADD COLUMN IF NOT EXISTS halted_behind bigint;
