//! Which tables answer a question, and the one SQL statement that asks them.
//!
//! A question is a range, up to two groupings (a time grain and/or
//! dimensions) and filters. The dimensions it needs (grouped or filtered)
//! choose the family of tables: none → the organization's tables; model
//! and/or provider → the model tables; one of user, project, feature or
//! session → that dimension's daily table; anything else → raw events. The
//! range is then cut into the hours before the first whole UTC day, the whole
//! days, and the hours after the last (see [`Cut`]): days come from a daily
//! table, ends from the hourly one (or, for dimension tables, raw events).
//! Local days, weeks and months are bucketed in SQL by their UTC boundaries;
//! when a boundary is not at UTC midnight the hourly tables (or raw events)
//! answer instead of the daily ones. Every part is one `SELECT` of a
//! `UNION ALL`, aggregated by one outer `GROUP BY`; a part read from rollups
//! also reads the backfilled events waiting to be folded (`rollup_pending`).
//! The largest users or sessions (`limit`) are ranked first on cost and
//! events alone, and only the ranked groups are summed in full, in the same
//! statement: with tens of thousands of users the full sums of every group
//! cost three times the ranking (for the few groups of other dimensions one
//! pass is cheaper).

use chrono::Datelike;
use chrono_tz::Tz;
use sqlx::Row;

use super::fold::{DAY_MS, HOUR_MS};
use super::pending;
use super::store::{sum_select, sums_of};
use super::{latency_columns, Dim, Sums, SUM_COLUMNS};
pub use crate::db::bucket_case;
use crate::db::Db;
use crate::{Error, Result};

/// Longest range answered from raw events (two dimensions other than model
/// and provider, a dimension by hour or by local day outside UTC).
pub const RAW_MAX_DAYS: i64 = 31;

/// Longest range grouped by user or session: each has as many groups as
/// active users or sessions, so a long range is a long answer.
pub const WIDE_MAX_DAYS: i64 = 92;

/// A time grain in the organization's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeGrain {
    Hour,
    Day,
    /// Weeks from Monday.
    Week,
    Month,
}

/// One grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Time(TimeGrain),
    Model,
    Provider,
    Dim(Dim),
}

/// Filters (a blank value filters nothing).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub model: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
}

impl Filter {
    fn dims(&self) -> Vec<(Need, &str)> {
        fn blank(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let mut out = vec![];
        if let Some(m) = blank(&self.model) {
            out.push((Need::Model, m));
        }
        for (dim, v) in [(Dim::User, &self.user_id), (Dim::Project, &self.project_id), (Dim::Feature, &self.feature)] {
            if let Some(v) = blank(v) {
                out.push((Need::Dim(dim), v));
            }
        }
        out
    }
}

/// A question. `from_ms`/`to_ms` are rounded up to hours: the answer covers
/// the hours whose start is in `[from, to)`, as the rollups always did.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub org_id: &'a str,
    pub tz: Tz,
    pub from_ms: i64,
    pub to_ms: i64,
    pub groups: Vec<Group>,
    pub filter: Filter,
    /// For groupings without time: the largest groups by cost, at most this many.
    pub limit: Option<i64>,
}

/// One group of the answer: its time bucket (the bucket's start, UTC ms),
/// its dimension values in the order asked, and its sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub time: Option<i64>,
    pub values: Vec<String>,
    pub sums: Sums,
}

/// The answer, and how many groups there were in all (beyond `limit`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub lines: Vec<Line>,
    pub groups: i64,
    /// Whether latency percentiles could be read (organization and model tables).
    pub histogram: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Model,
    Provider,
    Dim(Dim),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Org,
    Model,
    Dim(Dim),
    Raw,
}

/// Where one part of the range is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Hourly,
    Daily,
    Raw,
}

/// A range cut at UTC midnights: `[from, d0)` hours, `[d0, d1)` whole days,
/// `[d1, to)` hours. Without a whole day inside, `d0 == d1 == to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    from: i64,
    d0: i64,
    d1: i64,
    to: i64,
}

fn ceil_to(ms: i64, unit: i64) -> i64 {
    -((-ms).div_euclid(unit) * unit)
}

impl Cut {
    fn of(from: i64, to: i64) -> Self {
        let d0 = ceil_to(from, DAY_MS);
        let d1 = to.div_euclid(DAY_MS) * DAY_MS;
        if d0 >= d1 {
            Cut { from, d0: to, d1: to, to }
        } else {
            Cut { from, d0, d1, to }
        }
    }
}

