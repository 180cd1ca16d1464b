//! Storage of alert settings (`alert_settings`).

use sqlx::{AnyConnection, Row};

use crate::alerts::AlertSettings;
use crate::pricing::NanoUsd;
use crate::Result;

/// The organization's saved settings with the spike minimum in nano-USD;
/// `None` until someone saves them.
pub(crate) async fn get(conn: &mut AnyConnection, org_id: &str) -> Result<Option<(AlertSettings, i64)>> {
    let row = sqlx::query(
        "SELECT email_enabled, spike_enabled, spike_percent, spike_min_nanos, error_rate_percent, error_min_requests, \
         latency_p95_ms, notify_owners, notify_admins, extra_recipients FROM alert_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let extra: String = r.try_get("extra_recipients")?;
    let spike_min: i64 = r.try_get("spike_min_nanos")?;
    Ok(Some((
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
    )))
}

/// Saves the organization's settings (already checked), with the spike
/// minimum in nano-USD.
pub(crate) async fn save(conn: &mut AnyConnection, org_id: &str, s: &AlertSettings, spike_min_nanos: i64, now: i64) -> Result<()> {
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
    .bind(spike_min_nanos)
    .bind(s.error_rate_percent as i64)
    .bind(s.error_min_requests as i64)
    .bind(s.latency_p95_ms.map(|v| v as i64))
    .bind(s.notify_owners as i64)
    .bind(s.notify_admins as i64)
    .bind(s.extra_recipients.join(","))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
