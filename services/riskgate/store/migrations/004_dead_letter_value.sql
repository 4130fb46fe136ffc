-- Dead letters keep the full original bytes beside the envelope, and an envelope always fits
-- its topic. `payload` is what gets republished after a crash, so it stays the (cut) envelope;
-- `value` is the whole record value however large, and `value_sha256` names it.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value bytea;
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS value_sha256 text;
ALTER TABLE dead_letters ALTER COLUMN value SET COMPRESSION lz4;

-- Rows written before this migration carry the full value only inside the envelope.
UPDATE dead_letters
   SET value = decode(convert_from(payload, 'UTF8')::jsonb ->> 'value_b64', 'base64')
 WHERE value IS NULL AND convert_from(payload, 'UTF8')::jsonb ->> 'value_b64' IS NOT NULL;
UPDATE dead_letters SET value_sha256 = encode(sha256(value), 'hex')
 WHERE value IS NOT NULL AND value_sha256 IS NULL;

-- Old envelopes gain the fields every envelope now carries. One over 96 KiB could be over its
-- topic's limit and would jam its partition on republish: it keeps a 64 KiB prefix of the value,
-- which fits any DLQ topic the worker accepts (at least 128 KiB, see docs/contracts.md).
UPDATE dead_letters
   SET payload = convert_to((
         convert_from(payload, 'UTF8')::jsonb
         || jsonb_build_object(
              'key_truncated', false,
              'value_truncated', value IS NOT NULL AND octet_length(payload) > 98304,
              'value_length', octet_length(value),
              'value_sha256', value_sha256)
         || CASE WHEN value IS NOT NULL AND octet_length(payload) > 98304
                 THEN jsonb_build_object('value_b64', replace(
                        encode(substring(value FROM 1 FOR 65536), 'base64'), E'\n', ''))
                 ELSE '{}'::jsonb END
       )::text, 'UTF8')
 WHERE NOT (convert_from(payload, 'UTF8')::jsonb ? 'value_sha256');

-- Halts: when, and every halt and resume with its reason, so an operator's decision is kept.
ALTER TABLE partition_progress ADD COLUMN IF NOT EXISTS halted_at timestamptz;
CREATE TABLE IF NOT EXISTS partition_halts (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    event       text        NOT NULL CHECK (event IN ('HALTED', 'RESUMED')),
    reason      text        NOT NULL,
    actor       text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS partition_halts_tp_idx ON partition_halts (topic, partition, at);