/// The local period starts (UTC ms) covering `[from, to)`: the start of the
/// period holding `from`, then each next start before `to`.
fn boundaries(tz: Tz, grain: TimeGrain, from: i64, to: i64) -> Vec<i64> {
    use crate::calendar::{local_date, start_of_day};
    if grain == TimeGrain::Hour {
        return (from.div_euclid(HOUR_MS)..=(to - 1).div_euclid(HOUR_MS)).map(|h| h * HOUR_MS).collect();
    }
    let first = |date: chrono::NaiveDate| match grain {
        TimeGrain::Week => date - chrono::Duration::days(date.weekday().num_days_from_monday() as i64),
        TimeGrain::Month => date.with_day(1).unwrap_or(date),
        _ => date,
    };
    let next = |date: chrono::NaiveDate| match grain {
        TimeGrain::Week => date + chrono::Duration::days(7),
        TimeGrain::Month => date.checked_add_months(chrono::Months::new(1)).unwrap_or(date),
        _ => date + chrono::Duration::days(1),
    };
    let mut date = first(local_date(tz, from));
    let mut out = vec![start_of_day(tz, date)];
    loop {
        date = next(date);
        let start = start_of_day(tz, date);
        if start >= to || start <= *out.last().unwrap() {
            break;
        }
        out.push(start);
    }
    out
}

/// SQL text with numbered binds (`$n` on both engines).
#[derive(Default)]
struct Sql {
    binds: Vec<Bind>,
}

enum Bind {
    I(i64),
    S(String),
}

impl Sql {
    fn i(&mut self, v: i64) -> String {
        self.binds.push(Bind::I(v));
        format!("${}", self.binds.len())
    }

    fn s(&mut self, v: &str) -> String {
        self.binds.push(Bind::S(v.to_string()));
        format!("${}", self.binds.len())
    }
}

/// The column a grouping reads, as every part names it.
fn column_of(need: Need) -> &'static str {
    match need {
        Need::Model => "model",
        Need::Provider => "provider",
        Need::Dim(d) => d.column(),
    }
}

fn need_of(g: Group) -> Option<Need> {
    match g {
        Group::Time(_) => None,
        Group::Model => Some(Need::Model),
        Group::Provider => Some(Need::Provider),
        Group::Dim(d) => Some(Need::Dim(d)),
    }
}

