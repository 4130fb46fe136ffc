"""The statements of ``riskgate.replay.prune``. Each removing statement returns one count per
table it removed rows from, named after the table."""

from __future__ import annotations

BATCH = 5000  # dead letters per statement


def _below_floor(alias: str) -> str:
    """The row is below its partition's floor (``FLOORS``)."""
    return (f"EXISTS (SELECT 1 FROM prune_floor f WHERE f.topic = {alias}.source_topic "
            f"AND f.partition = {alias}.source_partition AND {alias}.source_offset < f.floor)")


def _same_place(a: str, b: str) -> str:
    return (f"{a}.source_topic = {b}.t AND {a}.source_partition = {b}.p "
            f"AND {a}.source_offset = {b}.o")


AUDIT_ROW = """
INSERT INTO audit_prunes (pruned_by, reason, before_time, keep_dedup_s) VALUES ($1, $2, $3, $4)
RETURNING id
"""
AUDIT_COUNTS = "UPDATE audit_prunes SET removed = $2::text::jsonb, kept = $3::text::jsonb WHERE id = $1"

# The decision ids whose actions were removed: their processed rows are looked at last.
DECIDED_TABLE = "CREATE TEMP TABLE prune_decided (decision_id text NOT NULL) ON COMMIT DROP"

# Per partition with stored progress and not halted, the offset of the $1-th last record stored
# at or below the progress ($1: the workers' largest batch). Rows below it are below any offset
# Kafka's committed offset can be at, even when the last batch's Kafka commit was lost (that
# batch is then republished from its stored rows). No floor (fewer records): nothing goes.
FLOOR_TABLE = ("CREATE TEMP TABLE prune_floor (topic text, partition integer, floor bigint) "
               "ON COMMIT DROP")
FLOORS = """
INSERT INTO prune_floor
SELECT g.topic, g.partition, (
       SELECT i.source_offset FROM input_records i
        WHERE i.source_topic = g.topic AND i.source_partition = g.partition
          AND i.source_offset <= g.last_offset
        ORDER BY i.source_offset DESC OFFSET $1 - 1 LIMIT 1)
  FROM partition_progress g WHERE g.halted IS NULL
"""

PORTFOLIOS = """
SELECT portfolio_id FROM snapshot_history WHERE recorded_at < $1
UNION SELECT portfolio_id FROM risk_actions WHERE "timestamp" < $1 ORDER BY 1
"""
ANCHORS = "SELECT portfolio_id, seq FROM replay_anchors WHERE portfolio_id = ANY($1::text[])"

DECIDED = f"""
SELECT a.portfolio_id, a.source_topic, a.source_partition, a.source_offset,
       a.action_id::text AS action_id, a.action_type, a.reason_codes, a.witness,
       t.ticker, t.delta_position,
       (a."timestamp" < $2 AND {_below_floor("a")}) AS deletable
  FROM risk_actions a LEFT JOIN target_positions t ON t.action_id = a.action_id
 WHERE a.portfolio_id = ANY($1::text[]) AND a."timestamp" < $3
 ORDER BY a.source_topic, a.source_partition, a.source_offset, a.seq
"""
SNAPSHOTS = """
SELECT portfolio_id, seq, version, payload, recorded_at <= $2 AS candidate,
       recorded_at < $2 AS deletable
  FROM snapshot_history WHERE portfolio_id = ANY($1::text[]) AND recorded_at < $3
"""

DECISIONS = f"""
WITH w AS (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) AS w(t, p, o)),
a AS (DELETE FROM risk_actions x USING w WHERE {_same_place("x", "w")} RETURNING x.decision_id),
k AS (INSERT INTO prune_decided (decision_id) SELECT decision_id FROM a),
tp AS (DELETE FROM target_positions x USING w WHERE {_same_place("x", "w")} RETURNING 1),
i AS (DELETE FROM input_records x USING w WHERE {_same_place("x", "w")} RETURNING 1),
sh AS (DELETE FROM shadow_records x USING w WHERE {_same_place("x", "w")} RETURNING 1)
SELECT (SELECT count(*) FROM a) AS risk_actions, (SELECT count(*) FROM tp) AS target_positions,
       (SELECT count(*) FROM i) AS input_records, (SELECT count(*) FROM sh) AS shadow_records
"""
SNAPSHOT_PREFIX = """
WITH s AS (DELETE FROM snapshot_history x USING unnest($1::text[], $2::bigint[]) AS c(p, seq)
            WHERE x.portfolio_id = c.p AND x.seq < c.seq AND x.recorded_at < $3 RETURNING 1)
SELECT count(*) AS snapshot_history FROM s
"""
SET_ANCHORS = """
INSERT INTO replay_anchors (portfolio_id, seq, snapshot_version, prune_id)
SELECT c.p, c.s, c.v, $4 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS c(p, s, v)
ON CONFLICT (portfolio_id) DO UPDATE SET seq = EXCLUDED.seq,
    snapshot_version = EXCLUDED.snapshot_version, prune_id = EXCLUDED.prune_id, updated_at = now()
"""

