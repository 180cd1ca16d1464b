-- Extra alert recipients confirm before they receive alert mail (security
-- review, issue 15): without it, any address typed into the alert settings
-- would get mail, a way to spam third parties.
--
-- One row per organization × address. A newly listed address gets one
-- confirmation mail with a random token (only its SHA-256 is stored) valid
-- for 7 days; alert mail goes to it once `confirmed_at` is set. Rows stay
-- when the address is removed from the settings, so removing and re-adding
-- it sends at most one confirmation mail a day (`sent_at`) and does not ask
-- an address that already confirmed again.
CREATE TABLE alert_recipient_confirmations (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email        TEXT NOT NULL,            -- normalized as the settings store it
    token_hash   TEXT NOT NULL,            -- hex SHA-256 of the link's token
    expires_at   BIGINT NOT NULL,          -- the link works until then (sent_at + 7 days)
    sent_at      BIGINT NOT NULL,          -- the last confirmation mail
    confirmed_at BIGINT,                   -- NULL until the link is followed
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, email)
);
CREATE UNIQUE INDEX alert_recipient_confirmations_token ON alert_recipient_confirmations (token_hash);
