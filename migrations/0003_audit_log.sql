-- AccessSync 0003: the append-only, hash-chained audit log.
--
-- Each row's hash is the SHA-256 (hex) of the canonical text of its content including prev_hash, the
-- hash of the row before it (64 zeros for the first row ever). Writers lock the single audit_head row
-- (SELECT ... FOR UPDATE) before reading the head and appending, so the chain never forks; the UNIQUE
-- constraint on prev_hash refuses a fork even from a writer that skipped the lock.
--
-- Append-only, twice over: accesssync_app gets SELECT and INSERT only (no UPDATE, DELETE, TRUNCATE)
-- and does not own the table; and a trigger refuses UPDATE, DELETE and TRUNCATE to every role that is
-- not a member of the owning role. Retention (deleting archived rows) is therefore an owner task.

CREATE TABLE accesssync.audit_log (
    id               bigserial PRIMARY KEY,
    run_id           bigint,
    at               timestamptz NOT NULL,
    db_role          text NOT NULL,
    os_user          text NOT NULL,
    action           text NOT NULL,
    object_kind      text NOT NULL,
    object_namespace text,
    object_name      text NOT NULL,
    before           jsonb,
    after            jsonb,
    provenance       jsonb,
    outcome          text NOT NULL CHECK (outcome IN ('intent', 'succeeded', 'failed', 'skipped')),
    intent_id        bigint,
    message          text,
    prev_hash        text COLLATE "C" NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash             text COLLATE "C" NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_at ON accesssync.audit_log (at);
CREATE INDEX audit_log_run ON accesssync.audit_log (run_id);

-- The chain head: one row, locked by every writer.
CREATE TABLE accesssync.audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id   bigint,
    last_hash text NOT NULL
);
INSERT INTO accesssync.audit_head (singleton, last_id, last_hash) VALUES (true, NULL, repeat('0', 64));

-- Archives made by retention: rows up to through_id were exported, verified, then deleted; the next
-- remaining row chains from through_hash.
CREATE TABLE accesssync.audit_archives (
    id             bigserial PRIMARY KEY,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    through_id     bigint NOT NULL,
    through_hash   text NOT NULL,
    row_count      bigint NOT NULL,
    archive_sha256 text NOT NULL,
    archive_path   text NOT NULL,
    db_role        text NOT NULL DEFAULT current_user,
    os_user        text
);

CREATE FUNCTION accesssync.audit_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_catalog.pg_has_role(current_user,
            (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'the audit log is append-only: % refused for role %', TG_OP, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON accesssync.audit_log
    FOR EACH ROW EXECUTE FUNCTION accesssync.audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON accesssync.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION accesssync.audit_refuse_change();

-- The recorded database role is always the role actually running the INSERT. Checked once per
-- statement over the inserted rows (a transition table), so bulk appends stay cheap.
CREATE FUNCTION accesssync.audit_check_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    forged text;
BEGIN
    SELECT db_role INTO forged FROM inserted WHERE db_role IS DISTINCT FROM current_user::text LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'audit row names database role % but the writer is %', forged, current_user
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_check_insert AFTER INSERT ON accesssync.audit_log
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION accesssync.audit_check_insert();

REVOKE ALL ON accesssync.audit_log, accesssync.audit_head, accesssync.audit_archives FROM PUBLIC;
GRANT SELECT, INSERT ON accesssync.audit_log TO accesssync_app;
GRANT USAGE, SELECT ON SEQUENCE accesssync.audit_log_id_seq TO accesssync_app;
GRANT SELECT, UPDATE ON accesssync.audit_head TO accesssync_app;
GRANT SELECT ON accesssync.audit_archives TO accesssync_app;
