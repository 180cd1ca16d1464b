-- Webhook endpoints subscribe to event types, and usage reaches them in batches.
--
-- An endpoint lists the types it receives (comma-separated): alert.created,
-- usage.recorded, budget.exhausted, plan.changed, invoice.finalized. Endpoints
-- made before this migration keep what they received: alert.created.
ALTER TABLE webhook_endpoints ADD COLUMN event_types TEXT NOT NULL DEFAULT 'alert.created';

-- Usage waiting for its usage.recorded webhooks: one row per ingest batch of
-- an organization with an endpoint subscribed to usage.recorded, written in
-- the batch's transaction (one row a batch, never one a event), holding the
-- ids the batch stored. A background round (alerts::usage_hooks::derive)
-- takes an organization's oldest rows, turns their events into deliveries of
-- at most 1,000 events in the outbox, and deletes the rows, in one
-- transaction: a crash before its commit leaves the rows for the next
-- round, a crash after it leaves the deliveries in the outbox.
CREATE TABLE usage_webhook_batches (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    events     BIGINT NOT NULL,            -- how many ids
    event_ids  TEXT NOT NULL,              -- JSON array of the event ids the batch stored
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_webhook_batches_org ON usage_webhook_batches (org_id, seq);

-- Alerts carry their figures as numbers beside the sentences (NULL where the
-- alert has no such figure, and for alerts fired before this migration).
ALTER TABLE alerts ADD COLUMN threshold_percent BIGINT;   -- e.g. 80 (of a budget), 200 (spike), 5 (error rate)
ALTER TABLE alerts ADD COLUMN threshold_nanos BIGINT;     -- the money threshold, nano-USD
ALTER TABLE alerts ADD COLUMN observed_nanos BIGINT;      -- the money observed, nano-USD
