-- The live shadow profile (docs/shadow.md): one row per freshly decided proposal while a candidate
-- config is set, written in the batch's transaction like every other output, so that a Kafka
-- retry republishes the same bytes and `riskgate shadow report` summarises what was published.
CREATE TABLE IF NOT EXISTS shadow_records (
    source_topic      text        NOT NULL,
    source_partition  integer     NOT NULL,
    source_offset     bigint      NOT NULL,
    action_id         uuid        NOT NULL,  -- the live action's
    decision_id       text        NOT NULL,
    portfolio_id      text        NOT NULL,
    strategy_id       text        NOT NULL,
    ticker            text        NOT NULL,
    candidate         text        NOT NULL,
    live_action       text        NOT NULL,
    shadow_action     text        NOT NULL,
    differs           text[]      NOT NULL DEFAULT '{}',
    reason            text,                  -- why they differ (NULL when they agree)
    "timestamp"       timestamptz NOT NULL,
    payload           bytea       NOT NULL,  -- the exact record value published
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
ALTER TABLE shadow_records ALTER COLUMN payload SET COMPRESSION lz4;
CREATE INDEX IF NOT EXISTS shadow_records_time_idx ON shadow_records ("timestamp");
CREATE INDEX IF NOT EXISTS shadow_records_portfolio_time_idx
    ON shadow_records (portfolio_id, "timestamp");
