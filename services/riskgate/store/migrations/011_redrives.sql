-- Dead-letter redrives (riskgate dlq redrive, docs/dlq.md): who, when, why and which offsets.
-- The row is written before anything is published (status RUNNING), and finished with the
-- records published; a redrive that died in between stays RUNNING, and one that failed says why.
CREATE TABLE IF NOT EXISTS dlq_redrives (
    redrive_id     uuid PRIMARY KEY,
    source_topic   text        NOT NULL,  -- the decisions topic the dead letters were read from
    target_topic   text        NOT NULL,  -- where their original bytes were published again
    requested_by   text        NOT NULL,
    authenticated  boolean     NOT NULL DEFAULT false,
    reason         text        NOT NULL,
    selection      jsonb       NOT NULL,  -- the filters given (error code, since, records)
    expected       jsonb       NOT NULL,  -- what the command predicted: outcome -> records
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text        NOT NULL DEFAULT 'RUNNING'
                   CHECK (status IN ('RUNNING', 'PUBLISHED', 'FAILED')),
    record_count   integer     NOT NULL DEFAULT 0,  -- records acknowledged by the broker
    error          text
);
CREATE INDEX IF NOT EXISTS dlq_redrives_time_idx ON dlq_redrives (source_topic, started_at);

-- One row per dead letter published by a redrive: its source offset, and where its bytes landed.
-- No foreign key to dead_letters: audit prune may remove a dead letter, never its redrive record.
CREATE TABLE IF NOT EXISTS dlq_redrive_records (
    redrive_id          uuid    NOT NULL REFERENCES dlq_redrives (redrive_id),
    source_partition    integer NOT NULL,
    source_offset       bigint  NOT NULL,
    error_code          text    NOT NULL,
    expected            text    NOT NULL,  -- DECIDED, DUPLICATE, EXPIRED or DEAD_LETTER
    published_partition integer NOT NULL,
    published_offset    bigint  NOT NULL,
    PRIMARY KEY (redrive_id, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS dlq_redrive_records_source_idx
    ON dlq_redrive_records (source_partition, source_offset);
CREATE INDEX IF NOT EXISTS dlq_redrive_records_published_idx
    ON dlq_redrive_records (published_partition, published_offset);
