-- The embeddable usage meter (issue 23): the key that signs embed tokens and
-- the origins each organization lets frame the meter.
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms.

-- One row: the HMAC-SHA256 key of embed tokens (64 hex characters),
-- created by the first process that needs it (INSERT … ON CONFLICT DO
-- NOTHING, then read back), so it survives restarts and every server process
-- on this database signs and verifies with the same key.
CREATE TABLE embed_signing_key (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The origins (`https://app.example.com`) whose pages may show the meter in
-- a frame: sent as the meter page's CSP `frame-ancestors`. None listed: no
-- page may frame it.
CREATE TABLE embed_origins (
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    origin     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, origin)
);
