-- What replay needs (docs/replay.md): every input record as received, every applied version of
-- every compacted input, and a witness per action of exactly what it saw.

-- The raw bytes of every record of the decisions topic (decisions, forced de-risk commands and
-- dead letters alike), written in the batch's transaction: Kafka retention never limits an audit.
CREATE TABLE IF NOT EXISTS input_records (
    source_topic      text    NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint  NOT NULL,
    key               bytea,
    value             bytea,
    received_at       timestamptz NOT NULL,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
ALTER TABLE input_records ALTER COLUMN value SET COMPRESSION lz4;

-- Append-only histories, keyed by id and version: re-applying a version adds nothing.
CREATE TABLE IF NOT EXISTS snapshot_history (
    portfolio_id  text   NOT NULL,
    version       bigint NOT NULL,
    seq           bigint NOT NULL,  -- the portfolio's sequence number this apply took
    payload       jsonb  NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (portfolio_id, version)
);
CREATE TABLE IF NOT EXISTS market_history (
    ticker       text   NOT NULL,
    version      bigint NOT NULL,
    payload      jsonb  NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticker, version)
);
ALTER TABLE snapshot_history ALTER COLUMN payload SET COMPRESSION lz4;

-- The per-portfolio sequence: advanced under the row lock by every decision and every
-- snapshot apply, so the order of snapshots against decisions is recorded.
ALTER TABLE portfolio_state ADD COLUMN IF NOT EXISTS seq bigint NOT NULL DEFAULT 0;

-- What each action saw (portfolio sequence, exact processing time, market versions of the book,
-- config version and limits digest, emergency version, settings digest, build identity).
ALTER TABLE risk_actions ADD COLUMN IF NOT EXISTS witness jsonb;
ALTER TABLE risk_actions ALTER COLUMN witness SET COMPRESSION lz4;
