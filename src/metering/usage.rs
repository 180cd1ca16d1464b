//! The usage report: the narrow rollups grouped by time and dimensions
//! (see [`crate::metering::analytics`] for which tables answer what). Days,
//! weeks and months start at midnight in the organization's time zone; an
//! hour bucket is attributed to the local period it starts in. It reads raw
//! events only for the ends of a range in the user/project/feature/session
//! tables and for groupings no table answers (capped ranges).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, TimeZone};
use serde::Serialize;

use super::analytics;
use crate::db::Db;
use crate::pricing::NanoUsd;
use crate::{Error, Result};

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Hour,
    Day,
    /// Weeks from Monday in the organization's zone.
    Week,
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
            "week" => GroupBy::Week,
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
                    format!("{other:?} is not one of hour, day, week, month, model, provider, user, project, feature, session"),
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Hour => "hour",
            GroupBy::Day => "day",
            GroupBy::Week => "week",
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
        matches!(self, GroupBy::Hour | GroupBy::Day | GroupBy::Week | GroupBy::Month)
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
    /// For groupings without time: at most this many groups, largest cost
    /// first (default [`DEFAULT_LIMIT`]).
    pub limit: Option<i64>,
}

/// The longest range one report may span (a little over 13 months): the
/// daily tables hold a row per day, so the range bounds a report's cost.
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
        if groups.iter().filter(|g| g.is_time()).count() > 1 {
            return Err(Error::invalid("group_by", "at most one of hour, day, week and month"));
        }
        Ok(groups)
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// The group's values, by dimension name (times as RFC 3339 in the org's zone).
    pub group: BTreeMap<String, String>,
    pub events: i64,
    pub requests: i64,
    pub errors: i64,
    /// errors / events, as a decimal string with 4 places.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Decimal))]
    pub error_rate: String,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_creation_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub images: i64,
    pub duration_ms: i64,
    /// Cost of priced events, USD decimal string.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub cost_usd: String,
    /// The same cost in nano-USD, for readers in the core (not sent).
    #[serde(skip)]
    pub cost_nanos: i64,
    /// Events whose model had no price (not in `cost_usd`).
    pub unpriced_events: i64,
    /// Priced events with units their price does not cover: `cost_usd`
    /// includes what was priced of them, not the rest.
    pub partial_events: i64,
    pub avg_latency_ms: Option<i64>,
    /// Upper bound of the histogram bucket holding the 95th percentile; only
    /// when grouping by time and/or model without user/project/feature filters
    /// (the histogram is kept per model, not per user, project, feature or session).
    pub p95_latency_ms: Option<i64>,
}

/// The report and how many groups there were in all (more than the rows when
/// a limit cut the groups by user or session).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    pub rows: Vec<UsageRow>,
    pub groups: i64,
}

impl GroupBy {
    fn as_group(self) -> analytics::Group {
        use analytics::{Dim, Group, TimeGrain};
        match self {
            GroupBy::Hour => Group::Time(TimeGrain::Hour),
            GroupBy::Day => Group::Time(TimeGrain::Day),
            GroupBy::Week => Group::Time(TimeGrain::Week),
            GroupBy::Month => Group::Time(TimeGrain::Month),
            GroupBy::Model => Group::Model,
            GroupBy::Provider => Group::Provider,
            GroupBy::User => Group::Dim(Dim::User),
            GroupBy::Project => Group::Dim(Dim::Project),
            GroupBy::Feature => Group::Dim(Dim::Feature),
            GroupBy::Session => Group::Dim(Dim::Session),
        }
    }
}

/// Most groups a report by user or session returns (largest cost first);
/// the rest are counted in [`UsageReport::groups`].
pub const DEFAULT_LIMIT: i64 = 1_000;
pub const MAX_LIMIT: i64 = 10_000;

/// The report for one organization, in its time zone, read from the narrow
/// rollups (see [`crate::metering::analytics`]). Rows grouped by time come in
/// time order; rows grouped only by dimensions come largest cost first, at
/// most `limit` of them.
pub async fn report(db: &Db, org_id: &str, time_zone: &str, q: &UsageQuery) -> Result<UsageReport> {
    if q.to_ms <= q.from_ms {
        return Err(Error::invalid("to", "must be after from"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let tz = chrono_tz::Tz::from_str(time_zone).unwrap_or(chrono_tz::UTC);
    let question = analytics::Query {
        org_id,
        tz,
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        groups: q.group_by.iter().map(|g| g.as_group()).collect(),
        filter: analytics::Filter {
            model: q.model.clone(),
            user_id: q.user_id.clone(),
            project_id: q.project_id.clone(),
            feature: q.feature.clone(),
        },
        limit: Some(limit),
    };
    let answer = analytics::query(db, &question).await?;
    let time_group = q.group_by.iter().copied().find(|g| g.is_time());
    let dims: Vec<GroupBy> = q.group_by.iter().copied().filter(|g| !g.is_time()).collect();
    let rows = answer
        .lines
        .into_iter()
        .map(|line| {
            let mut group = BTreeMap::new();
            if let (Some(g), Some(t)) = (time_group, line.time) {
                let start = tz.timestamp_millis_opt(t).single().map(|t| t.to_rfc3339()).unwrap_or_default();
                group.insert(g.name().to_string(), start);
            }
            for (g, v) in dims.iter().zip(line.values) {
                group.insert(g.name().to_string(), v);
            }
            let s = line.sums;
            UsageRow {
                group,
                events: s.events,
                requests: s.requests,
                errors: s.errors,
                error_rate: s.error_rate(),
                input_tokens: s.input_tokens,
                cached_input_tokens: s.cached_input_tokens,
                cache_creation_tokens: s.cache_creation_tokens,
                output_tokens: s.output_tokens,
                reasoning_tokens: s.reasoning_tokens,
                images: s.images,
                duration_ms: s.duration_ms,
                cost_usd: NanoUsd::from_nanos(s.cost_nano).to_usd_string(),
                cost_nanos: s.cost_nano,
                unpriced_events: s.unpriced_events,
                partial_events: s.partial_events,
                avg_latency_ms: s.avg_latency_ms(),
                p95_latency_ms: if answer.histogram { s.p95_latency_ms() } else { None },
            }
        })
        .collect();
    Ok(UsageReport { rows, groups: answer.groups })
}

/// The report's rows (see [`report`]).
pub async fn usage(db: &Db, org_id: &str, time_zone: &str, q: &UsageQuery) -> Result<Vec<UsageRow>> {
    Ok(report(db, org_id, time_zone, q).await?.rows)
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
        assert_eq!(UsageQuery::parse_group_by(Some("week,model")).unwrap(), vec![GroupBy::Week, GroupBy::Model]);
        assert_eq!(UsageQuery::parse_group_by(Some("fortnight")).unwrap_err().field(), Some("group_by"));
        assert_eq!(UsageQuery::parse_group_by(Some("day,month")).unwrap_err().field(), Some("group_by"), "one time grain");
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
