-- Hub groups AccessSync created (or adopted) and may therefore delete or change. Like hub users, the
-- hub has no labels, so the registry lives here.
CREATE TABLE accesssync.hub_groups (
    name           text PRIMARY KEY,
    created_by_run bigint REFERENCES accesssync.sync_runs (id),
    adopted        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON accesssync.hub_groups TO accesssync_app;
