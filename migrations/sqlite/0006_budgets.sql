-- Budgets: a USD amount per calendar period (in the organization's time
-- zone) for the organization, a project, a user id or an API key, with
-- alert thresholds (percentages) and an action at 100%.
CREATE TABLE budgets (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('organization', 'project', 'user', 'api_key')),
    scope_id     TEXT NOT NULL DEFAULT '',           -- '' for the organization
    period       TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
    amount_nanos BIGINT NOT NULL CHECK (amount_nanos > 0),
    thresholds   TEXT NOT NULL DEFAULT '50,80,100', -- ascending percentages
    action       TEXT NOT NULL DEFAULT 'notify' CHECK (action IN ('notify', 'pause')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX budgets_org ON budgets (org_id);
