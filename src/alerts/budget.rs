//! Budget alerts: step 4 of the ingest order ([`crate::ingest`]). Budget
//! enforcement says which thresholds a batch crossed
//! ([`crate::budgets::enforce::Crossing`]); each becomes an alert, with its
//! notifications, in the batch's transaction. An alert is unique per budget
//! × period × amount × threshold, so each threshold fires once however many
//! batches cross it together, and again after the budget is raised.

use sqlx::AnyConnection;

use super::{AlertKind, NewAlert};
use crate::budgets::enforce::Crossing;
use crate::budgets::percent;
use crate::pricing::NanoUsd;
use crate::Result;

/// The alert a crossed threshold raises: `budget_exhausted` at 100% and
/// above, `budget_threshold` below.
pub fn alert_of(c: &Crossing) -> NewAlert {
    let t = c.threshold;
    let kind = if t >= 100 { AlertKind::BudgetExhausted } else { AlertKind::BudgetThreshold };
    // Sentences are for people: amounts rounded by the one rule; the exact
    // figures travel beside them (`threshold_nanos`, `observed_nanos`).
    let spent = NanoUsd::from_nanos(c.spent).for_people();
    let amount = NanoUsd::from_nanos(c.amount).for_people();
    let tail = if t >= 100 {
        format!(" The budget is used up until the period ends at {}.", c.period_end_local)
    } else {
        String::new()
    };
    let message = format!("The {} reached {t}%: {spent} of {amount} spent ({}%).{tail}", c.description, percent(c.spent, c.amount));
    NewAlert {
        kind,
        dedupe_key: format!("budget:{}:{}:{}:{t}", c.budget_id, c.period_start, c.amount),
        budget_id: Some(c.budget_id.clone()),
        scope: c.scope.as_str().into(),
        scope_id: c.scope_id.clone(),
        period_start: Some(c.period_start),
        period_end: Some(c.period_end),
        observed: format!("{spent} ({}%)", percent(c.spent, c.amount)),
        threshold: format!("{t}% of {amount}"),
        threshold_percent: Some(i64::from(t)),
        threshold_nanos: Some(share_of(c.amount, t)),
        observed_nanos: Some(c.spent),
        message,
    }
}

/// `percent`% of `amount` nano-USD, rounded down to the nano (the spend at
/// which a threshold fires).
fn share_of(amount: i64, percent: impl Into<i64>) -> i64 {
    (amount as i128 * percent.into() as i128 / 100).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Fires the alert of each crossed threshold, in order, in the caller's transaction.
pub async fn on_crossings(conn: &mut AnyConnection, org_id: &str, crossings: &[Crossing], now: i64) -> Result<()> {
    for c in crossings {
        super::fire(&mut *conn, org_id, &alert_of(c), now).await?;
    }
    Ok(())
}
