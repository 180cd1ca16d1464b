//! Invoices: one per organization and billing period.
//!
//! The billing period is the calendar month in the organization's time zone,
//! the same window the monthly limits count in, so the usage panel and the
//! invoice agree on what "this month" used. (Stripe subscriptions are
//! anchored at the next month's start, see [`super::service`].)
//!
//! A period's invoice is a draft while the period runs; plan changes add
//! their proration lines to it. Closing the period adds the base fee of the
//! plan in force when it began, one overage line per soft limit (summed units
//! × unit price, rounded once), and the prepaid credits that pay the usage
//! part; the total is the sum of the lines. With Stripe configured, every
//! line but the base fee (which the subscription charges) then goes to
//! Stripe as an invoice item, once per line (idempotency key = line id).

use chrono::Datelike;
use chrono_tz::Tz;
use sqlx::AnyConnection;

use super::store::{self, InvoiceRow, StoredLine};
use super::{close_invoice, round_to_cents, Billing, InvoiceLineView, InvoiceView, LineKind, NANOS_PER_CENT};
use crate::clock::to_rfc3339;
use crate::db::Db;
use crate::ids::{is_valid_id, new_id};
use crate::plans::{self, Metric, OrgPlan, Period, PlanView};
use crate::calendar::{local_date, to_local_rfc3339, window, zone, Window};
use crate::{Error, Result};

/// The billing period containing `at`.
pub fn period(tz: Tz, at: i64) -> Window {
    window(tz, Period::Month, at)
}

/// "November 2026".
pub fn period_label(tz: Tz, start: i64) -> String {
    let d = local_date(tz, start);
    const MONTHS: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    format!("{} {}", MONTHS[d.month0() as usize], d.year())
}

/// "INV-202611-1a2b3c4d": the period and the organization id's random tail.
fn number(tz: Tz, org_id: &str, start: i64) -> String {
    let d = local_date(tz, start);
    let tail: String = org_id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
    format!("INV-{:04}{:02}-{tail}", d.year(), d.month())
}

/// The draft of the period containing `at`, created (for `plan_code`, the
/// plan in force when the period began) if missing.
pub(crate) async fn ensure_draft(conn: &mut AnyConnection, org_id: &str, tz: Tz, plan_code: &str, at: i64) -> Result<InvoiceRow> {
    let w = period(tz, at);
    if let Some(row) = store::invoice_for_period(conn, org_id, w.start_ms).await? {
        return Ok(row);
    }
    let row = InvoiceRow {
        id: new_id(),
        org_id: org_id.to_string(),
        number: number(tz, org_id, w.start_ms),
        period_start: w.start_ms,
        period_end: w.end_ms,
        plan_code: plan_code.to_string(),
        status: "draft".into(),
        total_cents: 0,
        closed_at: None,
        stripe_synced_at: None,
    };
    store::insert_draft(conn, &row, at).await?;
    store::invoice_for_period(conn, org_id, w.start_ms).await?.ok_or(Error::Internal("draft invoice vanished".into()))
}

/// A plan change at `at`: makes sure the period's draft remembers the plan
/// it began on, and for an upgrade adds the proration lines (credit for the
/// old plan's unused time, charge for the new plan's rest of the period).
/// Downgrades and changes to a plan of the same fee add nothing.
pub(crate) async fn record_plan_change(conn: &mut AnyConnection, org_id: &str, tz: Tz, from: &PlanView, to: &PlanView, at: i64) -> Result<()> {
    let draft = ensure_draft(conn, org_id, tz, &from.code, at).await?;
    if draft.status != "draft" || to.monthly_price_nanos <= from.monthly_price_nanos {
        return Ok(());
    }
    let [mut credit, mut charge] = super::proration(from.monthly_price_nanos, to.monthly_price_nanos, draft.period_start, draft.period_end, at)?;
    credit.description = format!("Unused time on {} after {}", from.name, to_local_rfc3339(tz, at).get(..10).unwrap_or(""));
    charge.description = format!("{} for the rest of {}", to.name, period_label(tz, draft.period_start));
    for line in [credit, charge] {
        if line.amount_cents != 0 {
            let view = InvoiceLineView { kind: line.kind, description: line.description, quantity: None, unit_price_nanos: None, amount_cents: line.amount_cents };
            store::insert_line(conn, &draft.id, org_id, 10, &view, at).await?;
        }
    }
    Ok(())
}

