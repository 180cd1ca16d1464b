-- Gateway policies (issue 18).
--
-- A key's model allowlist: the glob patterns (`*` any run, `?` one
-- character) of the models the key may call through the gateway, one per
-- line, trimmed, without duplicates, in the order given (written only by
-- tollbooth::api_keys::ModelAllowlist). NULL: every model.
ALTER TABLE api_keys ADD COLUMN model_allowlist TEXT;

-- Whether the gateway refuses (400) a call to a model the price book has no
-- price for, instead of forwarding it and recording it unpriced. 0 or 1, off
-- by default.
ALTER TABLE organizations ADD COLUMN refuse_unpriced_models BIGINT NOT NULL DEFAULT 0;
