//! Platform administration: admin API tokens, the tenant list, platform-wide
//! usage series and the dashboard summary.
//!
//! The DTOs here compile everywhere (the admin pages render them, also in
//! wasm); the services that read the store sit behind the `ssr` feature.
//! Every amount of money is an exact USD decimal string; token counts are
//! integers; buckets are UTC days, ISO weeks (from Monday) or months.

use serde::{Deserialize, Serialize};

use crate::Error;

#[cfg(feature = "ssr")]
mod reports;
#[cfg(feature = "ssr")]
mod store;
#[cfg(feature = "ssr")]
mod tokens;

#[cfg(feature = "ssr")]
pub use reports::*;
#[cfg(feature = "ssr")]
pub use tokens::*;

/// Every admin token starts with this.
pub const ADMIN_TOKEN_PREFIX: &str = "tb_admin_";
/// Hex characters of randomness after the prefix.
pub const ADMIN_TOKEN_SECRET_HEX_LEN: usize = 48;

/// Whether a presented token has the shape of an admin token.
pub fn is_admin_token(token: &str) -> bool {
    token.strip_prefix(ADMIN_TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == ADMIN_TOKEN_SECRET_HEX_LEN && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// An admin token as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTokenView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token just created: `secret` is the whole token, available only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAdminToken {
    pub token: AdminTokenView,
    pub secret: String,
}

/// One organization in the admin tenant list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    /// Plan code.
    pub plan: String,
    /// `active` or `suspended`.
    pub status: String,
    pub suspended_reason: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Cost of the current calendar month (UTC), exact USD.
    pub month_cost_usd: String,
    pub members: i64,
    /// The end of its active trial (RFC 3339 UTC); `None` when not trialing.
    #[serde(default)]
    pub trial_ends_at: Option<String>,
}

/// A page of the tenant list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPage {
    pub rows: Vec<TenantRow>,
    /// Organizations matching the search in all.
    pub total: i64,
    /// Rows skipped before this page.
    pub offset: i64,
}

/// Size of a series bucket (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Daily,
    Weekly,
    Monthly,
}

impl Bucket {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "daily" | "day" => Ok(Bucket::Daily),
            "weekly" | "week" => Ok(Bucket::Weekly),
            "monthly" | "month" => Ok(Bucket::Monthly),
            _ => Err(Error::invalid("period", "must be daily, weekly or monthly")),
        }
    }
}

/// What a usage series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageMetric {
    Tokens,
    Cost,
}

impl UsageMetric {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "tokens" => Ok(UsageMetric::Tokens),
            "cost" => Ok(UsageMetric::Cost),
            _ => Err(Error::invalid("metric", "must be tokens or cost")),
        }
    }
}

/// One bucket of a series: tokens and cost (both always filled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// First day of the bucket, `YYYY-MM-DD` (UTC).
    pub bucket: String,
    pub tokens: i64,
    pub cost_usd: String,
}

/// An organization's share of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub org_id: String,
    pub org_name: String,
    pub tokens: i64,
    pub cost_usd: String,
}

/// `GET /api/admin/usage`: a series (platform-wide or one organization's)
/// and, platform-wide, the top 10 organizations by the metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub tenant_id: Option<String>,
    pub metric: UsageMetric,
    pub period: Bucket,
    pub start_date: String,
    pub end_date: String,
    pub total_tokens: i64,
    pub total_cost_usd: String,
    pub series: Vec<UsagePoint>,
    pub top_consumers: Option<Vec<Consumer>>,
}

/// A figure of the dashboard: its total over the range and one value per bucket
/// (as text: integers, exact USD, percentages or milliseconds; `None`: no data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figure {
    pub total: Option<String>,
    pub series: Vec<(String, Option<String>)>,
}

/// An organization flagged on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedOrg {
    pub org_id: String,
    pub org_name: String,
    /// `quota_exceeded` or `budget_exhausted`.
    pub kind: String,
    pub alerts: i64,
    /// Last alert, RFC 3339 UTC.
    pub last_at: String,
}

/// A model seen without a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpricedSeen {
    pub model: String,
    pub events: i64,
    pub organizations: i64,
    /// RFC 3339 UTC.
    pub last_seen: String,
}

/// The platform admin dashboard for a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSummary {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket: Bucket,
    /// Organizations existing at the end of each bucket.
    pub organizations: Figure,
    /// Organizations with usage in the range / bucket.
    pub active_organizations: Figure,
    pub api_calls: Figure,
    pub tokens: Figure,
    /// Exact USD.
    pub cost_usd: Figure,
    /// Milliseconds.
    pub avg_latency_ms: Figure,
    /// Milliseconds (upper bound of the histogram bucket).
    pub p95_latency_ms: Figure,
    /// Percent with two decimals.
    pub error_rate_percent: Figure,
    pub top_by_tokens: Vec<Consumer>,
    pub top_by_cost: Vec<Consumer>,
    pub over_quota: Vec<FlaggedOrg>,
    pub over_budget: Vec<FlaggedOrg>,
    pub unpriced_models: Vec<UnpricedSeen>,
    /// Models seen in the range with units their price does not cover
    /// (last seen in the range; events counted since first seen).
    #[serde(default)]
    pub partly_priced_models: Vec<crate::metering::unpriced::PartlyPricedModel>,
    /// Newest 20 audit entries with result failure or denied.
    pub recent_failures: Vec<crate::audit::AuditEntryView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_tokens_have_their_own_prefix() {
        assert!(is_admin_token(&format!("tb_admin_{}", "0a".repeat(24))));
        assert!(!is_admin_token(&format!("tb_live_{}", "0a".repeat(24))));
        assert!(!is_admin_token("tb_admin_short"));
    }

    #[test]
    fn buckets_and_metrics_parse_or_name_their_parameter() {
        assert_eq!(Bucket::parse("weekly").unwrap(), Bucket::Weekly);
        assert_eq!(Bucket::parse("hourly").unwrap_err().field(), Some("period"));
        assert_eq!(UsageMetric::parse("cost").unwrap(), UsageMetric::Cost);
        assert_eq!(UsageMetric::parse("bytes").unwrap_err().field(), Some("metric"));
    }
}
