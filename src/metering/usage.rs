//! The usage report: rollups grouped by time and dimensions.
//!
//! It reads hourly rollups only and folds them in Rust, so that days and
//! months start at midnight in the organization's time zone (an hour bucket
//! never straddles a local day boundary for whole-hour offsets; for zones with
//! 30/45-minute offsets an hour is attributed to the local day it starts in).
//! It never scans raw events.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, TimeZone, Timelike};
use serde::Serialize;

use super::rollup::quantile;
use super::store::rollups::{self, ReportFilter};
use crate::db::Db;
use crate::pricing::NanoUsd;
use crate::{Error, Result};

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Hour,
    Day,
    Month,
    Model,
    Provider,
    User,
    Project,
    Feature,
    Session,
}

impl GroupBy {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "hour" => GroupBy::Hour,
            "day" => GroupBy::Day,
            "month" => GroupBy::Month,
            "model" => GroupBy::Model,
            "provider" => GroupBy::Provider,
            "user" => GroupBy::User,
            "project" => GroupBy::Project,
            "feature" => GroupBy::Feature,
            "session" => GroupBy::Session,
            other => {
                return Err(Error::invalid(
                    "group_by",
                    format!("{other:?} is not one of hour, day, month, model, provider, user, project, feature, session"),
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Hour => "hour",
            GroupBy::Day => "day",
            GroupBy::Month => "month",
            GroupBy::Model => "model",
            GroupBy::Provider => "provider",
            GroupBy::User => "user",
            GroupBy::Project => "project",
            GroupBy::Feature => "feature",
            GroupBy::Session => "session",
        }
    }

    fn is_time(self) -> bool {
        matches!(self, GroupBy::Hour | GroupBy::Day | GroupBy::Month)
    }
}

/// A usage report request. `to_ms` is exclusive.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    pub group_by: Vec<GroupBy>,
    pub model: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
}

/// The longest range one report may span (a little over 13 months): a
/// report reads every hour of its range, so the range bounds its cost.
pub const MAX_RANGE_DAYS: i64 = 400;

impl UsageQuery {
    /// Checks the range: `to` after `from`, at most [`MAX_RANGE_DAYS`] apart.
    pub fn check_range(from_ms: i64, to_ms: i64) -> Result<()> {
        if to_ms <= from_ms {
            return Err(Error::invalid("to", "must be after from"));
        }
        let days = (to_ms - from_ms + 86_399_999) / 86_400_000;
        if days > MAX_RANGE_DAYS {
            return Err(Error::invalid(
                "from",
                format!("the range spans {days} days; at most {MAX_RANGE_DAYS} are allowed: narrow from and to, or make several calls"),
            ));
        }
        Ok(())
    }

    /// Parses `group_by` as one or two comma-separated names.
    pub fn parse_group_by(raw: Option<&str>) -> Result<Vec<GroupBy>> {
        let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else { return Ok(vec![GroupBy::Day]) };
        let groups = raw.split(',').map(GroupBy::parse).collect::<Result<Vec<_>>>()?;
        if groups.len() > 2 {
            return Err(Error::invalid("group_by", "at most two dimensions"));
        }
        if groups.len() == 2 && groups[0] == groups[1] {
            return Err(Error::invalid("group_by", "the two dimensions must differ"));
        }
        Ok(groups)
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    /// The group's values, by dimension name (times as RFC 3339 in the org's zone).
    pub group: BTreeMap<String, String>,
    pub events: i64,
    pub requests: i64,
    pub errors: i64,
    /// errors / events, as a decimal string with 4 places.
    pub error_rate: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_creation_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub images: i64,
    pub duration_ms: i64,
    /// Cost of priced events, USD decimal string.
    pub cost_usd: String,
    /// The same cost in nano-USD, for readers in the core (not sent).
    #[serde(skip)]
    pub cost_nanos: i64,
    /// Events whose model had no price (not in `cost_usd`).
    pub unpriced_events: i64,
    pub avg_latency_ms: Option<i64>,
    /// Upper bound of the histogram bucket holding the 95th percentile; only
    /// when grouping by time and/or model without user/project/feature filters
    /// (the histogram is kept per model, not per user, project, feature or session).
    pub p95_latency_ms: Option<i64>,
}

#[derive(Default)]
struct Acc {
    v: [i64; 13],
    latency_sum_ms: i64,
    hist: BTreeMap<i64, i64>,
}

fn local_key(tz: chrono_tz::Tz, ms: i64, g: GroupBy) -> String {
    let t = tz.timestamp_millis_opt(ms).single().unwrap_or_else(|| tz.timestamp_millis_opt(0).unwrap());
    let start = match g {
        GroupBy::Hour => t.with_minute(0).and_then(|t| t.with_second(0)),
        GroupBy::Day => tz.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0).earliest(),
        _ => tz.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).earliest(),
    };
    start.map(|s| s.to_rfc3339()).unwrap_or_default()
}

