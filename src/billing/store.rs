//! Storage of billing accounts, Stripe events, invoices, credit packs and
//! the credit ledger. Every function takes a connection or transaction and
//! the organization it works on.

use sqlx::{AnyConnection, Row};

use super::{CreditPackView, InvoiceLineView, LineKind};
use crate::db::Engine;
use crate::ids::new_id;
use crate::Result;

/// An organization's billing account (absent row: all `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub subscription_status: Option<String>,
    pub subscription_price_id: Option<String>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub subscription_state_at: Option<i64>,
    pub pending_plan_code: Option<String>,
    pub payment_failed_at: Option<i64>,
    pub grace_until: Option<i64>,
}

const ACCOUNT_COLUMNS: &str = "stripe_customer_id, stripe_subscription_id, subscription_status, subscription_price_id, \
     current_period_end, cancel_at_period_end, subscription_state_at, pending_plan_code, payment_failed_at, grace_until";

fn account_of(r: &sqlx::any::AnyRow) -> Result<Account> {
    Ok(Account {
        customer_id: r.try_get("stripe_customer_id")?,
        subscription_id: r.try_get("stripe_subscription_id")?,
        subscription_status: r.try_get("subscription_status")?,
        subscription_price_id: r.try_get("subscription_price_id")?,
        current_period_end: r.try_get("current_period_end")?,
        cancel_at_period_end: r.try_get::<i64, _>("cancel_at_period_end")? != 0,
        subscription_state_at: r.try_get("subscription_state_at")?,
        pending_plan_code: r.try_get("pending_plan_code")?,
        payment_failed_at: r.try_get("payment_failed_at")?,
        grace_until: r.try_get("grace_until")?,
    })
}

pub async fn account(conn: &mut AnyConnection, org_id: &str) -> Result<Account> {
    let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE org_id = $1"))
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(account_of).transpose().map(Option::unwrap_or_default)
}

/// Creates the account row if missing and, on PostgreSQL, locks it for the
/// rest of the transaction: credit balances and subscription states of one
/// organization are read and changed one transaction at a time (SQLite's
/// single writer does the same).
pub async fn lock_account(conn: &mut AnyConnection, engine: Engine, org_id: &str, now: i64) -> Result<Account> {
    sqlx::query("INSERT INTO billing_accounts (org_id, updated_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING")
        .bind(org_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let lock = if engine == Engine::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE org_id = $1{lock}"))
        .bind(org_id)
        .fetch_one(conn)
        .await?;
    account_of(&row)
}

/// The organization whose Stripe customer this is.
pub async fn org_of_customer(conn: &mut AnyConnection, customer_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT org_id FROM billing_accounts WHERE stripe_customer_id = $1")
        .bind(customer_id)
        .fetch_optional(conn)
        .await?)
}

/// Stores the customer id unless one is stored already; returns the stored one.
pub async fn set_customer(conn: &mut AnyConnection, org_id: &str, customer_id: &str, now: i64) -> Result<String> {
    sqlx::query(
        "INSERT INTO billing_accounts (org_id, stripe_customer_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = COALESCE(billing_accounts.stripe_customer_id, excluded.stripe_customer_id), \
         updated_at = excluded.updated_at",
    )
    .bind(org_id)
    .bind(customer_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar("SELECT stripe_customer_id FROM billing_accounts WHERE org_id = $1").bind(org_id).fetch_one(conn).await?)
}

/// Writes the subscription fields of the account.
pub async fn save_subscription(conn: &mut AnyConnection, org_id: &str, a: &Account, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE billing_accounts SET stripe_subscription_id = $2, subscription_status = $3, subscription_price_id = $4, \
         current_period_end = $5, cancel_at_period_end = $6, subscription_state_at = $7, pending_plan_code = $8, \
         payment_failed_at = $9, grace_until = $10, updated_at = $11, \
         stripe_customer_id = COALESCE(stripe_customer_id, $12) WHERE org_id = $1",
    )
    .bind(org_id)
    .bind(&a.subscription_id)
    .bind(&a.subscription_status)
    .bind(&a.subscription_price_id)
    .bind(a.current_period_end)
    .bind(a.cancel_at_period_end as i64)
    .bind(a.subscription_state_at)
    .bind(&a.pending_plan_code)
    .bind(a.payment_failed_at)
    .bind(a.grace_until)
    .bind(now)
    .bind(&a.customer_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Organizations whose grace period after a failed payment is over.
pub async fn grace_expired(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT org_id FROM billing_accounts WHERE grace_until IS NOT NULL AND grace_until <= $1")
        .bind(now)
        .fetch_all(conn)
        .await?)
}

// --- Stripe events -------------------------------------------------------------

pub async fn event_seen(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM stripe_events WHERE id = $1").bind(id).fetch_one(conn).await? > 0)
}

