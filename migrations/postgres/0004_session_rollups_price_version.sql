-- Rollups by chat/job session: hourly, with the same dimensions and sums as
-- usage_rollups plus session_id ('' when the event had none). They answer
-- group_by=session without scanning raw events. Maintained on write, in the
-- same transaction as the events.
CREATE TABLE session_rollups (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bucket_start          BIGINT NOT NULL,
    session_id            TEXT NOT NULL,
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
    cost_nano             BIGINT NOT NULL,
    unpriced_events       BIGINT NOT NULL,
    latency_count         BIGINT NOT NULL,
    latency_sum_ms        BIGINT NOT NULL,
    PRIMARY KEY (org_id, bucket_start, session_id, model, provider, user_id, project_id, feature)
);

-- Backfill from the events stored before this migration.
INSERT INTO session_rollups
SELECT org_id, (ts / 3600000) * 3600000, COALESCE(session_id, ''), model, COALESCE(provider, ''),
       COALESCE(user_id, ''), COALESCE(project_id, ''), COALESCE(feature, ''),
       COUNT(*), SUM(requests), SUM(CASE WHEN status = 'success' THEN 0 ELSE 1 END),
       SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_creation_tokens), SUM(output_tokens),
       SUM(reasoning_tokens), SUM(images), SUM(duration_ms), COALESCE(SUM(cost_nano), 0),
       SUM(CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END),
       COUNT(latency_ms), COALESCE(SUM(latency_ms), 0)
FROM usage_events
GROUP BY org_id, (ts / 3600000) * 3600000, COALESCE(session_id, ''), model, COALESCE(provider, ''),
         COALESCE(user_id, ''), COALESCE(project_id, ''), COALESCE(feature, '');

-- A counter bumped by every change to model_prices. The ingest path caches
-- price histories in memory and drops the cache when this moves, so an import
-- or override made by any process is seen by the next batch of every process.
CREATE TABLE price_book_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO price_book_version (id, version) VALUES (1, 0);

CREATE FUNCTION bump_price_book_version() RETURNS trigger AS $$
BEGIN
    UPDATE price_book_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Once per statement: a catalog import of thousands of rows bumps it once.
CREATE TRIGGER model_prices_bump AFTER INSERT OR UPDATE OR DELETE ON model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_price_book_version();
