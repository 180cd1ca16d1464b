-- Plans, limits, projects, usage counters and reservations (issue: plans,
-- quotas, atomic reservations and rate limits).
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms, flags BIGINT 0/1,
-- money BIGINT nano-USD. "Unlimited" is the absence of a limit row, never a
-- large number.

-- The plan catalog. `code` is the stable key organizations refer to.
CREATE TABLE plans (
    code                TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    monthly_price_nanos BIGINT NOT NULL DEFAULT 0,
    is_public           BIGINT NOT NULL DEFAULT 1,   -- listed on the Plans page
    sort_order          BIGINT NOT NULL DEFAULT 0,
    archived_at         BIGINT,                      -- no new organizations move to it
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- One limit of a plan on a metric over a period. `period` is minute (rate
-- limits), day or month (calendar windows in the organization's time zone),
-- or total (resource counts). `hard` denies beyond the limit; a soft limit
-- allows it and the overage is billed at `overage_nanos` per unit.
CREATE TABLE plan_limits (
    plan_code     TEXT NOT NULL REFERENCES plans(code) ON DELETE CASCADE,
    metric        TEXT NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('minute', 'day', 'month', 'total')),
    limit_value   BIGINT NOT NULL CHECK (limit_value >= 0),
    hard          BIGINT NOT NULL DEFAULT 1,
    overage_nanos BIGINT,
    PRIMARY KEY (plan_code, metric, period)
);

INSERT INTO plans (code, name, description, monthly_price_nanos, is_public, sort_order, created_at, updated_at) VALUES
    ('starter', 'Starter', 'For trying Tollbooth out', 0, 1, 10, 0, 0),
    ('pro', 'Pro', 'For a product in production', 29000000000, 1, 20, 0, 0),
    ('team', 'Team', 'For teams with several products', 99000000000, 1, 30, 0, 0),
    ('enterprise', 'Enterprise', 'No limits', 299000000000, 1, 40, 0, 0),
    ('demo', 'Demo', 'Unlimited access, usage is tracked', 0, 0, 90, 0, 0);

-- Tokens beyond a paid plan's monthly credits: $2 per 1M tokens (2,000 nano-USD each).
INSERT INTO plan_limits (plan_code, metric, period, limit_value, hard, overage_nanos) VALUES
    ('starter', 'projects', 'total', 3, 1, NULL),
    ('starter', 'documents', 'total', 25, 1, NULL),
    ('starter', 'tokens', 'month', 100000, 1, NULL),
    ('starter', 'members', 'total', 1, 1, NULL),
    ('starter', 'requests', 'minute', 60, 1, NULL),
    ('starter', 'tokens', 'minute', 20000, 1, NULL),
    ('pro', 'projects', 'total', 15, 1, NULL),
    ('pro', 'documents', 'total', 200, 1, NULL),
    ('pro', 'tokens', 'month', 1000000, 0, 2000),
    ('pro', 'members', 'total', 5, 1, NULL),
    ('pro', 'requests', 'minute', 600, 1, NULL),
    ('pro', 'tokens', 'minute', 200000, 1, NULL),
    ('team', 'projects', 'total', 50, 1, NULL),
    ('team', 'documents', 'total', 1000, 1, NULL),
    ('team', 'tokens', 'month', 5000000, 0, 2000),
    ('team', 'members', 'total', 25, 1, NULL),
    ('team', 'requests', 'minute', 3000, 1, NULL),
    ('team', 'tokens', 'minute', 1000000, 1, NULL);

-- Every organization is on one plan; existing ones start on Starter, and the
-- demo organization (owned by the seeded demo user) on Demo.
ALTER TABLE organizations ADD COLUMN plan_code TEXT NOT NULL DEFAULT 'starter' REFERENCES plans(code);
UPDATE organizations SET plan_code = 'demo' WHERE id IN (
    SELECT m.org_id FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE u.email = 'demo@tollbooth.local' AND m.role = 'owner');

-- A platform admin's custom limit for one organization; a NULL limit_value
-- makes the metric unlimited for it whatever the plan says.
CREATE TABLE org_limit_overrides (
    org_id        TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    metric        TEXT NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('minute', 'day', 'month', 'total')),
    limit_value   BIGINT CHECK (limit_value >= 0),
    hard          BIGINT NOT NULL DEFAULT 1,
    overage_nanos BIGINT,
    created_by    TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, metric, period)
);

-- Projects; events may carry a project id. Archived ones do not count
-- towards the plan's project limit.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    created_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT,
    UNIQUE (org_id, slug)
);

-- The documents resource count that products report with
-- POST /api/v1/resources/documents {delta}.
CREATE TABLE org_resources (
    org_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    resource  TEXT NOT NULL,
    used      BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (org_id, resource)
);

-- Usage per local day of the organization (day_start = UTC ms of local
-- midnight), kept in the same transaction as the events; a month is the sum
-- of its days. These are what quota checks read as "used".
CREATE TABLE usage_counters (
    org_id        TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day_start     BIGINT NOT NULL,
    tokens        BIGINT NOT NULL DEFAULT 0,
    cost_nanos    BIGINT NOT NULL DEFAULT 0,
    requests      BIGINT NOT NULL DEFAULT 0,
    images        BIGINT NOT NULL DEFAULT 0,
    video_seconds BIGINT NOT NULL DEFAULT 0,
    chat_messages BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day_start)
);

-- Reservations: amounts held until committed, released or expired. Every
-- active, unexpired reservation counts against the current windows (a TTL is
-- at most an hour, and its usage lands in the window it is committed in).
-- Only active, unexpired rows count, so an expired reservation frees its
-- amounts even before the sweeper marks it.
CREATE TABLE reservations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id  TEXT,
    user_id     TEXT,
    project_id  TEXT,
    state       TEXT NOT NULL CHECK (state IN ('active', 'committed', 'released', 'expired')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    settled_at  BIGINT
);
CREATE INDEX reservations_active ON reservations (org_id, state, expires_at);
CREATE INDEX reservations_expiry ON reservations (state, expires_at);

CREATE TABLE reservation_amounts (
    reservation_id TEXT NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
    metric         TEXT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (reservation_id, metric)
);

-- An API key's own rate limit (requests per minute); NULL: only the plan's.
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute BIGINT;
