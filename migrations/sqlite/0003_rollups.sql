-- Usage rollups, maintained on write in the same transaction as the events.
-- grain: 'hour' or 'day'; bucket_start: UTC ms of the bucket's start (days
-- are UTC days here; calendar windows in the organization's zone are built
-- from hours). Absent dimensions are '' so that the key is unique.
CREATE TABLE usage_rollups (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    grain                 TEXT NOT NULL CHECK (grain IN ('hour', 'day')),
    bucket_start          BIGINT NOT NULL,
    model                 TEXT NOT NULL,
    provider              TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    project_id            TEXT NOT NULL,
    feature               TEXT NOT NULL,
    events                BIGINT NOT NULL,
    requests              BIGINT NOT NULL,
    errors                BIGINT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    cached_input_tokens   BIGINT NOT NULL,
    cache_creation_tokens BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    reasoning_tokens      BIGINT NOT NULL,
    images                BIGINT NOT NULL,
    duration_ms           BIGINT NOT NULL,
    cost_nano             BIGINT NOT NULL,  -- priced events only
    unpriced_events       BIGINT NOT NULL,  -- events whose model had no price
    latency_count         BIGINT NOT NULL,
    latency_sum_ms        BIGINT NOT NULL,
    PRIMARY KEY (org_id, grain, bucket_start, model, provider, user_id, project_id, feature)
);

-- Latency histogram per org, grain, bucket and model: counts per log-scale
-- bucket (see tollbooth::metering::rollup::latency_bucket), enough for p95.
CREATE TABLE latency_histogram (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    grain        TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    model        TEXT NOT NULL,
    le_ms        BIGINT NOT NULL,           -- upper bound of the latency bucket
    n            BIGINT NOT NULL,
    PRIMARY KEY (org_id, grain, bucket_start, model, le_ms)
);
