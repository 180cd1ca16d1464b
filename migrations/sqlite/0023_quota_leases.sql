-- Leases of quota headroom and the shared state of rate limits, for several
-- server processes on one database (quota::lease, quota::rate).
--
-- quota_leases: the headroom each server process (holder) may still grant
-- without asking the database, per hard limit and window. What the database
-- guards when it leases is: used + active reservations + every holder's
-- slack <= limit. A holder writes its row when it renews (at least every
-- second while busy); a row past expires_at counts for nothing, so a process
-- that died strands its slack for at most the lease's lifetime.
CREATE TABLE quota_leases (
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    holder     TEXT NOT NULL,
    metric     TEXT NOT NULL,
    period     TEXT NOT NULL,
    window_end BIGINT NOT NULL,
    slack      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, metric, period, holder)
);

-- rate_limits: one GCRA state per limited key (`org:<id>:requests`,
-- `key:<id>:requests`, `org:<id>:tokens`): the theoretical arrival time in
-- microseconds. Processes take permits from it in small blocks.
CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    tat_us BIGINT NOT NULL
);
CREATE INDEX rate_limits_org ON rate_limits (org_id);
