-- The audit log: append-only and tamper-evident (see migrations/sqlite/0009_audit.sql).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at          BIGINT NOT NULL,
    org_id      TEXT,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id    TEXT,
    actor_label TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target      TEXT,
    result      TEXT NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();
