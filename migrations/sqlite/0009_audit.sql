-- The audit log: append-only and tamper-evident.
--
-- The database itself refuses UPDATE and DELETE on it (triggers below), so
-- not even a bug in the application can rewrite history. Each row stores the
-- hash of the previous row and its own hash over its fields and that
-- previous hash: an edit made with a database tool (after dropping the
-- triggers) breaks the chain at that row, and `tollbooth audit verify`
-- reports the first row where it breaks.
--
-- No foreign keys: an entry outlives what it names (a deleted key, a user).
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,     -- 1, 2, 3 … in the order written
    id          TEXT NOT NULL UNIQUE,
    at          BIGINT NOT NULL,
    org_id      TEXT,                   -- NULL: platform-wide (an admin's own login)
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id    TEXT,
    actor_label TEXT NOT NULL DEFAULT '',   -- e-mail or key name at the time
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

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
