-- Metering: the effective-dated price book and usage events.
-- Money is integer nano-USD (10^-9 USD); prices are exact decimal text inside price_json.

CREATE TABLE models (
    name       TEXT PRIMARY KEY,           -- the price map's key, e.g. 'gpt-4o'
    provider   TEXT NOT NULL,
    mode       TEXT,
    created_at BIGINT NOT NULL
);

-- One row per model per price change. An event is priced by the row with the
-- greatest effective_from <= its timestamp, so past costs never change.
CREATE TABLE model_prices (
    id             TEXT PRIMARY KEY,
    model          TEXT NOT NULL REFERENCES models(name),
    effective_from BIGINT NOT NULL,
    source         TEXT NOT NULL,          -- 'catalog', 'import', 'override', 'custom'
    price_json     TEXT NOT NULL,          -- tollbooth::pricing::ModelPrice as JSON
    created_at     BIGINT NOT NULL,
    UNIQUE (model, effective_from)
);

-- Usage events. (org_id, id) is the client's idempotency key.
CREATE TABLE usage_events (
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id                    TEXT NOT NULL,
    ts                    BIGINT NOT NULL,
    received_at           BIGINT NOT NULL,
    api_key_id            TEXT,
    user_id               TEXT,
    project_id            TEXT,
    session_id            TEXT,
    feature               TEXT,
    provider              TEXT,
    model                 TEXT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    cached_input_tokens   BIGINT NOT NULL,
    cache_creation_tokens BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    reasoning_tokens      BIGINT NOT NULL,
    images                BIGINT NOT NULL,
    duration_ms           BIGINT NOT NULL,
    requests              BIGINT NOT NULL,
    latency_ms            BIGINT,
    status                TEXT NOT NULL CHECK (status IN ('success', 'error', 'rate_limited')),
    error                 TEXT,
    ip                    TEXT,
    user_agent            TEXT,
    metadata              TEXT,
    cost_nano             BIGINT,          -- NULL: unpriced (unknown model); never shown as $0
    price_id              TEXT,            -- the model_prices row that priced it
    PRIMARY KEY (org_id, id)
);
CREATE INDEX usage_events_org_ts ON usage_events (org_id, ts);
CREATE INDEX usage_events_unpriced ON usage_events (org_id, model) WHERE cost_nano IS NULL;
