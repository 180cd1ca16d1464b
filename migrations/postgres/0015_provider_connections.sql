-- Provider connections (issue 18): an organization's own upstream accounts
-- ("bring your own key") for the gateway, taking precedence over the
-- server-wide defaults. One row per organization and name: `openai` (kind
-- openai), `anthropic` (kind anthropic), or any other lowercase name (kind
-- openai_compatible, addressed as `<name>/<model>`).
--
-- The API key is stored only encrypted (AES-256-GCM under the server's
-- TOLLBOOTH_SECRET_KEY or key file, see tollbooth::providers::secret_box):
-- `api_key_ciphertext` and `nonce` are hex, the nonce is random per write,
-- and the organization id and name are the associated data, so a ciphertext
-- copied to another row does not decrypt. `key_last4` is all that is shown.
CREATE TABLE provider_connections (
    org_id             TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL,      -- 'openai', 'anthropic', 'openai_compatible'
    base_url           TEXT,               -- NULL: the server's default base URL of the kind
    api_key_ciphertext TEXT NOT NULL,      -- hex of the AES-256-GCM ciphertext and tag
    nonce              TEXT NOT NULL,      -- hex of the 96-bit nonce
    key_last4          TEXT NOT NULL,      -- '' when the key is too short to show any of it
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    updated_by         TEXT NOT NULL,      -- e-mail or API key name of the last change
    PRIMARY KEY (org_id, name)
);
