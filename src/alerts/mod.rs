//! Alerts: budget thresholds, exhausted budgets, quota refusals, spend
//! spikes, error rates and latency, and the notifications they send. This
//! module keeps the alert records, the activity checks, the settings, the
//! webhooks and the outbox; budget enforcement itself is
//! [`crate::budgets::enforce`]'s.
//!
//! Budget alerts are decided in the transaction that records the usage
//! ([`crate::budgets::enforce`]): each budget's spend per period is a counter updated with the
//! events, and a threshold fires when one batch moves that counter from below
//! it to at or above it. Concurrent batches are ordered by the counter's row
//! lock (PostgreSQL) or the single writer (SQLite), and an alert row is unique
//! per threshold × budget × period × amount, so a threshold fires once however
//! many batches cross it together. Its notifications (e-mail per recipient,
//! webhook per endpoint) go to the durable outbox in the same transaction, and
//! a background sender delivers them after commit ([`outbox`]).
//!
//! The rules (what a spike is, error rates, backoff) are pure functions
//! here, with their tests; which thresholds a change crosses is a budget
//! rule ([`crate::budgets::crossed`]).

#[cfg(feature = "ssr")]
pub mod activity;
#[cfg(feature = "ssr")]
pub mod budget;
#[cfg(feature = "ssr")]
pub mod outbox;
#[cfg(feature = "ssr")]
pub mod recipients;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod usage_hooks;
#[cfg(feature = "ssr")]
pub(crate) mod store;
#[cfg(feature = "ssr")]
pub mod webhooks;
#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    BudgetThreshold,
    BudgetExhausted,
    QuotaExceeded,
    Spike,
    ErrorRate,
    HighLatency,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BudgetThreshold => "budget_threshold",
            AlertKind::BudgetExhausted => "budget_exhausted",
            AlertKind::QuotaExceeded => "quota_exceeded",
            AlertKind::Spike => "spike",
            AlertKind::ErrorRate => "error_rate",
            AlertKind::HighLatency => "high_latency",
        }
    }

    /// A short label for lists and mail subjects.
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::BudgetThreshold => "Budget threshold",
            AlertKind::BudgetExhausted => "Budget exhausted",
            AlertKind::QuotaExceeded => "Quota exceeded",
            AlertKind::Spike => "Spend spike",
            AlertKind::ErrorRate => "Error rate",
            AlertKind::HighLatency => "High latency",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AlertKind::BudgetThreshold,
            AlertKind::BudgetExhausted,
            AlertKind::QuotaExceeded,
            AlertKind::Spike,
            AlertKind::ErrorRate,
            AlertKind::HighLatency,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An alert as the API and the UI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertView {
    pub id: String,
    pub kind: AlertKind,
    /// `organization`, `project`, `user` or `api_key`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::budgets::Scope))]
    pub scope: String,
    pub scope_id: Option<String>,
    pub budget_id: Option<String>,
    /// The period or window the alert is about (RFC 3339, organization's zone).
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    /// What was observed and the threshold it passed, as a person reads them.
    pub observed: String,
    pub threshold: String,
    /// The threshold as a percentage: of the budget (budget alerts), of the
    /// hourly average (spikes), of requests failed (error rate); `null` for
    /// the others.
    pub threshold_percent: Option<i64>,
    /// The spend at which the alert fires, USD decimal string (budget
    /// alerts: that percentage of the budget's amount); `null` when the
    /// threshold is not money.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub threshold_usd: Option<String>,
    /// The spend observed, USD decimal string (budget alerts: the period's
    /// spend; spikes: the last hour's); `null` when what was observed is not money.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::Usd>))]
    pub observed_usd: Option<String>,
    pub message: String,
    pub created_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
}

/// An organization's alert settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertSettings {
    pub email_enabled: bool,
    pub spike_enabled: bool,
    /// Spend in the last hour above this percentage of the hourly average of
    /// the previous 7 days is a spike.
    pub spike_percent: u32,
    /// ...and only when the last hour's spend reaches this much (USD).
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub spike_min_usd: String,
    /// Share of failed requests over 15 minutes that raises an alert.
    pub error_rate_percent: u32,
    /// Fewest requests in the 15 minutes before the error rate counts.
    pub error_min_requests: u32,
    /// p95 latency over 15 minutes above this raises an alert; `None`: off.
    pub latency_p95_ms: Option<u64>,
    pub notify_owners: bool,
    pub notify_admins: bool,
    pub extra_recipients: Vec<String>,
    /// Each extra address with whether it confirmed (alert mail goes only to
    /// confirmed ones). Filled when read; ignored when saving.
    #[serde(default)]
    pub extra_recipient_states: Vec<ExtraRecipient>,
}

