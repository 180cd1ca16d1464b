-- Per-user limits (issue 23): what each end user of an organization (the
-- `user_id` of its events and reservations) may use, and what each used.
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms, money BIGINT nano-USD,
-- flags BIGINT 0/1. A NULL limit is no limit.

-- The organization's default limits for every end user, and the master
-- switch (off: no per-user limit applies, overrides included).
CREATE TABLE user_limit_settings (
    org_id               TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    enabled              BIGINT NOT NULL DEFAULT 0,
    tokens_per_day       BIGINT,
    cost_per_day_nanos   BIGINT,
    tokens_per_month     BIGINT,
    cost_per_month_nanos BIGINT,
    requests_per_minute  BIGINT,
    updated_at           BIGINT NOT NULL
);

-- One end user's own limits: `custom` (each limit set here replaces the
-- default; one left NULL keeps the default), `unlimited` or `blocked`.
CREATE TABLE user_limit_overrides (
    org_id               TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL,
    mode                 TEXT NOT NULL CHECK (mode IN ('custom', 'unlimited', 'blocked')),
    tokens_per_day       BIGINT,
    cost_per_day_nanos   BIGINT,
    tokens_per_month     BIGINT,
    cost_per_month_nanos BIGINT,
    requests_per_minute  BIGINT,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

-- What each end user used per local day of the organization (its zone), kept
-- in the ingest transaction like usage_counters: the ledger of per-user
-- limits and the Users page's source (a month is the sum of its days).
CREATE TABLE user_usage_days (
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    day_start  BIGINT NOT NULL,
    tokens     BIGINT NOT NULL DEFAULT 0,
    cost_nanos BIGINT NOT NULL DEFAULT 0,
    requests   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, user_id, day_start)
);
CREATE INDEX user_usage_days_org_day ON user_usage_days (org_id, day_start);
