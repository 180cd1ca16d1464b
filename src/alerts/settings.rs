//! Per-organization alert settings and who receives alert mail.

use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::{recipients as confirmations, AlertSettings};
use crate::accounts::Email;
use crate::audit::{self, By};
use crate::clock::now_ms;
use crate::db::Db;
use crate::pricing::NanoUsd;
use crate::{Error, Result};

/// Most extra addresses an organization may list.
pub const MAX_EXTRA_RECIPIENTS: usize = 20;

/// The organization's settings (the defaults until someone saves them),
/// with each extra address's confirmation state.
pub async fn get(db: &Db, org_id: &str) -> Result<AlertSettings> {
    let mut conn = db.reader().acquire().await?;
    let mut s = get_in(&mut conn, org_id).await?;
    s.extra_recipient_states = confirmations::states(&mut conn, org_id, &s.extra_recipients, now_ms()).await?;
    Ok(s)
}

/// Settings plus the minimum spike volume in nano-USD.
pub(crate) async fn get_in(conn: &mut AnyConnection, org_id: &str) -> Result<AlertSettings> {
    Ok(get_raw(conn, org_id).await?.0)
}

/// The settings and the spike minimum in nano-USD.
pub(crate) async fn get_raw(conn: &mut AnyConnection, org_id: &str) -> Result<(AlertSettings, i64)> {
    let row = sqlx::query(
        "SELECT email_enabled, spike_enabled, spike_percent, spike_min_nanos, error_rate_percent, error_min_requests, \
         latency_p95_ms, notify_owners, notify_admins, extra_recipients FROM alert_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else {
        return Ok((AlertSettings::default(), 1_000_000_000));
    };
    let extra: String = r.try_get("extra_recipients")?;
    let spike_min: i64 = r.try_get("spike_min_nanos")?;
    Ok((
        AlertSettings {
            email_enabled: r.try_get::<i64, _>("email_enabled")? != 0,
            spike_enabled: r.try_get::<i64, _>("spike_enabled")? != 0,
            spike_percent: r.try_get::<i64, _>("spike_percent")? as u32,
            spike_min_usd: NanoUsd::from_nanos(spike_min).to_short_usd_string(),
            error_rate_percent: r.try_get::<i64, _>("error_rate_percent")? as u32,
            error_min_requests: r.try_get::<i64, _>("error_min_requests")? as u32,
            latency_p95_ms: r.try_get::<Option<i64>, _>("latency_p95_ms")?.map(|v| v as u64),
            notify_owners: r.try_get::<i64, _>("notify_owners")? != 0,
            notify_admins: r.try_get::<i64, _>("notify_admins")? != 0,
            extra_recipients: extra.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
            extra_recipient_states: Vec::new(),
        },
        spike_min,
    ))
}

/// Checks and normalizes settings; returns them with the spike minimum in nanos.
pub fn parse(s: &AlertSettings) -> Result<(AlertSettings, i64)> {
    if !(101..=100_000).contains(&s.spike_percent) {
        return Err(Error::invalid("spike_percent", "must be between 101 and 100000 (percent of the hourly average)"));
    }
    let min = NanoUsd::parse_usd(&s.spike_min_usd).map_err(|_| {
        Error::invalid("spike_min_usd", format!("{:?} is not an amount in USD (for example 1 or 0.50)", s.spike_min_usd))
    })?;
    if min.nanos() < 0 {
        return Err(Error::invalid("spike_min_usd", "must not be negative"));
    }
    if !(1..=100).contains(&s.error_rate_percent) {
        return Err(Error::invalid("error_rate_percent", "must be between 1 and 100"));
    }
    if s.error_min_requests > 1_000_000 {
        return Err(Error::invalid("error_min_requests", "must be at most 1000000"));
    }
    if s.latency_p95_ms.is_some_and(|v| !(1..=3_600_000).contains(&v)) {
        return Err(Error::invalid("latency_p95_ms", "must be between 1 and 3600000 milliseconds, or empty for off"));
    }
    if s.extra_recipients.len() > MAX_EXTRA_RECIPIENTS {
        return Err(Error::invalid("extra_recipients", format!("at most {MAX_EXTRA_RECIPIENTS} addresses")));
    }
    let mut extra = Vec::new();
    for a in &s.extra_recipients {
        let e = Email::parse(a).map_err(|_| Error::invalid("extra_recipients", format!("{a:?} is not a valid e-mail address")))?;
        if !extra.contains(&e.as_str().to_string()) {
            extra.push(e.as_str().to_string());
        }
    }
    let normalized = AlertSettings {
        spike_min_usd: min.to_short_usd_string(),
        extra_recipients: extra,
        extra_recipient_states: Vec::new(),
        ..s.clone()
    };
    Ok((normalized, min.nanos()))
}

