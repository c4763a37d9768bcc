-- AccessSync 0002: sync runs, plan approvals, and the registry of hub users AccessSync manages.

CREATE TABLE accesssync.sync_runs (
    id          bigserial PRIMARY KEY,
    -- what ran: sync, policy-apply, grant, revoke, ...
    command     text NOT NULL DEFAULT 'sync',
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'blocked', 'interrupted')),
    counts      jsonb NOT NULL DEFAULT '{}',
    head_hash   text,
    error       text,
    plan_hash   text,
    -- backend pid of the connection holding the run lock (to name the run in "another sync is running")
    lock_pid    integer,
    db_role     text NOT NULL DEFAULT current_user,
    os_user     text,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX sync_runs_running ON accesssync.sync_runs (lock_pid) WHERE status = 'running';

CREATE TABLE accesssync.approvals (
    id          bigserial PRIMARY KEY,
    plan_hash   text NOT NULL,
    approved_by text NOT NULL,
    db_role     text NOT NULL DEFAULT current_user,
    approved_at timestamptz NOT NULL DEFAULT now(),
    used_by_run bigint REFERENCES accesssync.sync_runs (id),
    note        text
);
CREATE INDEX approvals_plan_hash ON accesssync.approvals (plan_hash);

-- The hub has no labels: this registry is how AccessSync knows which hub users it created (or adopted)
-- and may therefore delete.
CREATE TABLE accesssync.hub_users (
    name           text PRIMARY KEY,
    person_id      text,
    created_by_run bigint REFERENCES accesssync.sync_runs (id),
    adopted        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_users_person ON accesssync.hub_users (person_id);

GRANT SELECT, INSERT, UPDATE ON accesssync.sync_runs, accesssync.approvals TO accesssync_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON accesssync.hub_users TO accesssync_app;
GRANT USAGE, SELECT ON SEQUENCE accesssync.sync_runs_id_seq, accesssync.approvals_id_seq TO accesssync_app;
