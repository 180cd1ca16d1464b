-- Audit entries a product writes itself (issue 22: POST /api/v1/audit-events).
--
-- The entries are ordinary rows of audit_log (same hash chain, action
-- `app.<name>`, the calling key as the actor). An entry sent with an id is
-- written once per organization and id: this table claims the id in the
-- entry's own transaction and names the entry first written.
CREATE TABLE audit_app_ids (
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    entry_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, client_id)
);

-- An organization's trail newest first, a page at a time (GET
-- /api/v1/audit-events: org_id = ? AND seq < ? ORDER BY seq DESC).
CREATE INDEX audit_log_org_seq ON audit_log (org_id, seq);
