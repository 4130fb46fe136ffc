-- Per-portfolio state: the latest snapshot plus the targets riskgate issued after it.
CREATE TABLE IF NOT EXISTS portfolio_state (
    portfolio_id      text PRIMARY KEY,
    snapshot_version  bigint      NOT NULL DEFAULT -1,
    snapshot_as_of    double precision,          -- epoch seconds
    equity            double precision,
    nav               double precision,
    pnl_today         double precision,
    peak_equity       double precision,
    positions         jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- ticker -> snapshot quantity
    pending           jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- ticker -> [quantity, action_id, issued_at]
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per input partition: the highest offset whose outputs are stored below.
CREATE TABLE IF NOT EXISTS partition_progress (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    last_offset  bigint  NOT NULL DEFAULT -1,
    halted       text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- The dedup key: a decision_id is processed once.
CREATE TABLE IF NOT EXISTS processed_decisions (
    decision_id  text PRIMARY KEY,
    action_id    uuid    NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint  NOT NULL
);

CREATE TABLE IF NOT EXISTS risk_actions (
    action_id          uuid PRIMARY KEY,
    decision_id        text        NOT NULL,
    portfolio_id       text        NOT NULL,
    strategy_id        text        NOT NULL,
    ticker             text        NOT NULL,
    action_type        text        NOT NULL,
    reason_codes       text[]      NOT NULL DEFAULT '{}',
    "timestamp"        timestamptz NOT NULL,
    details_json       jsonb       NOT NULL,
    profile            text,
    config_version     bigint      NOT NULL DEFAULT -1,
    snapshot_version   bigint      NOT NULL DEFAULT -1,
    market_version     bigint      NOT NULL DEFAULT -1,
    emergency_version  bigint      NOT NULL DEFAULT -1,
    source_topic       text        NOT NULL,
    source_partition   integer     NOT NULL,
    source_offset      bigint      NOT NULL,
    seq                integer     NOT NULL DEFAULT 0,   -- order among one record's outputs
    payload            bytea       NOT NULL               -- the exact record value published
);
CREATE INDEX IF NOT EXISTS risk_actions_decision_idx ON risk_actions (decision_id);
CREATE INDEX IF NOT EXISTS risk_actions_portfolio_time_idx ON risk_actions (portfolio_id, "timestamp");
CREATE INDEX IF NOT EXISTS risk_actions_strategy_time_type_idx
    ON risk_actions (strategy_id, "timestamp", action_type);
CREATE INDEX IF NOT EXISTS risk_actions_type_time_idx ON risk_actions (action_type, "timestamp");
CREATE INDEX IF NOT EXISTS risk_actions_source_idx
    ON risk_actions (source_topic, source_partition, source_offset);

CREATE TABLE IF NOT EXISTS target_positions (
    action_id         uuid PRIMARY KEY,
    decision_id       text        NOT NULL,
    portfolio_id      text        NOT NULL,
    strategy_id       text        NOT NULL,
    ticker            text        NOT NULL,
    target_position   double precision NOT NULL,
    delta_position    double precision NOT NULL,
    priority          integer     NOT NULL,
    "timestamp"       timestamptz NOT NULL,
    source_topic      text        NOT NULL,
    source_partition  integer     NOT NULL,
    source_offset     bigint      NOT NULL,
    seq               integer     NOT NULL DEFAULT 0,
    payload           bytea       NOT NULL
);
CREATE INDEX IF NOT EXISTS target_positions_decision_idx ON target_positions (decision_id);
CREATE INDEX IF NOT EXISTS target_positions_portfolio_time_idx
    ON target_positions (portfolio_id, "timestamp");
CREATE INDEX IF NOT EXISTS target_positions_source_idx
    ON target_positions (source_topic, source_partition, source_offset);

-- Dead letters are stored too, so a replayed offset republishes the same envelope.
CREATE TABLE IF NOT EXISTS dead_letters (
    source_topic      text    NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint  NOT NULL,
    error_code        text    NOT NULL,
    error             text    NOT NULL,
    received_at       timestamptz NOT NULL,
    key               bytea,
    payload           bytea   NOT NULL,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS dead_letters_code_time_idx ON dead_letters (error_code, received_at);

-- Risk profiles in force by name, and the append-only history of every config event.
CREATE TABLE IF NOT EXISTS risk_profiles (
    name        text PRIMARY KEY,
    limits      jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS risk_configs (
    version      bigint PRIMARY KEY,
    key          text        NOT NULL,
    scope        text        NOT NULL,
    scope_id     text,
    accepted     boolean     NOT NULL,
    error        text,
    payload      jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS risk_configs_scope_idx ON risk_configs (scope, scope_id, version);

-- Emergency history, and the forced de-risk commands already issued per (event, portfolio).
CREATE TABLE IF NOT EXISTS emergency_events (
    event_id     text   NOT NULL,
    version      bigint NOT NULL,
    level        text   NOT NULL,
    payload      jsonb  NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, version)
);