DEAD_LETTERS_BATCH = f"""
WITH d AS (
  DELETE FROM dead_letters l
   WHERE (l.source_topic, l.source_partition, l.source_offset) IN (
         SELECT x.source_topic, x.source_partition, x.source_offset FROM dead_letters x
          WHERE x.received_at < $1 AND {_below_floor("x")} LIMIT $2)
  RETURNING l.source_topic AS t, l.source_partition AS p, l.source_offset AS o),
i AS (DELETE FROM input_records x USING d WHERE {_same_place("x", "d")} RETURNING 1)
SELECT (SELECT count(*) FROM d) AS dead_letters, (SELECT count(*) FROM i) AS input_records
"""

# Emergency versions the remaining actions name (any emergency topic: actions do not say which).
EMERGENCY_REFERENCED = "SELECT min(emergency_version) FROM risk_actions WHERE emergency_version >= 0"
EMERGENCY_LAST = """
SELECT source_topic, max(version) AS version FROM emergency_events WHERE received_at <= $1
 GROUP BY 1 ORDER BY 1
"""
EMERGENCY_ROWS = """
SELECT version, payload, received_at <= $3 AS candidate, received_at < $3 AS deletable
  FROM emergency_events WHERE source_topic = $1 AND version <= $2 ORDER BY version, received_at
"""
EMERGENCY_PREFIX = """
WITH e AS (DELETE FROM emergency_events WHERE source_topic = $1 AND version < $2
             AND received_at < $3 RETURNING 1)
SELECT count(*) AS emergency_events FROM e
"""

# Per ticker, keep from the older of its last version at the cut-off and the oldest version a
# remaining witness names (witnesses do not say which market topic: any counts).
MARKET = """
WITH referenced AS (
  SELECT m.key AS ticker, min(m.value::bigint) AS version
    FROM risk_actions a
   CROSS JOIN LATERAL jsonb_each_text(
         convert_from(a.witness, 'UTF8')::jsonb -> 'market_versions') AS m
   WHERE a.witness IS NOT NULL AND m.value::bigint >= 0
   GROUP BY 1),
keep AS (
  SELECT h.source_topic, h.ticker, LEAST(max(h.version), min(r.version)) AS version
    FROM market_history h LEFT JOIN referenced r ON r.ticker = h.ticker
   WHERE h.recorded_at <= $1 GROUP BY 1, 2),
gone AS (
  DELETE FROM market_history m USING keep k
   WHERE m.source_topic = k.source_topic AND m.ticker = k.ticker AND m.version < k.version
     AND m.recorded_at < $1
  RETURNING 1)
SELECT count(*) AS market_history FROM gone
"""

# A removed decision's id stays while a remaining action (a DUPLICATE of it) names it, and a
# forced de-risk command's always: a worker re-issues the commands of the EMERGENCY in force,
# which can outlast any horizon, unless processed_decisions has them.
PROCESSED = """
WITH gone AS (
  DELETE FROM processed_decisions p USING (SELECT DISTINCT decision_id FROM prune_decided) c
   WHERE p.decision_id = c.decision_id AND NOT starts_with(p.decision_id, 'derisk:')
     AND NOT EXISTS (SELECT 1 FROM risk_actions a WHERE a.decision_id = p.decision_id)
  RETURNING 1)
SELECT count(*) AS processed_decisions FROM gone
"""

KEPT = """
SELECT
  (SELECT count(*) FROM risk_actions WHERE "timestamp" < $1) AS risk_actions,
  (SELECT count(*) FROM target_positions WHERE "timestamp" < $1) AS target_positions,
  (SELECT count(*) FROM input_records WHERE received_at < $1) AS input_records,
  (SELECT count(*) FROM dead_letters WHERE received_at < $1) AS dead_letters,
  (SELECT count(*) FROM processed_decisions p WHERE NOT EXISTS (
      SELECT 1 FROM risk_actions a WHERE a.action_id = p.action_id AND a."timestamp" >= $1)
  ) AS processed_decisions,
  (SELECT count(*) FROM snapshot_history WHERE recorded_at < $1) AS snapshot_history,
  (SELECT count(*) FROM market_history WHERE recorded_at < $1) AS market_history,
  (SELECT count(*) FROM risk_configs WHERE received_at < $1) AS risk_configs,
  (SELECT count(*) FROM emergency_events WHERE received_at < $1) AS emergency_events,
  (SELECT count(*) FROM shadow_records WHERE "timestamp" < $1) AS shadow_records
"""
