-- AccessSync 0001: the application role, the schema, and the policy tables.
--
-- Run by the OWNER role (the role that owns the tables). The application role accesssync_app is a
-- NOLOGIN group role: give it to the login the sync job uses (GRANT accesssync_app TO accesssync).
-- If the owner may not create roles (managed databases), an administrator creates it first; see
-- migrations/README.md.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'accesssync_app') THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            BEGIN
                CREATE ROLE accesssync_app NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created at the same moment by a migration of another database
            END;
        ELSE
            RAISE EXCEPTION 'role accesssync_app does not exist and role % may not create roles', current_user
                USING HINT = 'An administrator runs: CREATE ROLE accesssync_app NOLOGIN; (see migrations/README.md)';
        END IF;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA accesssync FROM PUBLIC;
GRANT USAGE ON SCHEMA accesssync TO accesssync_app;

-- Every policy row records where it came from: 'file:<path>:<line>' (policy apply; pruned when the
-- file no longer has it) or 'cli:<actor>' (grant/revoke/override commands; never pruned by apply).

CREATE TABLE accesssync.tiers (
    name         text PRIMARY KEY,
    rank         integer NOT NULL,
    quota        jsonb NOT NULL DEFAULT '{}',
    limit_range  jsonb NOT NULL DEFAULT '[]',
    pod_security text NOT NULL DEFAULT 'baseline',
    source       text NOT NULL CHECK (source ~ '^(file|cli):'),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accesssync.role_templates (
    name         text PRIMARY KEY,
    rules        jsonb,
    cluster_role text,
    privileged   boolean NOT NULL DEFAULT false,
    source       text NOT NULL CHECK (source ~ '^(file|cli):'),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((rules IS NULL) <> (cluster_role IS NULL))
);

CREATE TABLE accesssync.grants (
    id                     text PRIMARY KEY,
    group_name             text NOT NULL,
    hub_access             boolean NOT NULL DEFAULT false,
    hub_admin              boolean NOT NULL DEFAULT false,
    hub_group              boolean NOT NULL DEFAULT false,
    tier                   text,
    project_namespace      text,
    project_role_templates jsonb NOT NULL DEFAULT '[]',
    project_tier           text,
    expires_at             timestamptz,
    source                 text NOT NULL CHECK (source ~ '^(file|cli):'),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accesssync.overrides (
    id                     text PRIMARY KEY,
    person_id              text,
    person_uid             text,
    tier                   text,
    hub_access             boolean,
    hub_admin              boolean,
    project_namespace      text,
    project_role_templates jsonb NOT NULL DEFAULT '[]',
    project_tier           text,
    suspended              boolean NOT NULL DEFAULT false,
    expires_at             timestamptz,
    reason                 text,
    source                 text NOT NULL CHECK (source ~ '^(file|cli):'),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK ((person_id IS NULL) <> (person_uid IS NULL))
);

-- Policy-wide settings: default_tier, personal_role_template.
CREATE TABLE accesssync.policy_settings (
    name       text PRIMARY KEY CHECK (name IN ('default_tier', 'personal_role_template')),
    value      text NOT NULL,
    source     text NOT NULL CHECK (source ~ '^(file|cli):'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON accesssync.tiers, accesssync.role_templates, accesssync.grants, accesssync.overrides,
       accesssync.policy_settings
    TO accesssync_app;
