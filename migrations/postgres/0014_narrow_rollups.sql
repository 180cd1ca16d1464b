-- Analytics at volume: narrow rollups, one dimension each, never the cross
-- product of high-cardinality ones (the old usage_rollups keyed by hour ×
-- model × provider × user × project × feature held as many rows as the raw
-- events). Every table is maintained on write, in the ingest transaction, so
-- it always equals the sum of the events it summarizes; readers aggregate in
-- SQL and read rows in proportion to the answer and the range, never to the
-- number of events.
--
-- Time keys are UTC: `hour` is the UTC hour's start and `day` the UTC day's
-- start (ms). A range in the organization's zone is read as whole UTC days
-- from the daily tables plus the hours at its two ends from the hourly ones
-- (src/metering/analytics), so no table depends on the zone and changing it
-- rebuilds nothing. Absent dimensions are '' so that keys are unique.
--
-- The summed columns are those of the old rollups; lat_00 … lat_27 count the
-- calls whose latency falls in each bucket of
-- metering::rollup::LATENCY_BOUNDS_MS (10 ms … 10 min, then above), so a p95
-- is read from one row of sums instead of a histogram table.

-- The organization × UTC hour: charts by hour, the spike alert, range ends.
CREATE TABLE rollup_org_hourly (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hour                  BIGINT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    lat_00                BIGINT NOT NULL DEFAULT 0,
    lat_01                BIGINT NOT NULL DEFAULT 0,
    lat_02                BIGINT NOT NULL DEFAULT 0,
    lat_03                BIGINT NOT NULL DEFAULT 0,
    lat_04                BIGINT NOT NULL DEFAULT 0,
    lat_05                BIGINT NOT NULL DEFAULT 0,
    lat_06                BIGINT NOT NULL DEFAULT 0,
    lat_07                BIGINT NOT NULL DEFAULT 0,
    lat_08                BIGINT NOT NULL DEFAULT 0,
    lat_09                BIGINT NOT NULL DEFAULT 0,
    lat_10                BIGINT NOT NULL DEFAULT 0,
    lat_11                BIGINT NOT NULL DEFAULT 0,
    lat_12                BIGINT NOT NULL DEFAULT 0,
    lat_13                BIGINT NOT NULL DEFAULT 0,
    lat_14                BIGINT NOT NULL DEFAULT 0,
    lat_15                BIGINT NOT NULL DEFAULT 0,
    lat_16                BIGINT NOT NULL DEFAULT 0,
    lat_17                BIGINT NOT NULL DEFAULT 0,
    lat_18                BIGINT NOT NULL DEFAULT 0,
    lat_19                BIGINT NOT NULL DEFAULT 0,
    lat_20                BIGINT NOT NULL DEFAULT 0,
    lat_21                BIGINT NOT NULL DEFAULT 0,
    lat_22                BIGINT NOT NULL DEFAULT 0,
    lat_23                BIGINT NOT NULL DEFAULT 0,
    lat_24                BIGINT NOT NULL DEFAULT 0,
    lat_25                BIGINT NOT NULL DEFAULT 0,
    lat_26                BIGINT NOT NULL DEFAULT 0,
    lat_27                BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, hour)
);

-- The organization × UTC day: totals and day series of long ranges, the admin dashboard.
CREATE TABLE rollup_org_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    lat_00                BIGINT NOT NULL DEFAULT 0,
    lat_01                BIGINT NOT NULL DEFAULT 0,
    lat_02                BIGINT NOT NULL DEFAULT 0,
    lat_03                BIGINT NOT NULL DEFAULT 0,
    lat_04                BIGINT NOT NULL DEFAULT 0,
    lat_05                BIGINT NOT NULL DEFAULT 0,
    lat_06                BIGINT NOT NULL DEFAULT 0,
    lat_07                BIGINT NOT NULL DEFAULT 0,
    lat_08                BIGINT NOT NULL DEFAULT 0,
    lat_09                BIGINT NOT NULL DEFAULT 0,
    lat_10                BIGINT NOT NULL DEFAULT 0,
    lat_11                BIGINT NOT NULL DEFAULT 0,
    lat_12                BIGINT NOT NULL DEFAULT 0,
    lat_13                BIGINT NOT NULL DEFAULT 0,
    lat_14                BIGINT NOT NULL DEFAULT 0,
    lat_15                BIGINT NOT NULL DEFAULT 0,
    lat_16                BIGINT NOT NULL DEFAULT 0,
    lat_17                BIGINT NOT NULL DEFAULT 0,
    lat_18                BIGINT NOT NULL DEFAULT 0,
    lat_19                BIGINT NOT NULL DEFAULT 0,
    lat_20                BIGINT NOT NULL DEFAULT 0,
    lat_21                BIGINT NOT NULL DEFAULT 0,
    lat_22                BIGINT NOT NULL DEFAULT 0,
    lat_23                BIGINT NOT NULL DEFAULT 0,
    lat_24                BIGINT NOT NULL DEFAULT 0,
    lat_25                BIGINT NOT NULL DEFAULT 0,
    lat_26                BIGINT NOT NULL DEFAULT 0,
    lat_27                BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
);

