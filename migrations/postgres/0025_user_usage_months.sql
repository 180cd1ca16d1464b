-- Per-user month totals: what each end user of an organization used in each
-- local month of the organization (its zone, the windows of user_usage_days),
-- kept by ingest in the same transaction as the day counters, so the End
-- users list reads one page of an index instead of summing every user-day of
-- the month (a month is still the sum of its days: rebuilding the days of a
-- month rebuilds its totals, and a database from before this table has its
-- current month filled from the days at start).
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms, money BIGINT nano-USD.
-- `month_start` is the start of the local month; `last_day` the start of the
-- user's last local day with use in it.
CREATE TABLE user_usage_months (
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    month_start BIGINT NOT NULL,
    tokens      BIGINT NOT NULL DEFAULT 0,
    cost_nanos  BIGINT NOT NULL DEFAULT 0,
    requests    BIGINT NOT NULL DEFAULT 0,
    last_day    BIGINT NOT NULL,
    PRIMARY KEY (org_id, month_start, user_id)
);
-- The list's default sort (this month's cost, largest first, ties by user
-- id) walks this index; the primary key is the sort by user id. The sorts by
-- tokens and by requests rank the month's rows of the organization instead
-- (bounded by its users this month): every index here is rewritten by each
-- ingest batch for each of its users, and one per sort made the counters'
-- writes 3.5 times slower at high user cardinality.
CREATE INDEX user_usage_months_cost ON user_usage_months (org_id, month_start, cost_nanos DESC, user_id);
