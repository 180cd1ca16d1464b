//! Prepaid credits: an append-only ledger per organization whose balance is
//! the sum of its entries. Purchases add (once per Checkout session),
//! invoices draw what their usage costs (once per invoice, never below the
//! floor), platform admins adjust with a reason, and what is left of a
//! purchase expires after its pack's validity (oldest credit is spent first).

use sqlx::AnyConnection;

use super::store::{self, NewEntry};
use super::{expiring_remainder, CreditEntryView, CreditPackInput, CreditPackView};
use crate::accounts::UserView;
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::ids::is_valid_id;
use crate::{Error, Result};

const DAY_MS: i64 = 86_400_000;

/// The balance (nano-USD).
pub async fn balance(db: &Db, org_id: &str) -> Result<i64> {
    let mut conn = db.reader().acquire().await?;
    store::balance(&mut conn, org_id).await
}

/// The newest entries first.
pub async fn entries(conn: &mut AnyConnection, org_id: &str, limit: i64) -> Result<Vec<CreditEntryView>> {
    Ok(store::entries(conn, org_id, limit)
        .await?
        .into_iter()
        .map(|(id, kind, amount_nanos, description, created_at, expires_at)| CreditEntryView {
            id,
            kind,
            amount_nanos,
            description,
            created_at: to_rfc3339(created_at),
            expires_at: expires_at.map(to_rfc3339),
        })
        .collect())
}

/// Credits a pack bought through Checkout session `session_id`; `false` when
/// that session was credited before.
pub(crate) async fn purchase(conn: &mut AnyConnection, org_id: &str, pack: &CreditPackView, session_id: &str, now: i64) -> Result<bool> {
    store::append(
        conn,
        &NewEntry {
            org_id,
            kind: "purchase",
            amount_nanos: pack.credit_nanos,
            description: format!("Bought {}", pack.name),
            reference: Some(format!("checkout:{session_id}")),
            expires_at: Some(now + pack.valid_days * DAY_MS),
            created_by: None,
        },
        now,
    )
    .await
}

/// Draws up to `nanos` for `reference` without passing `floor`; returns what
/// was drawn (0 when nothing is available or the reference drew before).
/// The caller holds the account lock ([`store::lock_account`]).
pub(crate) async fn draw(conn: &mut AnyConnection, org_id: &str, nanos: i64, floor: i64, reference: &str, description: &str, now: i64) -> Result<i64> {
    let balance = store::balance(conn, org_id).await?;
    let amount = super::drawable(balance, floor, nanos);
    if amount <= 0 {
        return Ok(0);
    }
    let entry = NewEntry {
        org_id,
        kind: "usage",
        amount_nanos: -amount,
        description: description.to_string(),
        reference: Some(reference.to_string()),
        expires_at: None,
        created_by: None,
    };
    Ok(if store::append(conn, &entry, now).await? { amount } else { 0 })
}

/// A platform admin adds (positive) or removes (negative) credit with a
/// reason. A removal may not take the balance below the floor.
pub async fn adjust(
    db: &Db,
    actor: &UserView,
    org_id: &str,
    amount_usd: &str,
    reason: &str,
    floor: i64,
    origin: crate::audit::Origin<'_>,
) -> Result<CreditEntryView> {
    if !actor.is_platform_admin {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    if !is_valid_id(org_id) {
        return Err(Error::NotFound("organization"));
    }
    let text = amount_usd.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = crate::plans::Metric::CostUsd.parse_amount("amount", digits)?;
    if magnitude == 0 {
        return Err(Error::invalid("amount", "must not be zero; e.g. 25 adds $25, -10 removes $10"));
    }
    let amount = if negative { -magnitude } else { magnitude };
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::invalid("reason", "is required (at most 200 characters): say why the credit changes"));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    if !crate::orgs::store::exists(&mut tx, org_id).await? {
        return Err(Error::NotFound("organization"));
    }
    store::lock_account(&mut tx, db.engine, org_id, now).await?;
    let balance = store::balance(&mut tx, org_id).await?;
    if amount < 0 && balance + amount < floor {
        return Err(Error::invalid(
            "amount",
            format!(
                "would take the balance to {} below the floor of {}",
                crate::pricing::NanoUsd::from_nanos(balance + amount).to_short_usd_string(),
                crate::pricing::NanoUsd::from_nanos(floor).to_short_usd_string()
            ),
        ));
    }
    let entry = NewEntry {
        org_id,
        kind: "adjustment",
        amount_nanos: amount,
        description: reason.to_string(),
        reference: None,
        expires_at: None,
        created_by: Some(&actor.id),
    };
    store::append(&mut tx, &entry, now).await?;
    let audit_entry = crate::audit::NewEntry::new(Some(org_id), crate::audit::Actor::user(&actor.id, &actor.email), "billing.credit_adjust", Some(org_id))
        .origin(origin)
        .details(serde_json::json!({"amount_nanos": amount, "reason": reason}));
    crate::audit::record_in(&mut tx, db.engine, &audit_entry).await?;
    let view = entries(&mut tx, org_id, 1).await?.pop().ok_or(Error::Internal("entry vanished".into()))?;
    tx.commit().await?;
    Ok(view)
}

/// Writes the expiry entries of purchases whose validity ended; returns how many.
pub async fn expire_due(db: &Db, now: i64) -> Result<usize> {
    let due = {
        let mut conn = db.reader().acquire().await?;
        store::expired_purchases(&mut conn, now).await?
    };
    let mut written = 0;
    for p in due {
        let mut tx = db.begin().await?;
        store::lock_account(&mut tx, db.engine, &p.org_id, now).await?;
        let balance = store::balance(&mut tx, &p.org_id).await?;
        let newer = store::newer_live_purchases(&mut tx, &p.org_id, p.created_at, &p.id, now).await?;
        let left = expiring_remainder(balance, p.amount_nanos, newer);
        let entry = NewEntry {
            org_id: &p.org_id,
            kind: "expiry",
            amount_nanos: -left,
            description: format!("Unused credit of {} expired", to_rfc3339(p.created_at).get(..10).unwrap_or("a purchase")),
            reference: Some(format!("expiry:{}", p.id)),
            expires_at: None,
            created_by: None,
        };
        if store::append(&mut tx, &entry, now).await? {
            written += 1;
        }
        tx.commit().await?;
    }
    Ok(written)
}

/// The credit packs (all of them; the billing page shows active ones).
pub async fn packs(db: &Db) -> Result<Vec<CreditPackView>> {
    let mut conn = db.reader().acquire().await?;
    store::packs(&mut conn).await
}

/// Adds or changes a credit pack (platform admins).
pub async fn save_pack(db: &Db, actor: &UserView, input: &CreditPackInput) -> Result<CreditPackView> {
    if !actor.is_platform_admin {
        return Err(Error::Forbidden("platform admins only".into()));
    }
    let pack = input.parse()?;
    let mut tx = db.begin().await?;
    store::upsert_pack(&mut tx, &pack).await?;
    let entry = crate::audit::NewEntry::new(None, crate::audit::Actor::user(&actor.id, &actor.email), "billing.credit_pack_save", Some(&pack.code))
        .details(serde_json::to_value(&pack).unwrap_or_default());
    crate::audit::record_in(&mut tx, db.engine, &entry).await?;
    tx.commit().await?;
    Ok(pack)
}


/// The organization's latest credit ledger entries, newest first.
pub async fn recent(db: &Db, org_id: &str, limit: i64) -> Result<Vec<CreditEntryView>> {
    let mut conn = db.reader().acquire().await?;
    entries(&mut conn, org_id, limit).await
}