/// Inserts the event; `false` when its id is stored already (a replay).
pub async fn insert_event(conn: &mut AnyConnection, id: &str, kind: &str, created_ms: i64, payload: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO stripe_events (id, type, created, received_at, outcome, payload) VALUES ($1, $2, $3, $4, 'ignored', $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(created_ms)
    .bind(now)
    .bind(payload)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_event_outcome(conn: &mut AnyConnection, id: &str, org_id: Option<&str>, outcome: &str, detail: &str) -> Result<()> {
    sqlx::query("UPDATE stripe_events SET org_id = $2, outcome = $3, detail = $4 WHERE id = $1")
        .bind(id)
        .bind(org_id)
        .bind(outcome)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

// --- Invoices ------------------------------------------------------------------

/// An invoice row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub id: String,
    pub org_id: String,
    pub number: String,
    pub period_start: i64,
    pub period_end: i64,
    pub plan_code: String,
    pub status: String,
    pub total_cents: i64,
    pub closed_at: Option<i64>,
    pub stripe_synced_at: Option<i64>,
}

const INVOICE_COLUMNS: &str = "id, org_id, number, period_start, period_end, plan_code, status, total_cents, closed_at, stripe_synced_at";

fn invoice_of(r: &sqlx::any::AnyRow) -> Result<InvoiceRow> {
    Ok(InvoiceRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        number: r.try_get("number")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        plan_code: r.try_get("plan_code")?,
        status: r.try_get("status")?,
        total_cents: r.try_get("total_cents")?,
        closed_at: r.try_get("closed_at")?,
        stripe_synced_at: r.try_get("stripe_synced_at")?,
    })
}

pub async fn invoice_for_period(conn: &mut AnyConnection, org_id: &str, period_start: i64) -> Result<Option<InvoiceRow>> {
    let row = sqlx::query(&format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE org_id = $1 AND period_start = $2"))
        .bind(org_id)
        .bind(period_start)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(invoice_of).transpose()
}

pub async fn invoice(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<InvoiceRow>> {
    let row = sqlx::query(&format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(invoice_of).transpose()
}

/// The organization's closed invoices, newest first.
pub async fn final_invoices(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<InvoiceRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE org_id = $1 AND status = 'final' ORDER BY period_start DESC LIMIT 120"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(invoice_of).collect()
}

/// Drafts whose period has ended.
pub async fn due_drafts(conn: &mut AnyConnection, now: i64) -> Result<Vec<InvoiceRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE status = 'draft' AND period_end <= $1 ORDER BY period_end LIMIT 500"
    ))
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter().map(invoice_of).collect()
}

/// Closed invoices whose lines have not reached Stripe yet.
pub async fn unsynced(conn: &mut AnyConnection) -> Result<Vec<InvoiceRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE status = 'final' AND stripe_synced_at IS NULL \
         AND org_id IN (SELECT org_id FROM billing_accounts WHERE stripe_customer_id IS NOT NULL) ORDER BY closed_at LIMIT 200"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(invoice_of).collect()
}

pub async fn insert_draft(conn: &mut AnyConnection, row: &InvoiceRow, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO invoices (id, org_id, number, period_start, period_end, plan_code, status, total_cents, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'draft', 0, $7) ON CONFLICT (org_id, period_start) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.org_id)
    .bind(&row.number)
    .bind(row.period_start)
    .bind(row.period_end)
    .bind(&row.plan_code)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn finalize(conn: &mut AnyConnection, id: &str, total_cents: i64, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE invoices SET status = 'final', total_cents = $2, closed_at = $3 WHERE id = $1 AND status = 'draft'")
        .bind(id)
        .bind(total_cents)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_synced(conn: &mut AnyConnection, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE invoices SET stripe_synced_at = $2 WHERE id = $1").bind(id).bind(now).execute(conn).await?;
    Ok(())
}

/// A stored line with its id (for Stripe's idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub id: String,
    pub view: InvoiceLineView,
    pub stripe_item_id: Option<String>,
}

pub async fn lines(conn: &mut AnyConnection, invoice_id: &str) -> Result<Vec<StoredLine>> {
    let rows = sqlx::query(
        "SELECT id, kind, description, quantity, unit_price_nanos, amount_cents, stripe_item_id FROM invoice_lines \
         WHERE invoice_id = $1 ORDER BY position, created_at, id",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(StoredLine {
                id: r.try_get("id")?,
                view: InvoiceLineView {
                    kind: LineKind::parse(&kind),
                    description: r.try_get("description")?,
                    quantity: r.try_get("quantity")?,
                    unit_price_nanos: r.try_get("unit_price_nanos")?,
                    amount_cents: r.try_get("amount_cents")?,
                },
                stripe_item_id: r.try_get("stripe_item_id")?,
            })
        })
        .collect()
}

pub async fn insert_line(conn: &mut AnyConnection, invoice_id: &str, org_id: &str, position: i64, line: &InvoiceLineView, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO invoice_lines (id, invoice_id, org_id, position, kind, description, quantity, unit_price_nanos, amount_cents, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(invoice_id)
    .bind(org_id)
    .bind(position)
    .bind(line.kind.as_str())
    .bind(&line.description)
    .bind(line.quantity)
    .bind(line.unit_price_nanos)
    .bind(line.amount_cents)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_line_item(conn: &mut AnyConnection, line_id: &str, item_id: &str) -> Result<()> {
    sqlx::query("UPDATE invoice_lines SET stripe_item_id = $2 WHERE id = $1").bind(line_id).bind(item_id).execute(conn).await?;
    Ok(())
}

/// (organization, period start) of every invoice whose period has not ended.
pub async fn open_periods(conn: &mut AnyConnection, now: i64) -> Result<std::collections::HashSet<(String, i64)>> {
    let rows = sqlx::query("SELECT org_id, period_start FROM invoices WHERE period_end > $1").bind(now).fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("org_id")?, r.try_get("period_start")?))).collect()
}