/// The lines a period's invoice has before credits: base fee, stored
/// proration lines, overage of each soft monthly limit with a price.
async fn charges(conn: &mut AnyConnection, inv: &InvoiceRow, org: &OrgPlan) -> Result<Vec<InvoiceLineView>> {
    let tz = zone(&org.time_zone);
    let start_plan = plans::store::plans(conn, Some(&inv.plan_code)).await?.pop();
    let mut lines = Vec::new();
    if let Some(p) = start_plan.filter(|p| p.monthly_price_nanos > 0) {
        lines.push(InvoiceLineView {
            kind: LineKind::Base,
            description: format!("{} plan, {}", p.name, period_label(tz, inv.period_start)),
            quantity: None,
            unit_price_nanos: None,
            amount_cents: round_to_cents(i128::from(p.monthly_price_nanos)),
        });
    }
    lines.extend(store::lines(conn, &inv.id).await?.into_iter().map(|l| l.view).filter(|l| matches!(l.kind, LineKind::ProrationCredit | LineKind::ProrationCharge)));
    lines.extend(overage_lines(conn, inv, org).await?);
    Ok(lines)
}

/// Usage beyond each soft monthly limit (with an overage price) of the
/// plan in force, over the period.
async fn overage_lines(conn: &mut AnyConnection, inv: &InvoiceRow, org: &OrgPlan) -> Result<Vec<InvoiceLineView>> {
    let used = crate::quota::store::counters::sum(conn, &inv.org_id, Window { start_ms: inv.period_start, end_ms: inv.period_end }).await?;
    let mut lines = Vec::new();
    for metric in Metric::USAGE {
        // Spend is a budget, not a billable unit: it has no overage line.
        if metric == Metric::CostUsd {
            continue;
        }
        let Some(limit) = org.limit(metric, Period::Month).filter(|l| !l.hard) else { continue };
        let (Some(price), Some(i)) = (limit.overage_nanos, crate::quota::index(metric)) else { continue };
        if let Some(line) = super::overage(metric.label(), used[i], limit.value, price) {
            let over = used[i] - limit.value;
            lines.push(InvoiceLineView {
                kind: LineKind::Overage,
                description: format!(
                    "{}: {} beyond the {} included",
                    metric.label(),
                    metric.format_amount(over),
                    metric.format_amount(limit.value)
                ),
                quantity: Some(over),
                unit_price_nanos: Some(price),
                amount_cents: line.amount_cents,
            });
        }
    }
    Ok(lines)
}

/// Credits available above the floor, in whole cents.
fn available_cents(balance: i64, floor: i64) -> i64 {
    (balance - floor).max(0) / NANOS_PER_CENT as i64
}