/// The report for one organization, in its time zone.
pub async fn usage(db: &Db, org_id: &str, time_zone: &str, q: &UsageQuery) -> Result<Vec<UsageRow>> {
    if q.to_ms <= q.from_ms {
        return Err(Error::invalid("to", "must be after from"));
    }
    let tz = chrono_tz::Tz::from_str(time_zone).unwrap_or(chrono_tz::UTC);
    // Grouping by session reads the session rollups (hourly, with the
    // session as a dimension); everything else the narrower usage rollups.
    let filter = ReportFilter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        model: q.model.as_deref().unwrap_or_default(),
        user_id: q.user_id.as_deref().unwrap_or_default(),
        project_id: q.project_id.as_deref().unwrap_or_default(),
        feature: q.feature.as_deref().unwrap_or_default(),
        by_session: q.group_by.contains(&GroupBy::Session),
    };
    let rows = rollups::report_rows(&mut *db.reader().acquire().await?, org_id, &filter).await?;

    let key_of = |bucket: i64, dims: [&str; 6]| -> Vec<(String, String)> {
        q.group_by
            .iter()
            .map(|g| {
                let v = match g {
                    GroupBy::Model => dims[0].to_string(),
                    GroupBy::Provider => dims[1].to_string(),
                    GroupBy::User => dims[2].to_string(),
                    GroupBy::Project => dims[3].to_string(),
                    GroupBy::Feature => dims[4].to_string(),
                    GroupBy::Session => dims[5].to_string(),
                    t => local_key(tz, bucket, *t),
                };
                (g.name().to_string(), v)
            })
            .collect()
    };

    let mut groups: BTreeMap<Vec<(String, String)>, Acc> = BTreeMap::new();
    for r in &rows {
        let d = &r.dims;
        let key = key_of(r.bucket_start, [&d[0], &d[1], &d[2], &d[3], &d[4], &d[5]]);
        let acc = groups.entry(key).or_default();
        for (v, sum) in acc.v.iter_mut().zip(r.sums) {
            *v += sum;
        }
        acc.latency_sum_ms += r.latency_sum_ms;
    }

    let p95_possible = q.user_id.is_none()
        && q.project_id.is_none()
        && q.feature.is_none()
        && q.group_by.iter().all(|g| g.is_time() || *g == GroupBy::Model);
    if p95_possible {
        let model = q.model.as_deref().unwrap_or_default();
        let hist = rollups::hourly_latency(&mut *db.reader().acquire().await?, org_id, q.from_ms, q.to_ms, model).await?;
        for (bucket, model, le, n) in hist {
            let key = key_of(bucket, [&model, "", "", "", "", ""]);
            if let Some(acc) = groups.get_mut(&key) {
                *acc.hist.entry(le).or_default() += n;
            }
        }
    }

    Ok(groups
        .into_iter()
        .map(|(key, acc)| {
            let latency_sum = acc.latency_sum_ms;
            let v = acc.v;
            let hist: Vec<(i64, i64)> = acc.hist.into_iter().collect();
            UsageRow {
                group: key.into_iter().collect(),
                events: v[0],
                requests: v[1],
                errors: v[2],
                error_rate: if v[0] == 0 { "0.0000".into() } else { format!("{:.4}", v[2] as f64 / v[0] as f64) },
                input_tokens: v[3],
                cached_input_tokens: v[4],
                cache_creation_tokens: v[5],
                output_tokens: v[6],
                reasoning_tokens: v[7],
                images: v[8],
                duration_ms: v[9],
                cost_usd: NanoUsd::from_nanos(v[10]).to_usd_string(),
                cost_nanos: v[10],
                unpriced_events: v[11],
                avg_latency_ms: (v[12] > 0).then(|| latency_sum / v[12]),
                p95_latency_ms: if p95_possible { quantile(&hist, 0.95) } else { None },
            }
        })
        .collect())
}

/// The start of the current calendar month in `time_zone`, as UTC ms.
pub fn month_start_ms(time_zone: &str, now_ms: i64) -> i64 {
    let tz = chrono_tz::Tz::from_str(time_zone).unwrap_or(chrono_tz::UTC);
    let now = tz.timestamp_millis_opt(now_ms).single().unwrap_or_else(|| tz.timestamp_millis_opt(0).unwrap());
    tz.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_takes_one_or_two_known_names() {
        assert_eq!(UsageQuery::parse_group_by(None).unwrap(), vec![GroupBy::Day]);
        assert_eq!(UsageQuery::parse_group_by(Some("model,day")).unwrap(), vec![GroupBy::Model, GroupBy::Day]);
        assert!(UsageQuery::parse_group_by(Some("model,day,user")).is_err());
        assert!(UsageQuery::parse_group_by(Some("day,day")).is_err());
        assert_eq!(UsageQuery::parse_group_by(Some("week")).unwrap_err().field(), Some("group_by"));
    }

    #[test]
    fn a_report_spans_at_most_400_days() {
        let day = 86_400_000;
        assert!(UsageQuery::check_range(0, 400 * day).is_ok());
        let e = UsageQuery::check_range(0, 400 * day + 1).unwrap_err();
        assert_eq!(e.field(), Some("from"));
        assert!(e.to_string().contains("401 days") && e.to_string().contains("at most 400"), "{e}");
        assert_eq!(UsageQuery::check_range(5, 5).unwrap_err().field(), Some("to"));
    }

    #[test]
    fn the_month_starts_at_local_midnight_on_the_first() {
        // 2026-03-01T03:00Z is still February 28th in New York.
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-01T03:00:00Z").unwrap().timestamp_millis();
        let start = month_start_ms("America/New_York", t);
        assert_eq!(crate::clock::to_rfc3339(start), "2026-02-01T05:00:00.000Z");
        assert_eq!(crate::clock::to_rfc3339(month_start_ms("UTC", t)), "2026-03-01T00:00:00.000Z");
    }
}