/// Answers a question (see the module's documentation).
pub async fn query(db: &Db, q: &Query<'_>) -> Result<Answer> {
    if q.groups.len() > 2 {
        return Err(Error::invalid("group_by", "at most two dimensions"));
    }
    let from = ceil_to(q.from_ms, HOUR_MS);
    let to = ceil_to(q.to_ms, HOUR_MS);
    if to <= from {
        return Err(Error::invalid("to", "must be after from (by at least an hour's start)"));
    }
    let grain = q.groups.iter().find_map(|g| match g {
        Group::Time(t) => Some(*t),
        _ => None,
    });
    let grouped: Vec<Need> = q.groups.iter().filter_map(|g| need_of(*g)).collect();
    let filters = q.filter.dims();
    let mut needs: Vec<Need> = grouped.iter().copied().chain(filters.iter().map(|(n, _)| *n)).collect();
    needs.sort();
    needs.dedup();
    let family = match needs.as_slice() {
        [] => Family::Org,
        n if n.iter().all(|x| matches!(x, Need::Model | Need::Provider)) => Family::Model,
        [Need::Dim(d)] => Family::Dim(*d),
        _ => Family::Raw,
    };
    let days = (to - from + DAY_MS - 1) / DAY_MS;
    if grouped.iter().any(|n| matches!(n, Need::Dim(Dim::User | Dim::Session))) && days > WIDE_MAX_DAYS {
        return Err(Error::invalid(
            "from",
            format!("grouping by user or session spans at most {WIDE_MAX_DAYS} days (this range is {days}); narrow from and to"),
        ));
    }
    let bounds = grain.filter(|g| *g != TimeGrain::Hour).map(|g| boundaries(q.tz, g, from, to));
    let utc_aligned = bounds.as_ref().is_none_or(|b| b.iter().all(|x| x.rem_euclid(DAY_MS) == 0));
    let cut = Cut::of(from, to);
    // (source, from, to) parts.
    let parts: Vec<(Source, i64, i64)> = match family {
        Family::Org | Family::Model if grain == Some(TimeGrain::Hour) || !utc_aligned => vec![(Source::Hourly, from, to)],
        Family::Org | Family::Model => vec![(Source::Hourly, cut.from, cut.d0), (Source::Daily, cut.d0, cut.d1), (Source::Hourly, cut.d1, cut.to)],
        Family::Dim(_) if grain == Some(TimeGrain::Hour) || !utc_aligned => vec![(Source::Raw, from, to)],
        Family::Dim(_) => vec![(Source::Raw, cut.from, cut.d0), (Source::Daily, cut.d0, cut.d1), (Source::Raw, cut.d1, cut.to)],
        Family::Raw => vec![(Source::Raw, from, to)],
    };
    let parts: Vec<_> = parts.into_iter().filter(|(_, a, b)| a < b).collect();
    let all_raw = parts.iter().all(|(s, _, _)| *s == Source::Raw);
    if all_raw && days > RAW_MAX_DAYS {
        return Err(Error::invalid(
            "from",
            format!(
                "this grouping and filter are read from raw events, for at most {RAW_MAX_DAYS} days (this range is {days}); \
                 narrow from and to, or group by one dimension"
            ),
        ));
    }
    let histogram = matches!(family, Family::Org | Family::Model);

    let mut conn = db.reader().acquire().await?;
    // Backfilled events waiting for the fold are read beside the rollups;
    // most of the time none wait and the table is left out.
    let waiting = pending::waiting(&mut conn, q.org_id).await? > 0;
    let mut sql = Sql::default();
    let org = sql.s(q.org_id);
    let dims: Vec<&str> = grouped.iter().map(|n| column_of(*n)).collect();
    // The parts as one UNION ALL, with every summed column, or (`narrow`)
    // only the dimensions, cost and events that rank the groups; `ranked`:
    // only the rows of the groups in the CTE `ranked`.
    let union = |sql: &mut Sql, narrow: bool, ranked: bool| {
        let mut selects = vec![];
        for (source, a, b) in &parts {
            let (a, b) = (sql.i(*a), sql.i(*b));
            // A part read from rollups also reads the backfilled events not
            // folded yet (`rollup_pending`, shaped like raw events).
            let (time_col, table_cols) = match (source, family) {
                (Source::Hourly, Family::Org) => ("hour", vec!["rollup_org_hourly", pending::TABLE]),
                (Source::Daily, Family::Org) => ("day", vec!["rollup_org_daily", pending::TABLE]),
                (Source::Hourly, Family::Model) => ("hour", vec!["rollup_model_hourly", pending::TABLE]),
                (Source::Daily, Family::Model) => ("day", vec!["rollup_model_daily", pending::TABLE]),
                (Source::Daily, Family::Dim(d)) => ("day", vec![d.table(), pending::TABLE]),
                _ => ("ts", vec!["usage_events", "usage_events_archive"]),
            };
            for table in table_cols.into_iter().filter(|t| waiting || *t != pending::TABLE) {
                let raw = *source == Source::Raw || table == pending::TABLE;
                let time_col = if raw { "ts" } else { time_col };
                let mut cols: Vec<String> = vec![];
                if grain.is_some() {
                    cols.push(if raw && grain == Some(TimeGrain::Hour) {
                        format!("(ts / {HOUR_MS}) * {HOUR_MS} AS t")
                    } else {
                        format!("{time_col} AS t")
                    });
                }
                for d in &dims {
                    cols.push(if raw { format!("COALESCE({d}, '') AS {d}") } else { d.to_string() });
                }
                match (narrow, raw) {
                    (true, true) => cols.extend(["COALESCE(cost_nano, 0) AS cost_nano".to_string(), "1 AS events".to_string()]),
                    (true, false) => cols.extend(["cost_nano".to_string(), "events".to_string()]),
                    (false, true) => cols.extend(RAW_SUMS.iter().map(|s| s.to_string())),
                    (false, false) => cols.extend(SUM_COLUMNS.iter().map(|s| s.to_string())),
                }
                if histogram && !narrow && table == pending::TABLE {
                    cols.extend(pending::latency_selects());
                } else if histogram && !narrow {
                    cols.extend(latency_columns());
                }
                let mut wheres = vec![format!("org_id = {org}"), format!("{time_col} >= {a}"), format!("{time_col} < {b}")];
                for (need, value) in &filters {
                    let v = sql.s(value);
                    wheres.push(format!("{} = {v}", column_of(*need)));
                }
                if ranked {
                    // Each part keeps the ranked groups' rows itself, through
                    // its own index where it has one (the dimension's
                    // `(org_id, value, day)`), rather than a join of the
                    // whole union, whose plan was up to the engine (3 s in
                    // one SQLite version, 0.1 s in another).
                    let keys = dims.iter().map(|d| if raw { format!("COALESCE({d}, '')") } else { d.to_string() }).collect::<Vec<_>>();
                    let (keys, cols) = match keys.len() {
                        1 => (keys[0].clone(), dims[0].to_string()),
                        _ => (format!("({})", keys.join(", ")), dims.join(", ")),
                    };
                    wheres.push(format!("{keys} IN (SELECT {cols} FROM ranked)"));
                }
                selects.push(format!("SELECT {} FROM {table} WHERE {}", cols.join(", "), wheres.join(" AND ")));
            }
        }
        selects.join(" UNION ALL ")
    };
    let positions = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let limited = grain.is_none() && !dims.is_empty() && q.limit.is_some();
    // Ranking first pays where the groups far outnumber the limit (users
    // and sessions: tens of thousands); for models, projects and features
    // one pass is cheaper.
    let ranked = limited && grouped.iter().any(|n| matches!(n, Need::Dim(Dim::User | Dim::Session)));
    let text = if ranked {
        // The largest groups by cost, the rest counted: the groups are
        // ranked on cost and events alone (a narrow aggregation over every
        // group), and only the ranked groups' rows are summed in full. The
        // groups are kept once (`MATERIALIZED`) and counted from there: a
        // window counting them (`COUNT(*) OVER ()`) cost as much again as
        // the grouping.
        let narrow = union(&mut sql, true, false);
        let limit = sql.i(q.limit.unwrap_or(0).max(0));
        let wide = union(&mut sql, false, true);
        let keys = positions(dims.len());
        format!(
            "WITH g AS MATERIALIZED (SELECT {dims}, SUM(cost_nano) AS rank_cost, SUM(events) AS rank_events \
             FROM ({narrow}) n GROUP BY {keys}), \
             ranked AS MATERIALIZED (SELECT {dims} FROM g ORDER BY rank_cost DESC, rank_events DESC, {keys} LIMIT {limit}) \
             SELECT {dims}, {sums}, (SELECT COUNT(*) FROM g) AS groups_total FROM ({wide}) u \
             GROUP BY {keys} ORDER BY cost_nano DESC, events DESC, {keys}",
            dims = dims.join(", "),
            sums = sum_select(histogram),
        )
    } else {
        let selects = union(&mut sql, false, false);
        let mut outer = vec![];
        let mut group_positions = vec![];
        if let Some(g) = grain {
            outer.push(match (&bounds, g) {
                (Some(b), _) => format!("{} AS t", bucket_case("t", b)),
                _ => "t".to_string(),
            });
            group_positions.push("1".to_string());
        }
        for d in &dims {
            outer.push(d.to_string());
            group_positions.push((outer.len()).to_string());
        }
        outer.push(sum_select(histogram));
        if limited {
            outer.push("COUNT(*) OVER () AS groups_total".into());
        }
        let group_by = if group_positions.is_empty() { String::new() } else { format!(" GROUP BY {}", group_positions.join(", ")) };
        let order = if grain.is_some() {
            format!(" ORDER BY {}", positions(dims.len() + 1))
        } else if !dims.is_empty() {
            format!(" ORDER BY cost_nano DESC, events DESC, {}", positions(dims.len()))
        } else {
            String::new()
        };
        let limit = match (limited, q.limit) {
            (true, Some(n)) => format!(" LIMIT {}", sql.i(n.max(0))),
            _ => String::new(),
        };
        format!("SELECT {} FROM ({selects}) u{group_by}{order}{limit}", outer.join(", "))
    };
    // The planner runs the statement it wrote itself: it reads only tables
    // metering owns (its rollups and `usage_events`), and the statement's
    // shape is the plan, so it stays beside the planning (`store` holds the
    // writes and the fixed reads).
    let mut query = sqlx::query(&text);
    for b in sql.binds {
        query = match b {
            Bind::I(i) => query.bind(i),
            Bind::S(s) => query.bind(s),
        };
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut lines = Vec::with_capacity(rows.len());
    let mut groups_total = 0;
    for r in &rows {
        let sums = sums_of(r, histogram)?;
        if grain.is_none() && dims.is_empty() && sums.events == 0 {
            continue; // the empty range's single row of NULL sums
        }
        if limited {
            groups_total = r.try_get::<i64, _>("groups_total")?;
        }
        let time = grain.map(|_| r.try_get::<i64, _>("t")).transpose()?;
        let values = dims.iter().map(|d| r.try_get::<String, _>(*d)).collect::<std::result::Result<Vec<_>, _>>()?;
        lines.push(Line { time, values, sums });
    }
    if !limited {
        groups_total = lines.len() as i64;
    }
    Ok(Answer { lines, groups: groups_total, histogram })
}

/// A raw event's contribution, in [`SUM_COLUMNS`] order.
const RAW_SUMS: [&str; super::SUMS] = [
    "1 AS events",
    "requests",
    "CASE WHEN status = 'success' THEN 0 ELSE 1 END AS errors",
    "input_tokens",
    "cached_input_tokens",
    "cache_creation_tokens",
    "output_tokens",
    "reasoning_tokens",
    "images",
    "duration_ms",
    "COALESCE(cost_nano, 0) AS cost_nano",
    "CASE WHEN cost_nano IS NULL THEN 1 ELSE 0 END AS unpriced_events",
    "CASE WHEN cost_nano IS NOT NULL AND unpriced_units IS NOT NULL THEN 1 ELSE 0 END AS partial_events",
    "CASE WHEN latency_ms IS NULL THEN 0 ELSE 1 END AS latency_count",
    "COALESCE(latency_ms, 0) AS latency_sum_ms",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_cut_at_utc_midnights() {
        let h = HOUR_MS;
        let c = Cut::of(5 * h, 3 * DAY_MS + 2 * h);
        assert_eq!(c, Cut { from: 5 * h, d0: DAY_MS, d1: 3 * DAY_MS, to: 3 * DAY_MS + 2 * h });
        let short = Cut::of(5 * h, 9 * h);
        assert_eq!((short.d0, short.d1), (9 * h, 9 * h), "no whole day: hours only");
        assert_eq!(Cut::of(0, 2 * DAY_MS), Cut { from: 0, d0: 0, d1: 2 * DAY_MS, to: 2 * DAY_MS });
    }

    #[test]
    fn the_bucket_case_finds_the_greatest_boundary_below() {
        let b = [100, 200, 300, 400, 500];
        let sql = bucket_case("t", &b);
        // Evaluate the generated tree for a few values.
        fn eval(sql: &str, t: i64) -> i64 {
            let sql = sql.trim();
            if let Some(inner) = sql.strip_prefix("(CASE WHEN t < ").and_then(|s| s.strip_suffix(" END)")) {
                let (bound, rest) = inner.split_once(" THEN ").unwrap();
                let bound: i64 = bound.parse().unwrap();
                let (then, other) = split_top(rest);
                return if t < bound { eval(then, t) } else { eval(other, t) };
            }
            sql.parse().unwrap()
        }
        fn split_top(s: &str) -> (&str, &str) {
            let mut depth = 0;
            let bytes = s.as_bytes();
            for i in 0..s.len() {
                match bytes[i] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    _ if depth == 0 && s[i..].starts_with(" ELSE ") => return (&s[..i], &s[i + 6..]),
                    _ => {}
                }
            }
            panic!("no ELSE in {s}")
        }
        for (t, want) in [(100, 100), (150, 100), (299, 200), (300, 300), (499, 400), (10_000, 500)] {
            assert_eq!(eval(&sql, t), want, "{t}");
        }
    }

    #[test]
    fn local_days_and_months_start_at_local_midnight() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 2026-03-07 05:00Z (local midnight, EST) to 2026-03-10 04:00Z: DST starts on the 8th.
        let from = chrono::DateTime::parse_from_rfc3339("2026-03-07T05:00:00Z").unwrap().timestamp_millis();
        let to = chrono::DateTime::parse_from_rfc3339("2026-03-10T04:00:00Z").unwrap().timestamp_millis();
        let days: Vec<String> = boundaries(ny, TimeGrain::Day, from, to).into_iter().map(crate::clock::to_rfc3339).collect();
        assert_eq!(days, vec!["2026-03-07T05:00:00.000Z", "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]);
        let months = boundaries(chrono_tz::UTC, TimeGrain::Month, from, from + 60 * DAY_MS);
        let months: Vec<String> = months.into_iter().map(crate::clock::to_rfc3339).collect();
        assert_eq!(months, vec!["2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z", "2026-05-01T00:00:00.000Z"]);
        // 2026-03-07 is a Saturday: its week began on Monday the 2nd.
        let weeks = boundaries(chrono_tz::UTC, TimeGrain::Week, from, from + 8 * DAY_MS);
        assert_eq!(crate::clock::to_rfc3339(weeks[0]), "2026-03-02T00:00:00.000Z");
        assert_eq!(weeks.len(), 2);
    }
}
