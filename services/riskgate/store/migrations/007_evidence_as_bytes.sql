-- Evidence is kept as the bytes received, not as jsonb: jsonb refuses a "\u0000" escape, which a
-- valid input may carry inside a string, and a refused write would retry forever and stall the
-- partition or the global inputs. The bytes are JSON all the same (cast with convert_from(...)::jsonb
-- to query them).
ALTER TABLE market_history ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8');
ALTER TABLE snapshot_history ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8');
ALTER TABLE risk_configs ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8');
ALTER TABLE emergency_events ALTER COLUMN payload TYPE bytea USING convert_to(payload::text, 'UTF8');
ALTER TABLE risk_actions ALTER COLUMN witness TYPE bytea USING convert_to(witness::text, 'UTF8');

-- Envelopes written before 004 carried the whole key: one over 1024 bytes keeps its first 1024
-- bytes, as every envelope now does, so a republished envelope fits its topic.
UPDATE dead_letters
   SET payload = convert_to((
         convert_from(payload, 'UTF8')::jsonb
         || jsonb_build_object(
              'key_b64', replace(encode(substring(key FROM 1 FOR 1024), 'base64'), E'\n', ''),
              'key_truncated', true)
       )::text, 'UTF8')
 WHERE key IS NOT NULL AND octet_length(key) > 1024;
