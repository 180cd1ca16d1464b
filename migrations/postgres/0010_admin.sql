-- Platform administration: suspension, admin API tokens, retention.

-- A suspended organization's API keys are refused (403 "suspended") and its
-- members see a "suspended" page; its data is kept. NULL: active.
ALTER TABLE organizations ADD COLUMN suspended_at BIGINT;
ALTER TABLE organizations ADD COLUMN suspended_reason TEXT;

-- Tokens for the platform admin REST API (`/api/admin`, `tb_admin_…`). Like
-- API keys: SHA-256 stored, a prefix kept in clear, shown once. A token acts
-- only while its user is still a platform admin (checked on every call).
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX admin_tokens_user ON admin_tokens (user_id);

-- How long raw usage events stay in usage_events before the hourly task moves
-- them to usage_events_archive (rollups, invoices and the audit log stay).
ALTER TABLE plans ADD COLUMN retention_months BIGINT NOT NULL DEFAULT 13;

-- Raw events past their plan's retention: same columns as usage_events, no
-- foreign key (kept as history), same primary key so a re-run of a batch
-- inserts nothing twice.
CREATE TABLE usage_events_archive (
    org_id                TEXT NOT NULL,
    id                    TEXT NOT NULL,
    ts                    BIGINT NOT NULL,
    received_at           BIGINT NOT NULL,
    api_key_id            TEXT,
    user_id               TEXT,
    project_id            TEXT,
    session_id            TEXT,
    feature               TEXT,
    provider              TEXT,
    model                 TEXT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    cached_input_tokens   BIGINT NOT NULL,
    cache_creation_tokens BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    reasoning_tokens      BIGINT NOT NULL,
    images                BIGINT NOT NULL,
    duration_ms           BIGINT NOT NULL,
    requests              BIGINT NOT NULL,
    latency_ms            BIGINT,
    status                TEXT NOT NULL,
    error                 TEXT,
    ip                    TEXT,
    user_agent            TEXT,
    metadata              TEXT,
    cost_nano             BIGINT,
    price_id              TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX usage_events_archive_org_ts ON usage_events_archive (org_id, ts);
