-- The application role may read (never change) which migrations are applied, so `accesssync doctor`
-- run as the job's own role can tell "up to date" from "migrations pending" instead of only warning.
GRANT SELECT ON accesssync.schema_migrations TO accesssync_app;