-- × model (with its provider) × UTC hour.
CREATE TABLE rollup_model_hourly (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hour                  BIGINT NOT NULL,
    model                 TEXT NOT NULL,
    provider              TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    lat_00                BIGINT NOT NULL DEFAULT 0,
    lat_01                BIGINT NOT NULL DEFAULT 0,
    lat_02                BIGINT NOT NULL DEFAULT 0,
    lat_03                BIGINT NOT NULL DEFAULT 0,
    lat_04                BIGINT NOT NULL DEFAULT 0,
    lat_05                BIGINT NOT NULL DEFAULT 0,
    lat_06                BIGINT NOT NULL DEFAULT 0,
    lat_07                BIGINT NOT NULL DEFAULT 0,
    lat_08                BIGINT NOT NULL DEFAULT 0,
    lat_09                BIGINT NOT NULL DEFAULT 0,
    lat_10                BIGINT NOT NULL DEFAULT 0,
    lat_11                BIGINT NOT NULL DEFAULT 0,
    lat_12                BIGINT NOT NULL DEFAULT 0,
    lat_13                BIGINT NOT NULL DEFAULT 0,
    lat_14                BIGINT NOT NULL DEFAULT 0,
    lat_15                BIGINT NOT NULL DEFAULT 0,
    lat_16                BIGINT NOT NULL DEFAULT 0,
    lat_17                BIGINT NOT NULL DEFAULT 0,
    lat_18                BIGINT NOT NULL DEFAULT 0,
    lat_19                BIGINT NOT NULL DEFAULT 0,
    lat_20                BIGINT NOT NULL DEFAULT 0,
    lat_21                BIGINT NOT NULL DEFAULT 0,
    lat_22                BIGINT NOT NULL DEFAULT 0,
    lat_23                BIGINT NOT NULL DEFAULT 0,
    lat_24                BIGINT NOT NULL DEFAULT 0,
    lat_25                BIGINT NOT NULL DEFAULT 0,
    lat_26                BIGINT NOT NULL DEFAULT 0,
    lat_27                BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, hour, model, provider)
);

-- × model × UTC day.
CREATE TABLE rollup_model_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    model                 TEXT NOT NULL,
    provider              TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    lat_00                BIGINT NOT NULL DEFAULT 0,
    lat_01                BIGINT NOT NULL DEFAULT 0,
    lat_02                BIGINT NOT NULL DEFAULT 0,
    lat_03                BIGINT NOT NULL DEFAULT 0,
    lat_04                BIGINT NOT NULL DEFAULT 0,
    lat_05                BIGINT NOT NULL DEFAULT 0,
    lat_06                BIGINT NOT NULL DEFAULT 0,
    lat_07                BIGINT NOT NULL DEFAULT 0,
    lat_08                BIGINT NOT NULL DEFAULT 0,
    lat_09                BIGINT NOT NULL DEFAULT 0,
    lat_10                BIGINT NOT NULL DEFAULT 0,
    lat_11                BIGINT NOT NULL DEFAULT 0,
    lat_12                BIGINT NOT NULL DEFAULT 0,
    lat_13                BIGINT NOT NULL DEFAULT 0,
    lat_14                BIGINT NOT NULL DEFAULT 0,
    lat_15                BIGINT NOT NULL DEFAULT 0,
    lat_16                BIGINT NOT NULL DEFAULT 0,
    lat_17                BIGINT NOT NULL DEFAULT 0,
    lat_18                BIGINT NOT NULL DEFAULT 0,
    lat_19                BIGINT NOT NULL DEFAULT 0,
    lat_20                BIGINT NOT NULL DEFAULT 0,
    lat_21                BIGINT NOT NULL DEFAULT 0,
    lat_22                BIGINT NOT NULL DEFAULT 0,
    lat_23                BIGINT NOT NULL DEFAULT 0,
    lat_24                BIGINT NOT NULL DEFAULT 0,
    lat_25                BIGINT NOT NULL DEFAULT 0,
    lat_26                BIGINT NOT NULL DEFAULT 0,
    lat_27                BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, model, provider)
);