// --- Credit packs and the ledger ----------------------------------------------

fn pack_of(r: &sqlx::any::AnyRow) -> Result<CreditPackView> {
    let price_cents: i64 = r.try_get("price_cents")?;
    let bonus_percent: i64 = r.try_get("bonus_percent")?;
    Ok(CreditPackView {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        price_cents,
        bonus_percent,
        credit_nanos: super::pack_credit_nanos(price_cents, bonus_percent),
        valid_days: r.try_get("valid_days")?,
        stripe_price_id: r.try_get("stripe_price_id")?,
        active: r.try_get::<i64, _>("active")? != 0,
        sort_order: r.try_get("sort_order")?,
    })
}

pub async fn packs(conn: &mut AnyConnection) -> Result<Vec<CreditPackView>> {
    let rows = sqlx::query(
        "SELECT code, name, price_cents, bonus_percent, valid_days, stripe_price_id, active, sort_order FROM credit_packs ORDER BY sort_order, code",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(pack_of).collect()
}

pub async fn upsert_pack(conn: &mut AnyConnection, p: &CreditPackView) -> Result<()> {
    sqlx::query(
        "INSERT INTO credit_packs (code, name, price_cents, bonus_percent, valid_days, stripe_price_id, active, sort_order) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
         price_cents = excluded.price_cents, bonus_percent = excluded.bonus_percent, valid_days = excluded.valid_days, \
         stripe_price_id = excluded.stripe_price_id, active = excluded.active, sort_order = excluded.sort_order",
    )
    .bind(&p.code)
    .bind(&p.name)
    .bind(p.price_cents)
    .bind(p.bonus_percent)
    .bind(p.valid_days)
    .bind(&p.stripe_price_id)
    .bind(p.active as i64)
    .bind(p.sort_order)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new ledger entry.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub org_id: &'a str,
    pub kind: &'a str,
    pub amount_nanos: i64,
    pub description: String,
    pub reference: Option<String>,
    pub expires_at: Option<i64>,
    pub created_by: Option<&'a str>,
}

/// Appends an entry; `false` when its reference exists (done before).
pub async fn append(conn: &mut AnyConnection, e: &NewEntry<'_>, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO credit_entries (id, org_id, kind, amount_nanos, description, reference, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (reference) DO NOTHING",
    )
    .bind(new_id())
    .bind(e.org_id)
    .bind(e.kind)
    .bind(e.amount_nanos)
    .bind(&e.description)
    .bind(&e.reference)
    .bind(e.expires_at)
    .bind(e.created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The balance: the sum of the organization's entries.
pub async fn balance(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(amount_nanos), 0) AS BIGINT) FROM credit_entries WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(conn)
        .await?)
}

/// A purchase whose validity has ended and that has no expiry entry yet.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub id: String,
    pub org_id: String,
    pub amount_nanos: i64,
    pub created_at: i64,
}

pub async fn expired_purchases(conn: &mut AnyConnection, now: i64) -> Result<Vec<Expiring>> {
    let rows = sqlx::query(
        "SELECT p.id, p.org_id, p.amount_nanos, p.created_at FROM credit_entries p WHERE p.kind = 'purchase' \
         AND p.expires_at IS NOT NULL AND p.expires_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM credit_entries x WHERE x.reference = 'expiry:' || p.id) \
         ORDER BY p.expires_at LIMIT 500",
    )
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok(Expiring { id: r.try_get("id")?, org_id: r.try_get("org_id")?, amount_nanos: r.try_get("amount_nanos")?, created_at: r.try_get("created_at")? }))
        .collect()
}

/// Purchases made after `created_at` that are still valid at `now`.
pub async fn newer_live_purchases(conn: &mut AnyConnection, org_id: &str, created_at: i64, id: &str, now: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_nanos), 0) AS BIGINT) FROM credit_entries WHERE org_id = $1 AND kind = 'purchase' \
         AND (created_at > $2 OR (created_at = $2 AND id > $3)) AND (expires_at IS NULL OR expires_at > $4)",
    )
    .bind(org_id)
    .bind(created_at)
    .bind(id)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

pub async fn entries(conn: &mut AnyConnection, org_id: &str, limit: i64) -> Result<Vec<(String, String, i64, String, i64, Option<i64>)>> {
    let rows = sqlx::query(
        "SELECT id, kind, amount_nanos, description, created_at, expires_at FROM credit_entries WHERE org_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get("id")?, r.try_get("kind")?, r.try_get("amount_nanos")?, r.try_get("description")?, r.try_get("created_at")?, r.try_get("expires_at")?))
        })
        .collect()
}
