-- Histories are per source topic: two deployments (or two test runs) sharing one database each
-- keep their own market, config and emergency versions, and replay reads only its own.
ALTER TABLE market_history ADD COLUMN IF NOT EXISTS source_topic text NOT NULL
    DEFAULT 'market.metrics';
ALTER TABLE market_history DROP CONSTRAINT IF EXISTS market_history_pkey;
ALTER TABLE market_history ADD PRIMARY KEY (source_topic, ticker, version);

ALTER TABLE risk_configs ADD COLUMN IF NOT EXISTS source_topic text NOT NULL DEFAULT 'risk.config';
ALTER TABLE risk_configs DROP CONSTRAINT IF EXISTS risk_configs_pkey;
ALTER TABLE risk_configs ADD PRIMARY KEY (source_topic, version);

ALTER TABLE emergency_events ADD COLUMN IF NOT EXISTS source_topic text NOT NULL
    DEFAULT 'risk.black_swan_state';
ALTER TABLE emergency_events DROP CONSTRAINT IF EXISTS emergency_events_pkey;
ALTER TABLE emergency_events ADD PRIMARY KEY (source_topic, event_id, version);
