-- Backfilled events wait here for their rollups.
--
-- An event dated before the previous UTC hour (an import, a client that
-- sends late) would touch a cold row in each of the eight narrow rollups: a
-- batch of 1,000 such events dirtied thousands of random B-tree pages and
-- ingested 10× slower than a batch of recent events. Such events are
-- appended here instead (one row each, in the batch's transaction), and a
-- background task folds them into the rollups in large batches, oldest
-- first, deleting what it folded in the same transaction
-- (metering::analytics::pending). Readers of the usage report add this
-- table to every range they read from the rollups, so an answer counts every
-- stored event whether or not it is folded yet. The lifetime totals are
-- counted at once, not from here.
--
-- The columns are those of usage_events that the rollups sum, under the
-- same names, plus the latency bucket (metering::rollup::LATENCY_BOUNDS_MS).
CREATE TABLE rollup_pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    ts                    BIGINT NOT NULL,
    model                 TEXT NOT NULL,
    provider              TEXT,
    user_id               TEXT,
    project_id            TEXT,
    feature               TEXT,
    session_id            TEXT,
    requests              BIGINT NOT NULL,
    status                TEXT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    cached_input_tokens   BIGINT NOT NULL,
    cache_creation_tokens BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    reasoning_tokens      BIGINT NOT NULL,
    images                BIGINT NOT NULL,
    duration_ms           BIGINT NOT NULL,
    cost_nano             BIGINT,
    unpriced_units        TEXT,
    latency_ms            BIGINT,
    latency_bucket        INTEGER
);
CREATE INDEX rollup_pending_org_ts ON rollup_pending (org_id, ts);

-- How many of the organization's events wait in rollup_pending, kept with
-- them in the same transactions: readers skip the table when none wait (the
-- common case), and on PostgreSQL never wade through the dead index entries
-- a drained backfill leaves until vacuum.
ALTER TABLE usage_totals ADD COLUMN pending_events BIGINT NOT NULL DEFAULT 0;
