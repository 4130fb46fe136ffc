-- The control plane (docs/control-plane.md): the writer's own history of every config record it
-- published (who, why, the scope's state before and after), four-eyes proposals, and the status
-- every worker reports (applied config version, owned partitions, heartbeat).

-- One row per published record, written in the transaction that allocated its version and that
-- held the writer's advisory lock until Kafka acknowledged the record.
CREATE TABLE IF NOT EXISTS config_writes (
    source_topic   text        NOT NULL,
    version        bigint      NOT NULL,
    change_id      text        NOT NULL UNIQUE,
    key            text        NOT NULL,  -- the record key: global, strategy:ID, portfolio:ID, rearm:EVENT
    actor          text        NOT NULL,  -- who asked (updated_by)
    role           text,                  -- viewer | operator | admin; NULL when not known (CLI)
    authenticated  boolean     NOT NULL,
    via            text        NOT NULL,  -- cli | api
    reason         text        NOT NULL,
    approved_by    text,                  -- four-eyes: the second admin
    previous       jsonb       NOT NULL,
    new            jsonb       NOT NULL,
    payload        bytea       NOT NULL,  -- the record as published
    written_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_topic, version)
);
CREATE INDEX IF NOT EXISTS config_writes_key_idx ON config_writes (source_topic, key, version);

-- Four-eyes (RISKGATE_FOUR_EYES=true): a limit change or re-arm waits here for a second admin.
CREATE TABLE IF NOT EXISTS config_proposals (
    change_id      text        PRIMARY KEY,
    source_topic   text        NOT NULL,
    change         jsonb       NOT NULL,  -- the ConfigChange as submitted
    actor          text        NOT NULL,
    role           text,
    authenticated  boolean     NOT NULL,
    via            text        NOT NULL,
    previous       jsonb       NOT NULL,  -- as validated when proposed
    new            jsonb       NOT NULL,
    proposed_at    timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    status         text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'approved', 'expired')),
    decided_by     text,
    decided_at     timestamptz,
    version        bigint                 -- the published version once approved
);
CREATE INDEX IF NOT EXISTS config_proposals_pending_idx ON config_proposals (source_topic, status);

-- One row per running worker, upserted on start, on each config apply and every heartbeat
-- interval; live means a heartbeat younger than three of its own intervals (database clock).
CREATE TABLE IF NOT EXISTS worker_status (
    worker_id      text             PRIMARY KEY,
    group_id       text             NOT NULL,
    config_topic   text             NOT NULL,
    host           text             NOT NULL,
    pid            integer          NOT NULL,
    config_version bigint           NOT NULL,
    partitions     integer[]        NOT NULL DEFAULT '{}',
    heartbeat_s    double precision NOT NULL,
    started_at     timestamptz      NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS worker_status_topic_idx ON worker_status (config_topic, heartbeat_at);