/// Saves the organization's settings. In the same transaction: newly listed
/// extra addresses are sent a confirmation mail (see [`confirmations`]), and
/// a change is audited as `alert_settings.update` with the settings before
/// and after (saving the same settings records nothing). `public_url` is the
/// base of the confirmation link.
pub async fn update(db: &Db, org_id: &str, input: &AlertSettings, by: &By, public_url: &str) -> Result<AlertSettings> {
    let (s, min) = parse(input)?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let before = get_in(&mut tx, org_id).await?;
    sqlx::query(
        "INSERT INTO alert_settings (org_id, email_enabled, spike_enabled, spike_percent, spike_min_nanos, error_rate_percent, \
         error_min_requests, latency_p95_ms, notify_owners, notify_admins, extra_recipients, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (org_id) DO UPDATE SET email_enabled = excluded.email_enabled, spike_enabled = excluded.spike_enabled, \
         spike_percent = excluded.spike_percent, spike_min_nanos = excluded.spike_min_nanos, \
         error_rate_percent = excluded.error_rate_percent, error_min_requests = excluded.error_min_requests, \
         latency_p95_ms = excluded.latency_p95_ms, notify_owners = excluded.notify_owners, \
         notify_admins = excluded.notify_admins, extra_recipients = excluded.extra_recipients, updated_at = excluded.updated_at",
    )
    .bind(org_id)
    .bind(s.email_enabled as i64)
    .bind(s.spike_enabled as i64)
    .bind(s.spike_percent as i64)
    .bind(min)
    .bind(s.error_rate_percent as i64)
    .bind(s.error_min_requests as i64)
    .bind(s.latency_p95_ms.map(|v| v as i64))
    .bind(s.notify_owners as i64)
    .bind(s.notify_admins as i64)
    .bind(s.extra_recipients.join(","))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let added: Vec<String> = s.extra_recipients.iter().filter(|e| !before.extra_recipients.contains(e)).cloned().collect();
    confirmations::request(&mut tx, org_id, &s.extra_recipients, &added, public_url, now).await?;
    if before != s {
        let details = json!({"before": for_log(&before), "after": for_log(&s)});
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "alert_settings.update", None).details(details)).await?;
    }
    let states = confirmations::states(&mut tx, org_id, &s.extra_recipients, now).await?;
    tx.commit().await?;
    Ok(AlertSettings { extra_recipient_states: states, ..s })
}

/// The settings as the audit log keeps them (without the derived states).
fn for_log(s: &AlertSettings) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("extra_recipient_states");
    }
    v
}

/// Who receives alert mail: owners and admins as the settings say, plus the
/// extra addresses that confirmed, each once.
pub(crate) async fn recipients(conn: &mut AnyConnection, org_id: &str, s: &AlertSettings) -> Result<Vec<String>> {
    let mut roles = Vec::new();
    if s.notify_owners {
        roles.push("owner");
    }
    if s.notify_admins {
        roles.push("admin");
    }
    let mut out: Vec<String> = Vec::new();
    if !roles.is_empty() {
        let list = roles.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ");
        let emails: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND m.role IN ({list}) ORDER BY u.email"
        ))
        .bind(org_id)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(emails);
    }
    let confirmed = confirmations::confirmed(conn, org_id).await?;
    for e in s.extra_recipients.iter().filter(|e| confirmed.contains(e)) {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_normalized() {
        let ok = AlertSettings {
            spike_min_usd: "0.50".into(),
            extra_recipients: vec!["Ops@Example.com".into(), "ops@example.com".into()],
            ..AlertSettings::default()
        };
        let (s, min) = parse(&ok).unwrap();
        assert_eq!(min, 500_000_000);
        assert_eq!(s.extra_recipients, vec!["ops@example.com"]);
        let bad = |s: AlertSettings| parse(&s).unwrap_err().field();
        assert_eq!(bad(AlertSettings { spike_percent: 100, ..AlertSettings::default() }), Some("spike_percent"));
        assert_eq!(bad(AlertSettings { spike_min_usd: "lots".into(), ..AlertSettings::default() }), Some("spike_min_usd"));
        assert_eq!(bad(AlertSettings { error_rate_percent: 0, ..AlertSettings::default() }), Some("error_rate_percent"));
        assert_eq!(bad(AlertSettings { latency_p95_ms: Some(0), ..AlertSettings::default() }), Some("latency_p95_ms"));
        assert_eq!(
            bad(AlertSettings { extra_recipients: vec!["not-an-address".into()], ..AlertSettings::default() }),
            Some("extra_recipients")
        );
    }
}
