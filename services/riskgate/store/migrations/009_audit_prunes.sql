-- Retention (riskgate audit prune, docs/replay.md): every prune is on record with who, why, the
-- cut-off and the rows it removed and kept per table. A dry run writes nothing.
CREATE TABLE IF NOT EXISTS audit_prunes (
    id            bigserial PRIMARY KEY,
    pruned_at     timestamptz NOT NULL DEFAULT now(),
    pruned_by     text        NOT NULL,
    reason        text        NOT NULL,
    before_time   timestamptz NOT NULL,
    keep_dedup_s  double precision NOT NULL,
    removed       jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- table -> rows removed
    kept          jsonb       NOT NULL DEFAULT '{}'::jsonb   -- table -> rows before the cut-off kept
);

-- Where a portfolio's recorded history starts after a prune: the snapshot apply at ``seq`` (its
-- ``snapshot_version``), with no target in flight from before it that a later decision could
-- see. Replay rebuilds the portfolio from this apply instead of from sequence number 1.
CREATE TABLE IF NOT EXISTS replay_anchors (
    portfolio_id      text PRIMARY KEY,
    seq               bigint      NOT NULL,
    snapshot_version  bigint      NOT NULL,
    prune_id          bigint      NOT NULL REFERENCES audit_prunes (id),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
