-- Pricing completeness (issue 19): every unit an event reports is charged or
-- named; model names resolve to price-book entries; price-book imports are
-- recorded.

-- Per event (live and archived alike, same columns in the same order, since
-- the event listing reads `usage_events UNION ALL usage_events_archive`):
--   usage_detail    JSON of the other priced dimensions and the choices that
--                   pick their prices (tollbooth::metering::event::Detail:
--                   audio/image tokens, 1-hour cache writes, characters,
--                   pixels, queries, pages, service_tier, resolution, size,
--                   quality), absent fields left out; NULL: none sent.
--   priced_model    the price-book entry that priced the event (alias
--                   resolution; `model` keeps the name sent); NULL: unpriced.
--   unpriced_units  the event fields nothing in that entry prices, comma-
--                   separated: the event is partly priced ("partial"); NULL:
--                   every unit was charged (or the event is unpriced).
--   pricing_notes   prices that stood in for others (a service tier without
--                   its own price, off-peak rates), one per line; NULL: none.
ALTER TABLE usage_events ADD COLUMN usage_detail TEXT;
ALTER TABLE usage_events ADD COLUMN priced_model TEXT;
ALTER TABLE usage_events ADD COLUMN unpriced_units TEXT;
ALTER TABLE usage_events ADD COLUMN pricing_notes TEXT;
ALTER TABLE usage_events_archive ADD COLUMN usage_detail TEXT;
ALTER TABLE usage_events_archive ADD COLUMN priced_model TEXT;
ALTER TABLE usage_events_archive ADD COLUMN unpriced_units TEXT;
ALTER TABLE usage_events_archive ADD COLUMN pricing_notes TEXT;

-- Events priced before this migration were priced by their own name.
UPDATE usage_events SET priced_model = model WHERE cost_nano IS NOT NULL;
UPDATE usage_events_archive SET priced_model = model WHERE cost_nano IS NOT NULL;

-- Partly priced events by organization, model and the set of units nothing
-- priced: listed for organization and platform admins beside unpriced
-- models. Maintained on write, in the ingest transaction; one row per
-- distinct gap, never per event. Times are UTC ms.
CREATE TABLE pricing_gaps (
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    model       TEXT NOT NULL,            -- as sent
    units       TEXT NOT NULL,            -- e.g. 'seconds' or 'audio_input_tokens,audio_output_tokens'
    events      BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (org_id, model, units)
);

-- Model names that resolved to another price-book entry (alias resolution),
-- by organization: what the admin price page shows. Maintained on write.
CREATE TABLE model_aliases (
    org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    model       TEXT NOT NULL,            -- as sent
    provider    TEXT NOT NULL,            -- as sent; '' when none
    entry       TEXT NOT NULL,            -- the price-book entry used
    events      BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (org_id, model, provider, entry)
);

-- Every price-book import (the CLI, from a file or an https URL, and the
-- scheduled refresh): when, from where, effective from when, what changed.
CREATE TABLE price_imports (
    id              TEXT PRIMARY KEY,
    source          TEXT NOT NULL,        -- a file path, an URL, or 'catalog'
    imported_at     BIGINT NOT NULL,
    effective_from  BIGINT NOT NULL,
    added           BIGINT NOT NULL,
    changed         BIGINT NOT NULL,
    unchanged       BIGINT NOT NULL,
    trigger_kind    TEXT NOT NULL CHECK (trigger_kind IN ('cli', 'scheduled', 'first_start'))
);
CREATE INDEX price_imports_at ON price_imports (imported_at);

-- Every rollup counts the partly priced events beside the unpriced ones, so
-- that no page calls a total priced when part of it is not (events stored
-- before this migration were priced whole or not at all: 0 is exact).
ALTER TABLE rollup_org_hourly ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_org_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_model_hourly ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_model_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_user_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_project_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_feature_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollup_session_daily ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_totals ADD COLUMN partial_events BIGINT NOT NULL DEFAULT 0;