-- × user × UTC day (no latency histogram).
CREATE TABLE rollup_user_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    user_id               TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, user_id)
);

-- × project × UTC day (no latency histogram).
CREATE TABLE rollup_project_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    project_id            TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, project_id)
);

-- × feature × UTC day (no latency histogram).
CREATE TABLE rollup_feature_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    feature               TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, feature)
);

-- × session × UTC day (no latency histogram).
CREATE TABLE rollup_session_daily (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day                   BIGINT NOT NULL,
    session_id            TEXT NOT NULL,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, session_id)
);

-- Lifetime running totals per organization (the usage panel's lifetime card).
CREATE TABLE usage_totals (
    org_id                TEXT NOT NULL PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    events                BIGINT NOT NULL DEFAULT 0,
    requests              BIGINT NOT NULL DEFAULT 0,
    errors                BIGINT NOT NULL DEFAULT 0,
    input_tokens          BIGINT NOT NULL DEFAULT 0,
    cached_input_tokens   BIGINT NOT NULL DEFAULT 0,
    cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens      BIGINT NOT NULL DEFAULT 0,
    images                BIGINT NOT NULL DEFAULT 0,
    duration_ms           BIGINT NOT NULL DEFAULT 0,
    cost_nano             BIGINT NOT NULL DEFAULT 0,  -- priced events only
    unpriced_events       BIGINT NOT NULL DEFAULT 0,
    latency_count         BIGINT NOT NULL DEFAULT 0,
    latency_sum_ms        BIGINT NOT NULL DEFAULT 0
);

-- Indexes for the reads that do not start from one organization's time
-- range: the admin dashboard (every organization, by day), unpriced models
-- (only rows with unpriced events), and one value of a dimension (a user's
-- usage) over a range.
CREATE INDEX rollup_org_daily_day ON rollup_org_daily (day);
CREATE INDEX rollup_model_hourly_unpriced ON rollup_model_hourly (hour, model) WHERE unpriced_events > 0;
CREATE INDEX rollup_model_hourly_org_unpriced ON rollup_model_hourly (org_id, model) WHERE unpriced_events > 0;
CREATE INDEX rollup_user_daily_value ON rollup_user_daily (org_id, user_id, day);
CREATE INDEX rollup_project_daily_value ON rollup_project_daily (org_id, project_id, day);
CREATE INDEX rollup_feature_daily_value ON rollup_feature_daily (org_id, feature, day);
CREATE INDEX rollup_session_daily_value ON rollup_session_daily (org_id, session_id, day);

-- Rebuilt from the raw events, archived ones included (rollups outlive
-- retention): exactly what ingest would have written.
INSERT INTO rollup_org_hourly
SELECT org_id, (ts / 3600000) * 3600000,
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0),
       SUM(CASE WHEN latency_ms <= 10 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 15 AND latency_ms <= 25 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25 AND latency_ms <= 40 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40 AND latency_ms <= 60 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60 AND latency_ms <= 90 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90 AND latency_ms <= 135 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135 AND latency_ms <= 200 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300 AND latency_ms <= 450 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 450 AND latency_ms <= 700 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1500 AND latency_ms <= 2250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 2250 AND latency_ms <= 3500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 3500 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 5000 AND latency_ms <= 7500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 7500 AND latency_ms <= 11000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 11000 AND latency_ms <= 17000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 17000 AND latency_ms <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25000 AND latency_ms <= 40000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40000 AND latency_ms <= 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60000 AND latency_ms <= 90000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90000 AND latency_ms <= 135000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135000 AND latency_ms <= 200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200000 AND latency_ms <= 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300000 AND latency_ms <= 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 600000 THEN 1 ELSE 0 END)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 3600000) * 3600000;
