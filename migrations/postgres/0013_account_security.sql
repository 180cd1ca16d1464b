-- Account security (issue 15): hashed session ids, "sign out everywhere",
-- and one throttle table for every password check and signup.

-- Session rows are now keyed by the SHA-256 (hex) of the session id, and
-- `data` holds only the session's values (never the id), so reading the
-- table yields no usable cookie. Rows keyed by a raw id cannot be found any
-- more: drop them (everyone signs in again once).
DELETE FROM sessions;

-- A session is valid only if it was signed in at or after this time (UTC
-- ms): "sign out everywhere" and a password change move it to now.
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;

-- One row per counted attempt, keyed by `email:<addr>`, `ip:<addr>` (password
-- checks) or `signup-ip:<addr>` (signups). A password check counts its
-- attempt before verifying (so parallel guesses cannot slip past the limit)
-- and removes its rows (`attempt_id`) when it succeeds. Pruned hourly.
-- Replaces login_failures, whose rows were transient.
CREATE TABLE throttle_attempts (
    throttle_key TEXT NOT NULL,
    attempt_id   TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX throttle_attempts_key ON throttle_attempts (throttle_key, at);
CREATE INDEX throttle_attempts_attempt ON throttle_attempts (attempt_id);
DROP TABLE login_failures;
