-- Alerts and their notifications.
--
-- Budget alerts are evaluated in the transaction that records the usage:
-- `budget_spend` holds each budget's spend per period, updated with the
-- events (so the row lock, or SQLite's single writer, orders concurrent
-- batches), and an alert is inserted once per `dedupe_key`. The
-- notifications of an alert are written to `notifications` in the same
-- transaction: a crash after commit loses none of them.

-- Per-organization alert settings; a missing row means the defaults.
CREATE TABLE alert_settings (
    org_id               TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    email_enabled        BIGINT NOT NULL DEFAULT 1,
    spike_enabled        BIGINT NOT NULL DEFAULT 1,
    spike_percent        BIGINT NOT NULL DEFAULT 200,         -- last hour vs the 7-day hourly average
    spike_min_nanos      BIGINT NOT NULL DEFAULT 1000000000,  -- last hour must reach $1
    error_rate_percent   BIGINT NOT NULL DEFAULT 5,           -- over 15 minutes
    error_min_requests   BIGINT NOT NULL DEFAULT 20,
    latency_p95_ms       BIGINT,                              -- NULL: no latency alerts
    notify_owners        BIGINT NOT NULL DEFAULT 1,
    notify_admins        BIGINT NOT NULL DEFAULT 1,
    extra_recipients     TEXT NOT NULL DEFAULT '',            -- comma-separated addresses
    updated_at           BIGINT NOT NULL
);

-- A budget's exact spend in one of its periods (local calendar windows).
CREATE TABLE budget_spend (
    budget_id    TEXT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period_start BIGINT NOT NULL,
    period_end   BIGINT NOT NULL,
    org_id       TEXT NOT NULL,
    spent_nanos  BIGINT NOT NULL,
    PRIMARY KEY (budget_id, period_start)
);
CREATE INDEX budget_spend_org ON budget_spend (org_id, period_end);

CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('budget_threshold', 'budget_exhausted', 'quota_exceeded',
                                                  'spike', 'error_rate', 'high_latency')),
    dedupe_key      TEXT NOT NULL,          -- fires once per key (threshold × scope × period)
    budget_id       TEXT,                   -- no foreign key: the alert outlives the budget
    scope           TEXT NOT NULL,          -- organization | project | user | api_key
    scope_id        TEXT NOT NULL DEFAULT '',
    period_start    BIGINT,
    period_end      BIGINT,
    observed        TEXT NOT NULL,          -- as a person reads it: "$41.20", "7.5%", "2300 ms"
    threshold       TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at BIGINT,
    UNIQUE (org_id, dedupe_key)
);
CREATE INDEX alerts_org_created ON alerts (org_id, created_at);

-- Outgoing webhook endpoints of an organization.
CREATE TABLE webhook_endpoints (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    secret               TEXT NOT NULL,     -- signs the body; shown once when created
    enabled              BIGINT NOT NULL DEFAULT 1,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    created_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id);

-- The durable outbox: one row per message to send (an e-mail to one
-- address, or a webhook to one endpoint).
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    alert_id        TEXT REFERENCES alerts(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       TEXT NOT NULL,          -- an address, or a webhook endpoint id
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,          -- the mail text, or the webhook JSON
    -- pending: to send; sent; held: e-mail kept in the outbox (no SMTP
    -- configured); failed: gave up after the last retry
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'held', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,  -- a sender holds the row until then
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_org ON notifications (org_id, created_at);

-- Every attempt to deliver a webhook, for the delivery log.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    attempt         BIGINT NOT NULL,
    status_code     BIGINT,                 -- NULL when no response came
    error           TEXT,
    duration_ms     BIGINT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, at);

-- Recommendations a member dismissed (by their stable key).
CREATE TABLE recommendation_dismissals (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    rec_key      TEXT NOT NULL,
    dismissed_by TEXT NOT NULL,
    dismissed_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, rec_key)
);