/// Closes a draft whose period has ended: lines, credits drawn, total.
/// Idempotent: a closed invoice is left as it is.
pub(crate) async fn close(db: &Db, billing: &Billing, invoice_id: &str, org_id: &str, now: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    store::lock_account(&mut tx, db.engine, org_id, now).await?;
    let Some(inv) = store::invoice(&mut tx, org_id, invoice_id).await? else { return Ok(false) };
    if inv.status != "draft" {
        return Ok(false);
    }
    let org = plans::store::org_plan(&mut tx, org_id).await?;
    let charges = charges(&mut tx, &inv, &org).await?;
    let usage_cents: i64 = charges.iter().filter(|l| l.kind == LineKind::Overage).map(|l| l.amount_cents).sum();
    let balance = store::balance(&mut tx, org_id).await?;
    let payable = available_cents(balance, billing.credit_floor_nanos).min(usage_cents.max(0));
    let (closed, drawn_cents) = close_invoice(charges.iter().map(|l| super::Line { kind: l.kind, description: l.description.clone(), amount_cents: l.amount_cents }).collect(), payable);
    if drawn_cents > 0 {
        let drawn = super::credits::draw(
            &mut tx,
            org_id,
            drawn_cents * NANOS_PER_CENT as i64,
            billing.credit_floor_nanos,
            &format!("invoice:{}", inv.id),
            &format!("Usage on invoice {}", inv.number),
            now,
        )
        .await?;
        if drawn != drawn_cents * NANOS_PER_CENT as i64 {
            return Err(Error::Internal(format!("credit draw mismatch on invoice {}", inv.id)));
        }
    }
    // The stored proration lines stay; the rest is written now, in order.
    for (pos, l) in closed.lines.iter().enumerate() {
        if matches!(l.kind, LineKind::ProrationCredit | LineKind::ProrationCharge) {
            continue;
        }
        let source = charges.iter().find(|c| c.kind == l.kind && c.description == l.description);
        let view = InvoiceLineView {
            kind: l.kind,
            description: l.description.clone(),
            quantity: source.and_then(|s| s.quantity),
            unit_price_nanos: source.and_then(|s| s.unit_price_nanos),
            amount_cents: l.amount_cents,
        };
        let position = match l.kind {
            LineKind::Base => 0,
            LineKind::CreditsApplied => 1000,
            _ => 100 + pos as i64,
        };
        store::insert_line(&mut tx, &inv.id, org_id, position, &view, now).await?;
    }
    store::finalize(&mut tx, &inv.id, closed.total_cents, now).await?;
    // The invoice.finalized webhooks carry the invoice as the API shows it.
    let finalized = store::invoice(&mut tx, org_id, &inv.id).await?.ok_or(Error::NotFound("invoice"))?;
    let labels = Labels::load(&mut tx, org_id).await?;
    let shown = view(&mut tx, &labels, &finalized).await?;
    let subject = format!("invoice.finalized: {}", shown.number);
    let mut fields = serde_json::Map::new();
    fields.insert("invoice".into(), serde_json::to_value(&shown).map_err(|e| Error::Internal(e.to_string()))?);
    crate::alerts::webhooks::publish(&mut tx, org_id, crate::alerts::WebhookEventType::InvoiceFinalized, None, &subject, fields, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// What an organization's invoices are shown with, read once per page.
struct Labels {
    org_name: String,
    tz: Tz,
    plan_names: std::collections::HashMap<String, String>,
}

impl Labels {
    async fn load(conn: &mut AnyConnection, org_id: &str) -> Result<Self> {
        let (org_name, tz) = crate::orgs::store::existing_name_and_zone(&mut *conn, org_id).await?;
        let plan_names = crate::plans::store::names(&mut *conn).await?.into_iter().collect();
        Ok(Labels { org_name, tz: zone(&tz), plan_names })
    }
}

/// The view of a stored invoice.
async fn view(conn: &mut AnyConnection, labels: &Labels, inv: &InvoiceRow) -> Result<InvoiceView> {
    let lines = store::lines(conn, &inv.id).await?.into_iter().map(|l| l.view).collect();
    Ok(decorate(labels, inv, lines, inv.total_cents))
}

fn decorate(labels: &Labels, inv: &InvoiceRow, lines: Vec<InvoiceLineView>, total_cents: i64) -> InvoiceView {
    let tz = labels.tz;
    let plan_name = labels.plan_names.get(&inv.plan_code).cloned().unwrap_or_else(|| inv.plan_code.clone());
    InvoiceView {
        id: inv.id.clone(),
        number: inv.number.clone(),
        org_id: inv.org_id.clone(),
        org_name: labels.org_name.clone(),
        period_start: to_local_rfc3339(tz, inv.period_start),
        period_end: to_local_rfc3339(tz, inv.period_end),
        period_label: period_label(tz, inv.period_start),
        plan_code: inv.plan_code.clone(),
        plan_name,
        status: inv.status.clone(),
        lines,
        total_cents,
        closed_at: inv.closed_at.map(to_rfc3339),
        sent_to_stripe: inv.stripe_synced_at.is_some(),
    }
}

/// The current period's invoice as it stands: what closing it now would
/// bill (credits shown as they would apply at the current balance).
pub async fn preview(conn: &mut AnyConnection, billing: &Billing, org: &OrgPlan, now: i64) -> Result<InvoiceView> {
    let tz = zone(&org.time_zone);
    let w = period(tz, now);
    let inv = match store::invoice_for_period(conn, &org.org_id, w.start_ms).await? {
        Some(row) => row,
        None => InvoiceRow {
            id: String::new(),
            org_id: org.org_id.clone(),
            number: number(tz, &org.org_id, w.start_ms),
            period_start: w.start_ms,
            period_end: w.end_ms,
            plan_code: org.plan_code.clone(),
            status: "draft".into(),
            total_cents: 0,
            closed_at: None,
            stripe_synced_at: None,
        },
    };
    let charges = charges(conn, &inv, org).await?;
    let usage_cents: i64 = charges.iter().filter(|l| l.kind == LineKind::Overage).map(|l| l.amount_cents).sum();
    let balance = store::balance(conn, &org.org_id).await?;
    let payable = available_cents(balance, billing.credit_floor_nanos).min(usage_cents.max(0));
    let mut lines = charges.clone();
    let (closed, _) = close_invoice(charges.into_iter().map(|l| super::Line { kind: l.kind, description: l.description, amount_cents: l.amount_cents }).collect(), payable);
    if let Some(c) = closed.lines.iter().find(|l| l.kind == LineKind::CreditsApplied) {
        lines.push(InvoiceLineView { kind: c.kind, description: c.description.clone(), quantity: None, unit_price_nanos: None, amount_cents: c.amount_cents });
    }
    let labels = Labels::load(conn, &org.org_id).await?;
    Ok(decorate(&labels, &inv, lines, closed.total_cents))
}

/// The organization's closed invoices, newest first.
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<InvoiceView>> {
    let mut conn = db.reader().acquire().await?;
    let rows = store::final_invoices(&mut conn, org_id).await?;
    let labels = Labels::load(&mut conn, org_id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(view(&mut conn, &labels, r).await?);
    }
    Ok(out)
}

/// One closed invoice of the organization (another organization's is "not found").
pub async fn get(db: &Db, org_id: &str, id: &str) -> Result<InvoiceView> {
    if !is_valid_id(id) || !is_valid_id(org_id) {
        return Err(Error::NotFound("invoice"));
    }
    let mut conn = db.reader().acquire().await?;
    let row = store::invoice(&mut conn, org_id, id).await?.filter(|r| r.status == "final").ok_or(Error::NotFound("invoice"))?;
    let labels = Labels::load(&mut conn, org_id).await?;
    view(&mut conn, &labels, &row).await
}

/// The invoice as CSV: one row per line, then the total (cells safe to
/// open in a spreadsheet).
pub fn csv(inv: &InvoiceView) -> String {
    let usd = super::cents_to_usd;
    let mut out = crate::spreadsheet::CsvOut::with_header(&["invoice", "period", "kind", "description", "quantity", "unit_price_usd", "amount_usd"]);
    for l in &inv.lines {
        let unit = l.unit_price_nanos.map(|n| crate::pricing::NanoUsd::from_nanos(n).to_usd_string()).unwrap_or_default();
        out.row([
            inv.number.as_str(),
            inv.period_label.as_str(),
            l.kind.as_str(),
            l.description.as_str(),
            &l.quantity.map(|q| q.to_string()).unwrap_or_default(),
            &unit,
            &usd(l.amount_cents),
        ]);
    }
    out.row([inv.number.as_str(), inv.period_label.as_str(), "total", "Total", "", "", &usd(inv.total_cents)]);
    out.into_string()
}

/// The periodic work: a draft for every paying organization's current
/// period (so it remembers the plan the period began on), closing drafts
/// whose period ended, then sending closed lines to Stripe.
pub async fn run_due(db: &Db, billing: &Billing, now: i64) -> Result<()> {
    let paying = {
        let mut conn = db.reader().acquire().await?;
        crate::plans::store::paying_orgs(&mut conn).await?
    };
    let (open, trialing) = {
        let mut conn = db.reader().acquire().await?;
        (store::open_periods(&mut conn, now).await?, crate::trials::trialing_org_ids(&mut conn).await?)
    };
    // A trialing organization's period bills the plan paid for before the
    // trial: its draft is made when the trial starts or ends, never here.
    for (org_id, tz, plan_code) in paying.into_iter().filter(|(o, _, _)| !trialing.contains(o)) {
        let tz = zone(&tz);
        if !open.contains(&(org_id.clone(), period(tz, now).start_ms)) {
            let mut tx = db.begin().await?;
            ensure_draft(&mut tx, &org_id, tz, &plan_code, now).await?;
            tx.commit().await?;
        }
    }
    let due = {
        let mut conn = db.reader().acquire().await?;
        store::due_drafts(&mut conn, now).await?
    };
    for inv in due {
        close(db, billing, &inv.id, &inv.org_id, now).await?;
        super::service::apply_pending_change(db, billing, &inv.org_id, now).await?;
    }
    sync_to_stripe(db, billing, now).await
}

/// Sends the lines of closed invoices (all but the base fee, which the
/// subscription itself charges) to Stripe as invoice items, once each.
pub async fn sync_to_stripe(db: &Db, billing: &Billing, now: i64) -> Result<()> {
    let Some(stripe) = billing.stripe() else { return Ok(()) };
    let pending = {
        let mut conn = db.reader().acquire().await?;
        store::unsynced(&mut conn).await?
    };
    for inv in pending {
        let (account, lines): (store::Account, Vec<StoredLine>) = {
            let mut conn = db.reader().acquire().await?;
            (store::account(&mut conn, &inv.org_id).await?, store::lines(&mut conn, &inv.id).await?)
        };
        let Some(customer) = account.customer_id.clone() else { continue };
        for line in lines.iter().filter(|l| l.view.kind != LineKind::Base && l.stripe_item_id.is_none() && l.view.amount_cents != 0) {
            let item = stripe
                .create_invoice_item(&super::stripe::InvoiceItemRequest {
                    customer_id: customer.clone(),
                    subscription_id: account.subscription_id.clone(),
                    amount_cents: line.view.amount_cents,
                    description: format!("{} ({})", line.view.description, inv.number),
                    idempotency_key: format!("tollbooth-line-{}", line.id),
                    metadata: vec![("org_id".into(), inv.org_id.clone()), ("invoice".into(), inv.number.clone())],
                })
                .await?;
            let mut tx = db.begin().await?;
            store::set_line_item(&mut tx, &line.id, &item).await?;
            tx.commit().await?;
        }
        let mut tx = db.begin().await?;
        store::mark_synced(&mut tx, &inv.id, now).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_local_calendar_months_with_readable_labels() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        // 2026-11-30T20:00Z is already 1 December in Kolkata.
        let at = 1_796_068_800_000;
        let w = period(tz, at);
        assert_eq!(period_label(tz, w.start_ms), "December 2026");
        assert_eq!(to_local_rfc3339(tz, w.start_ms), "2026-12-01T00:00:00+05:30");
        assert_eq!(number(tz, "0190aaaa-bbbb-7ccc-8ddd-eeee12345678", w.start_ms), "INV-202612-12345678");
        assert_eq!(available_cents(10_999_999_999, 0), 1099);
        assert_eq!(available_cents(1_000_000_000, 2_000_000_000), 0);
    }
}
