-- Trials (issue 22): an organization on a paid plan without payment until
-- a date, then back on the plan it came from unless it converted.
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms, flags BIGINT 0/1.

-- How many days of free trial a plan offers to organizations that start one
-- themselves ("Start a 14-day Pro trial"); 0 offers none. A platform admin
-- can start a trial of any plan and length whatever this says.
ALTER TABLE plans ADD COLUMN trial_days BIGINT NOT NULL DEFAULT 0;
UPDATE plans SET trial_days = 14 WHERE code = 'pro';

-- Every trial an organization had. At most one is active at a time (the
-- partial unique index); the rows that ended stay, so "once per
-- organization" and the admin dashboard's monthly figures read them.
CREATE TABLE trials (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    plan_code          TEXT NOT NULL,          -- the plan tried
    previous_plan_code TEXT NOT NULL,          -- where expiry or cancel returns it
    self_serve         BIGINT NOT NULL,        -- 1: the owner started it; 0: a platform admin
    started_by         TEXT,                   -- the user who started it
    started_at         BIGINT NOT NULL,
    ends_at            BIGINT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'converted', 'canceled', 'expired')),
    ended_at           BIGINT,                 -- when it converted, was canceled or expired
    converted_plan     TEXT,                   -- the plan paid for on conversion
    warned_at          BIGINT                  -- the "ends in 3 days" notice went out
);
CREATE UNIQUE INDEX trials_one_active ON trials (org_id) WHERE status = 'active';
-- The billing task's scan: active trials by end.
CREATE INDEX trials_due ON trials (status, ends_at);
-- The admin dashboard's monthly figures.
CREATE INDEX trials_started ON trials (started_at);
CREATE INDEX trials_ended ON trials (status, ended_at);