/// An extra alert recipient and its confirmation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExtraRecipient {
    pub email: String,
    pub state: RecipientState,
}

/// Whether an extra address receives alert mail yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Followed the link: receives alert mail.
    Confirmed,
    /// Mailed a link that still works; no alert mail until it is followed.
    Pending,
    /// Its link expired: saving the settings sends a new one.
    Expired,
}

impl RecipientState {
    /// As the settings page shows it.
    pub fn label(self) -> &'static str {
        match self {
            RecipientState::Confirmed => "confirmed",
            RecipientState::Pending => "awaiting confirmation",
            RecipientState::Expired => "link expired",
        }
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            email_enabled: true,
            spike_enabled: true,
            spike_percent: 200,
            spike_min_usd: "1".into(),
            error_rate_percent: 5,
            error_min_requests: 20,
            latency_p95_ms: None,
            notify_owners: true,
            notify_admins: true,
            extra_recipients: Vec::new(),
            extra_recipient_states: Vec::new(),
        }
    }
}

/// What a webhook endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum WebhookEventType {
    /// An alert fired (every kind; the default, and what endpoints made
    /// before subscriptions existed receive).
    #[serde(rename = "alert.created")]
    AlertCreated,
    /// Usage events were recorded: batches of at most 1,000 events, each as
    /// `GET /api/v1/events` shows it.
    #[serde(rename = "usage.recorded")]
    UsageRecorded,
    /// A budget reached 100% of its amount.
    #[serde(rename = "budget.exhausted")]
    BudgetExhausted,
    /// The organization moved to another plan.
    #[serde(rename = "plan.changed")]
    PlanChanged,
    /// An invoice was closed with its final total.
    #[serde(rename = "invoice.finalized")]
    InvoiceFinalized,
}

impl WebhookEventType {
    /// Every type, in the order the settings page lists them.
    pub const ALL: [WebhookEventType; 5] = [
        WebhookEventType::AlertCreated,
        WebhookEventType::UsageRecorded,
        WebhookEventType::BudgetExhausted,
        WebhookEventType::PlanChanged,
        WebhookEventType::InvoiceFinalized,
    ];

    /// The name in bodies, the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::AlertCreated => "alert.created",
            WebhookEventType::UsageRecorded => "usage.recorded",
            WebhookEventType::BudgetExhausted => "budget.exhausted",
            WebhookEventType::PlanChanged => "plan.changed",
            WebhookEventType::InvoiceFinalized => "invoice.finalized",
        }
    }

    /// As the settings page shows it.
    pub fn label(self) -> &'static str {
        match self {
            WebhookEventType::AlertCreated => "Alerts",
            WebhookEventType::UsageRecorded => "Usage events (batched)",
            WebhookEventType::BudgetExhausted => "Budget exhausted",
            WebhookEventType::PlanChanged => "Plan changed",
            WebhookEventType::InvoiceFinalized => "Invoice finalized",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A subscription as sent: at least one known type, each once (kept in
    /// [`Self::ALL`]'s order). An unknown name is refused naming it, under
    /// the field `event_types`.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Self>, (&'static str, String)> {
        let mut out = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            let t = Self::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                ("event_types", format!("unknown event type {name:?}; the types are {}", known.join(", ")))
            })?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err(("event_types", "must name at least one event type".into()));
        }
        out.sort();
        Ok(out)
    }
}

/// An outgoing webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = WebhookEndpoint))]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    /// What it receives.
    pub event_types: Vec<WebhookEventType>,
    pub enabled: bool,
    pub consecutive_failures: i64,
    /// Why it was disabled, when it was.
    pub disabled_reason: Option<String>,
    pub created_at: String,
}

/// A new endpoint with its signing secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = CreatedWebhookEndpoint))]
pub struct CreatedEndpoint {
    pub endpoint: EndpointView,
    pub secret: String,
}

/// One attempt to deliver a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = WebhookDelivery))]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub notification_id: String,
    pub subject: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: String,
    /// The notification's state now: `pending` (will retry), `sent` or `failed`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::DeliveryState))]
    pub state: String,
}

