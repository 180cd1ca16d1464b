-- Billing: Stripe customers and subscriptions, verified webhook events,
-- invoices per billing period, prepaid credit packs and the credit ledger.
--
-- Conventions as before: ids TEXT, times BIGINT UTC ms, flags BIGINT 0/1.
-- Invoice amounts are whole cents (each line rounded once); credits are
-- nano-USD like every other amount before it reaches an invoice line.

-- The Stripe Price that bills each paid plan (the plan editor sets it;
-- STRIPE_PLAN_PRICES overrides it from the environment).
ALTER TABLE plans ADD COLUMN stripe_price_id TEXT;

-- One row per organization that has been in touch with Stripe, or whose
-- payments failed, or that has a downgrade waiting for the period's end.
CREATE TABLE billing_accounts (
    org_id                 TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT UNIQUE,
    subscription_status    TEXT,
    subscription_price_id  TEXT,
    current_period_end     BIGINT,
    cancel_at_period_end   BIGINT NOT NULL DEFAULT 0,
    -- Stripe's `created` (ms) of the newest subscription state applied:
    -- an older event arriving late does not overwrite a newer state.
    subscription_state_at  BIGINT,
    pending_plan_code      TEXT,        -- a downgrade taking effect when the period ends
    payment_failed_at      BIGINT,      -- dunning: set by invoice.payment_failed
    grace_until            BIGINT,      -- ... then the organization drops to Starter
    updated_at             BIGINT NOT NULL
);

-- Every verified Stripe event, by Stripe's id: a replay finds its row and
-- is acknowledged without being applied again.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    created     BIGINT NOT NULL,        -- Stripe's timestamp, ms
    org_id      TEXT,
    received_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'failed')),
    detail      TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL
);
CREATE INDEX stripe_events_org ON stripe_events (org_id, received_at);

-- One invoice per organization and billing period (the calendar month in
-- the organization's time zone, the window monthly quotas use). A draft
-- collects proration lines as plans change; closing the period adds the
-- base fee, overage and credits, and fixes the total (the sum of the lines).
CREATE TABLE invoices (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    number            TEXT NOT NULL UNIQUE,
    period_start      BIGINT NOT NULL,
    period_end        BIGINT NOT NULL,
    plan_code         TEXT NOT NULL,    -- the plan in force when the period began
    status            TEXT NOT NULL CHECK (status IN ('draft', 'final')),
    total_cents       BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    closed_at         BIGINT,
    stripe_synced_at  BIGINT,           -- overage sent to Stripe as invoice items
    UNIQUE (org_id, period_start)
);
CREATE INDEX invoices_due ON invoices (status, period_end);

CREATE TABLE invoice_lines (
    id               TEXT PRIMARY KEY,
    invoice_id       TEXT NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    org_id           TEXT NOT NULL,
    position         BIGINT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('base', 'proration_credit', 'proration_charge', 'overage', 'credits_applied')),
    description      TEXT NOT NULL,
    quantity         BIGINT,            -- overage: units beyond the included amount
    unit_price_nanos BIGINT,
    amount_cents     BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    stripe_item_id   TEXT               -- the Stripe invoice item that bills it
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);

-- Prepaid credit packs on sale (platform admins edit them).
CREATE TABLE credit_packs (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    price_cents     BIGINT NOT NULL CHECK (price_cents > 0),
    bonus_percent   BIGINT NOT NULL DEFAULT 0 CHECK (bonus_percent >= 0 AND bonus_percent <= 100),
    valid_days      BIGINT NOT NULL DEFAULT 365 CHECK (valid_days > 0),
    stripe_price_id TEXT,
    active          BIGINT NOT NULL DEFAULT 1,
    sort_order      BIGINT NOT NULL DEFAULT 0
);
INSERT INTO credit_packs (code, name, price_cents, bonus_percent, valid_days, sort_order) VALUES
    ('credits-10', '$10 credits', 1000, 0, 365, 10),
    ('credits-50', '$50 credits + 5% bonus', 5000, 5, 365, 20),
    ('credits-200', '$200 credits + 10% bonus', 20000, 10, 365, 30);

-- The credit ledger: append-only entries; the balance is their sum.
-- `reference` makes each purchase (Checkout session), drawdown (invoice)
-- and expiry (purchase entry) happen once.
CREATE TABLE credit_entries (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('purchase', 'usage', 'adjustment', 'expiry')),
    amount_nanos BIGINT NOT NULL,       -- positive adds credit, negative draws it
    description  TEXT NOT NULL,
    reference    TEXT UNIQUE,
    expires_at   BIGINT,                -- purchases: when what is left of them expires
    created_by   TEXT,                  -- a user id for adjustments
    created_at   BIGINT NOT NULL
);
CREATE INDEX credit_entries_org ON credit_entries (org_id, created_at);
