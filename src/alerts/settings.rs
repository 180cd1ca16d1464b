//! Per-organization alert settings and who receives alert mail.

use serde_json::json;
use sqlx::AnyConnection;

use super::store::settings as store;
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
    Ok(store::get(conn, org_id).await?.unwrap_or_else(|| (AlertSettings::default(), 1_000_000_000)))
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
    store::save(&mut tx, org_id, &s, min, now).await?;
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
        out.extend(crate::orgs::store::member_emails(&mut *conn, org_id, &roles).await?);
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