/// An e-mail in the outbox, as platform admins read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `held` (no SMTP configured) or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// The spike rule: spend in the last hour is above `percent`% of the hourly
/// average of the previous 7 days (`previous_week` / 168), and at least
/// `min_volume`. A week with no spend at all is no baseline: nothing fires
/// (a new organization's first hour is not a spike).
pub fn is_spike(last_hour: i64, previous_week: i64, percent: u32, min_volume: i64) -> bool {
    if last_hour < min_volume || previous_week <= 0 {
        return false;
    }
    // last_hour > percent/100 × previous_week/168, without division.
    (last_hour as i128) * 100 * 168 > (previous_week as i128) * percent as i128
}

/// The error-rate rule: more than `percent`% of at least `min_requests`
/// requests failed.
pub fn is_error_rate_high(failed: i64, total: i64, percent: u32, min_requests: u32) -> bool {
    total >= min_requests as i64 && total > 0 && (failed as i128) * 100 > (total as i128) * percent as i128
}

/// The 0-based index of the 95th percentile (nearest rank) among `n` values.
pub fn p95_rank(n: i64) -> i64 {
    ((n * 95 + 99) / 100 - 1).max(0)
}

/// Most attempts at a notification before it is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Consecutive failed deliveries after which a webhook endpoint is disabled.
pub const DISABLE_AFTER_FAILURES: i64 = 5;

/// Delay before attempt `attempt + 1` after `attempt` failed ones:
/// 10 s, 20 s, 40 s, … capped at one hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (10_000i64 << exp).min(3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hourly spend for 7 days, then the last hour.
    fn week(hourly: impl Fn(i64) -> i64) -> i64 {
        (0..168).map(hourly).sum()
    }

    #[test]
    fn a_spike_fires_and_steady_growth_does_not() {
        let usd = 1_000_000_000;
        // Steady $2/hour, then $10 in the last hour: 500% of the average.
        assert!(is_spike(10 * usd, week(|_| 2 * usd), 200, usd));
        // Steady growth of 1% of the first hour every hour ($1.00 → $2.68):
        // the last hour is 2.68× the week's first hour but only 1.46× its
        // hourly average.
        let growth = |h: i64| usd + usd * h / 100;
        let last = growth(168);
        assert!(!is_spike(last, week(growth), 200, usd), "steady growth is not a spike");
        // Flat: never.
        assert!(!is_spike(2 * usd, week(|_| 2 * usd), 200, usd));
        // A spike below the minimum volume is not paged.
        assert!(!is_spike(20_000_000, week(|_| 1_000_000), 200, usd), "$0.02 is below $1");
        // No baseline: nothing.
        assert!(!is_spike(50 * usd, 0, 200, usd));
        // Exactly 200% is not above it.
        assert!(!is_spike(2 * usd, week(|_| usd), 200, usd));
    }

    #[test]
    fn error_rate_needs_volume_and_more_than_the_share() {
        assert!(is_error_rate_high(6, 100, 5, 20));
        assert!(!is_error_rate_high(5, 100, 5, 20), "exactly 5% is not over 5%");
        assert!(!is_error_rate_high(5, 10, 5, 20), "10 requests are below the minimum");
        assert!(!is_error_rate_high(0, 0, 5, 0));
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95_rank(1), 0);
        assert_eq!(p95_rank(20), 18);
        assert_eq!(p95_rank(100), 94);
        assert_eq!(p95_rank(101), 95);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(4), 80_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }

    #[test]
    fn event_type_lists_are_parsed_deduplicated_and_unknown_names_refused() {
        use WebhookEventType::*;
        assert_eq!(WebhookEventType::parse_list(&["usage.recorded", " alert.created", "usage.recorded"]).unwrap(), vec![AlertCreated, UsageRecorded]);
        let (field, message) = WebhookEventType::parse_list(&["alert.created", "usage.recordd"]).unwrap_err();
        assert_eq!(field, "event_types");
        assert!(message.contains("\"usage.recordd\"") && message.contains("invoice.finalized"), "{message}");
        assert!(WebhookEventType::parse_list::<&str>(&[]).is_err());
        for t in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.as_str()));
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in ["budget_threshold", "budget_exhausted", "quota_exceeded", "spike", "error_rate", "high_latency"] {
            assert_eq!(AlertKind::parse(k).unwrap().as_str(), k);
        }
        assert!(AlertKind::parse("nope").is_none());
    }
}
