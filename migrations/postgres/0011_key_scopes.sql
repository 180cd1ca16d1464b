-- What an API key may do: a comma-separated set of `ingest` (record usage,
-- quota checks, reservations, the gateway), `read` (usage, events, exports,
-- plan, alerts, billing) and `manage` (budgets, webhooks, alert settings,
-- provider connections). Keys made before scopes existed keep all three.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'ingest,read,manage';
