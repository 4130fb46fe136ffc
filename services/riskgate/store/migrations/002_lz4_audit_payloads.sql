-- The audit payloads are a few KB of JSON per decision and dominate what the commit step
-- writes; lz4 compresses them at a fraction of pglz's cost (PostgreSQL 14+ built with lz4).
ALTER TABLE risk_actions ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE risk_actions ALTER COLUMN details_json SET COMPRESSION lz4;
ALTER TABLE target_positions ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE dead_letters ALTER COLUMN payload SET COMPRESSION lz4;
