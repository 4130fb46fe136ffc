-- details_json is already inside the stored action payload; writing it twice doubled the audit
-- bytes of every commit. New rows leave the column NULL and readers take it from the payload.
ALTER TABLE risk_actions ALTER COLUMN details_json DROP NOT NULL;