INSERT INTO rollup_org_daily
SELECT org_id, (ts / 86400000) * 86400000,
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0),
       SUM(CASE WHEN latency_ms <= 10 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 15 AND latency_ms <= 25 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25 AND latency_ms <= 40 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40 AND latency_ms <= 60 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60 AND latency_ms <= 90 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90 AND latency_ms <= 135 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135 AND latency_ms <= 200 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300 AND latency_ms <= 450 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 450 AND latency_ms <= 700 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1500 AND latency_ms <= 2250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 2250 AND latency_ms <= 3500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 3500 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 5000 AND latency_ms <= 7500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 7500 AND latency_ms <= 11000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 11000 AND latency_ms <= 17000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 17000 AND latency_ms <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25000 AND latency_ms <= 40000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40000 AND latency_ms <= 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60000 AND latency_ms <= 90000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90000 AND latency_ms <= 135000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135000 AND latency_ms <= 200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200000 AND latency_ms <= 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300000 AND latency_ms <= 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 600000 THEN 1 ELSE 0 END)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000;
INSERT INTO rollup_model_hourly
SELECT org_id, (ts / 3600000) * 3600000, model, COALESCE(provider, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0),
       SUM(CASE WHEN latency_ms <= 10 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 15 AND latency_ms <= 25 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25 AND latency_ms <= 40 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40 AND latency_ms <= 60 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60 AND latency_ms <= 90 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90 AND latency_ms <= 135 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135 AND latency_ms <= 200 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300 AND latency_ms <= 450 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 450 AND latency_ms <= 700 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1500 AND latency_ms <= 2250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 2250 AND latency_ms <= 3500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 3500 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 5000 AND latency_ms <= 7500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 7500 AND latency_ms <= 11000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 11000 AND latency_ms <= 17000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 17000 AND latency_ms <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25000 AND latency_ms <= 40000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40000 AND latency_ms <= 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60000 AND latency_ms <= 90000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90000 AND latency_ms <= 135000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135000 AND latency_ms <= 200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200000 AND latency_ms <= 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300000 AND latency_ms <= 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 600000 THEN 1 ELSE 0 END)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 3600000) * 3600000, model, COALESCE(provider, '');
INSERT INTO rollup_model_daily
SELECT org_id, (ts / 86400000) * 86400000, model, COALESCE(provider, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0),
       SUM(CASE WHEN latency_ms <= 10 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 10 AND latency_ms <= 15 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 15 AND latency_ms <= 25 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25 AND latency_ms <= 40 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40 AND latency_ms <= 60 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60 AND latency_ms <= 90 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90 AND latency_ms <= 135 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135 AND latency_ms <= 200 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200 AND latency_ms <= 300 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300 AND latency_ms <= 450 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 450 AND latency_ms <= 700 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 700 AND latency_ms <= 1000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1000 AND latency_ms <= 1500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 1500 AND latency_ms <= 2250 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 2250 AND latency_ms <= 3500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 3500 AND latency_ms <= 5000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 5000 AND latency_ms <= 7500 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 7500 AND latency_ms <= 11000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 11000 AND latency_ms <= 17000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 17000 AND latency_ms <= 25000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 25000 AND latency_ms <= 40000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 40000 AND latency_ms <= 60000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 60000 AND latency_ms <= 90000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 90000 AND latency_ms <= 135000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 135000 AND latency_ms <= 200000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 200000 AND latency_ms <= 300000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 300000 AND latency_ms <= 600000 THEN 1 ELSE 0 END),
       SUM(CASE WHEN latency_ms > 600000 THEN 1 ELSE 0 END)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000, model, COALESCE(provider, '');
INSERT INTO rollup_user_daily
SELECT org_id, (ts / 86400000) * 86400000, COALESCE(user_id, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000, COALESCE(user_id, '');
INSERT INTO rollup_project_daily
SELECT org_id, (ts / 86400000) * 86400000, COALESCE(project_id, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000, COALESCE(project_id, '');
INSERT INTO rollup_feature_daily
SELECT org_id, (ts / 86400000) * 86400000, COALESCE(feature, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000, COALESCE(feature, '');
INSERT INTO rollup_session_daily
SELECT org_id, (ts / 86400000) * 86400000, COALESCE(session_id, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id, (ts / 86400000) * 86400000, COALESCE(session_id, '');
INSERT INTO usage_totals
SELECT org_id, COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0), SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM (SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events
      UNION ALL SELECT org_id, ts, model, provider, user_id, project_id, feature, session_id, requests, status, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, reasoning_tokens, images, duration_ms, cost_nano, latency_ms FROM usage_events_archive) e
GROUP BY org_id;

-- The cross-product rollups are gone; everything reads the tables above.
DROP TABLE usage_rollups;
DROP TABLE session_rollups;
DROP TABLE latency_histogram;
