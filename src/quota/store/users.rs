//! Storage of per-user limits (`user_limit_settings`, `user_limit_overrides`)
//! and of what each end user used per local day (`user_usage_days`) and per
//! local month (`user_usage_months`, the sums of its days).

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::calendar::Window;
use crate::db::{values_rows, Engine};
use crate::quota::users::{Override, UserBook, UserLimitSettings, UserLimits, UserUse};
use crate::quota::Units;
use crate::Result;

const LIMIT_COLUMNS: &str = "tokens_per_day, cost_per_day_nanos, tokens_per_month, cost_per_month_nanos, requests_per_minute";

fn limits_of(r: &sqlx::any::AnyRow) -> Result<UserLimits> {
    Ok(UserLimits {
        tokens_per_day: r.try_get("tokens_per_day")?,
        cost_per_day: r.try_get("cost_per_day_nanos")?,
        tokens_per_month: r.try_get("tokens_per_month")?,
        cost_per_month: r.try_get("cost_per_month_nanos")?,
        requests_per_minute: r.try_get("requests_per_minute")?,
    })
}

fn bind_limits<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    l: &UserLimits,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(l.tokens_per_day).bind(l.cost_per_day).bind(l.tokens_per_month).bind(l.cost_per_month).bind(l.requests_per_minute)
}

/// The organization's settings (switch off, no defaults, when never set).
pub(crate) async fn settings(conn: &mut AnyConnection, org_id: &str) -> Result<UserLimitSettings> {
    let row = sqlx::query(&format!("SELECT enabled, {LIMIT_COLUMNS} FROM user_limit_settings WHERE org_id = $1"))
        .bind(org_id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => UserLimitSettings { enabled: r.try_get::<i64, _>("enabled")? != 0, defaults: limits_of(&r)? },
        None => UserLimitSettings::default(),
    })
}

/// Whether the organization's switch is on.
pub(crate) async fn enabled(conn: &mut AnyConnection, org_id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT enabled FROM user_limit_settings WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await?
        .is_some_and(|e| e != 0))
}

pub(crate) async fn put_settings(conn: &mut AnyConnection, org_id: &str, s: &UserLimitSettings, now: i64) -> Result<()> {
    let sql = format!(
        "INSERT INTO user_limit_settings (org_id, enabled, {LIMIT_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (org_id) DO UPDATE SET enabled = excluded.enabled, tokens_per_day = excluded.tokens_per_day, \
         cost_per_day_nanos = excluded.cost_per_day_nanos, tokens_per_month = excluded.tokens_per_month, \
         cost_per_month_nanos = excluded.cost_per_month_nanos, requests_per_minute = excluded.requests_per_minute, \
         updated_at = excluded.updated_at"
    );
    let q = sqlx::query(&sql).bind(org_id).bind(i64::from(s.enabled));
    bind_limits(q, &s.defaults).bind(now).execute(conn).await?;
    Ok(())
}

fn override_of(r: &sqlx::any::AnyRow) -> Result<Override> {
    Ok(match r.try_get::<String, _>("mode")?.as_str() {
        "blocked" => Override::Blocked,
        "unlimited" => Override::Unlimited,
        _ => Override::Custom(limits_of(r)?),
    })
}

/// One user's override.
pub(crate) async fn get_override(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> Result<Option<Override>> {
    let row = sqlx::query(&format!("SELECT mode, {LIMIT_COLUMNS} FROM user_limit_overrides WHERE org_id = $1 AND user_id = $2"))
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(override_of).transpose()
}

/// The organization's settings and every override.
pub(crate) async fn book(conn: &mut AnyConnection, org_id: &str) -> Result<UserBook> {
    let settings = settings(&mut *conn, org_id).await?;
    let mut overrides = HashMap::new();
    if settings.enabled {
        let rows = sqlx::query(&format!("SELECT user_id, mode, {LIMIT_COLUMNS} FROM user_limit_overrides WHERE org_id = $1"))
            .bind(org_id)
            .fetch_all(conn)
            .await?;
        for r in &rows {
            overrides.insert(r.try_get("user_id")?, override_of(r)?);
        }
    }
    Ok(UserBook { settings, overrides })
}

pub(crate) async fn put_override(conn: &mut AnyConnection, org_id: &str, user_id: &str, o: &Override, now: i64) -> Result<()> {
    let limits = match o {
        Override::Custom(l) => *l,
        _ => UserLimits::default(),
    };
    let sql = format!(
        "INSERT INTO user_limit_overrides (org_id, user_id, mode, {LIMIT_COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET mode = excluded.mode, tokens_per_day = excluded.tokens_per_day, \
         cost_per_day_nanos = excluded.cost_per_day_nanos, tokens_per_month = excluded.tokens_per_month, \
         cost_per_month_nanos = excluded.cost_per_month_nanos, requests_per_minute = excluded.requests_per_minute, \
         updated_at = excluded.updated_at"
    );
    let q = sqlx::query(&sql).bind(org_id).bind(user_id).bind(o.mode());
    bind_limits(q, &limits).bind(now).execute(conn).await?;
    Ok(())
}

/// Deletes a user's override; whether there was one.
pub(crate) async fn delete_override(conn: &mut AnyConnection, org_id: &str, user_id: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM user_limit_overrides WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Adds units (tokens, cost, requests) to users' day counters; rows sorted
/// by user and day, so concurrent batches lock alike.
pub(crate) async fn add_days(conn: &mut AnyConnection, engine: Engine, org_id: &str, rows: &[(&str, i64, Units)]) -> Result<()> {
    for chunk in rows.chunks(300) {
        let sql = format!(
            "INSERT INTO user_usage_days (org_id, user_id, day_start, tokens, cost_nanos, requests) VALUES {} \
             ON CONFLICT (org_id, user_id, day_start) DO UPDATE SET tokens = user_usage_days.tokens + excluded.tokens, \
             cost_nanos = user_usage_days.cost_nanos + excluded.cost_nanos, requests = user_usage_days.requests + excluded.requests",
            values_rows(engine, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (user, day, u) in chunk {
            q = q.bind(org_id).bind(*user).bind(*day).bind(u[0]).bind(u[1]).bind(u[2]);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds units (tokens, cost, requests) to users' month totals and moves
/// their last day with use forward: (user, month start, units, last day),
/// sorted by month and user (the key's order), so concurrent batches lock
/// alike. Written with [`add_days`], in its transaction.
pub(crate) async fn add_months(conn: &mut AnyConnection, engine: Engine, org_id: &str, rows: &[(&str, i64, Units, i64)]) -> Result<()> {
    let later = match engine {
        Engine::Sqlite => "MAX(user_usage_months.last_day, excluded.last_day)",
        Engine::Postgres => "GREATEST(user_usage_months.last_day, excluded.last_day)",
    };
    // 7 parameters a row: 2,100 a statement, under both engines' limits.
    for chunk in rows.chunks(300) {
        let sql = format!(
            "INSERT INTO user_usage_months (org_id, user_id, month_start, tokens, cost_nanos, requests, last_day) VALUES {} \
             ON CONFLICT (org_id, month_start, user_id) DO UPDATE SET tokens = user_usage_months.tokens + excluded.tokens, \
             cost_nanos = user_usage_months.cost_nanos + excluded.cost_nanos, requests = user_usage_months.requests + excluded.requests, \
             last_day = {later}",
            values_rows(engine, chunk.len(), 7)
        );
        let mut q = sqlx::query(&sql);
        for (user, month, u, last) in chunk {
            q = q.bind(org_id).bind(*user).bind(*month).bind(u[0]).bind(u[1]).bind(u[2]).bind(*last);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A user's use in the day starting `today` and in `month`, and what its
/// active reservations hold, read in one statement (one snapshot on
/// PostgreSQL: a commit that settles a reservation is seen either held or
/// used, never neither).
pub(crate) async fn user_use(conn: &mut AnyConnection, org_id: &str, user_id: &str, month: Window, today: i64, now: i64) -> Result<UserUse> {
    let held = |metric: &str| {
        format!(
            "(SELECT CAST(COALESCE(SUM(a.amount), 0) AS BIGINT) FROM reservations r JOIN reservation_amounts a ON a.reservation_id = r.id \
             WHERE r.org_id = $1 AND r.state = 'active' AND r.expires_at > $5 AND r.user_id = $2 AND a.metric = '{metric}')"
        )
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(tokens), 0) AS BIGINT) AS mt, CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) AS mc, \
         CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS mr, \
         CAST(COALESCE(SUM(CASE WHEN day_start = $6 THEN tokens ELSE 0 END), 0) AS BIGINT) AS dt, \
         CAST(COALESCE(SUM(CASE WHEN day_start = $6 THEN cost_nanos ELSE 0 END), 0) AS BIGINT) AS dc, \
         CAST(COALESCE(SUM(CASE WHEN day_start = $6 THEN requests ELSE 0 END), 0) AS BIGINT) AS dr, \
         {} AS ht, {} AS hc \
         FROM user_usage_days WHERE org_id = $1 AND user_id = $2 AND day_start >= $3 AND day_start < $4",
        held("tokens"),
        held("cost_usd"),
    );
    let r = sqlx::query(&sql).bind(org_id).bind(user_id).bind(month.start_ms).bind(month.end_ms).bind(now).bind(today).fetch_one(conn).await?;
    let g = |c: &str| r.try_get::<i64, _>(c);
    Ok(UserUse {
        day: [g("dt")?, g("dc")?, g("dr")?, 0, 0, 0],
        month: [g("mt")?, g("mc")?, g("mr")?, 0, 0, 0],
        held: [g("ht")?, g("hc")?, 0, 0, 0, 0],
    })
}

/// The month's per-user day counters (user, day start, units), for a rebuild's comparison.
pub(crate) async fn days(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<Vec<(String, i64, Units)>> {
    let rows = sqlx::query(
        "SELECT user_id, day_start, tokens, cost_nanos, requests FROM user_usage_days \
         WHERE org_id = $1 AND day_start >= $2 AND day_start < $3 ORDER BY user_id, day_start",
    )
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("user_id")?, r.try_get("day_start")?, [r.try_get("tokens")?, r.try_get("cost_nanos")?, r.try_get("requests")?, 0, 0, 0])))
        .collect()
}

/// Deletes the day counters of the window and the totals of its month (in
/// every alignment: see [`MONTH_ALIGNMENTS_MS`]); the caller writes the
/// rebuilt days and totals in the same transaction.
pub(crate) async fn delete_days(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<()> {
    sqlx::query("DELETE FROM user_usage_days WHERE org_id = $1 AND day_start >= $2 AND day_start < $3")
        .bind(org_id)
        .bind(w.start_ms)
        .bind(w.end_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM user_usage_months WHERE org_id = $1 AND month_start > $2 AND month_start < $3")
        .bind(org_id)
        .bind(w.start_ms - MONTH_ALIGNMENTS_MS)
        .bind(w.start_ms + MONTH_ALIGNMENTS_MS)
        .execute(conn)
        .await?;
    Ok(())
}

/// How far apart the starts of one calendar month can be in two time zones
/// (UTC-12 to UTC+14 is 26 hours), with room: a month's totals counted
/// before a time zone change start within this of the month's new start,
/// and every other month starts weeks away.
const MONTH_ALIGNMENTS_MS: i64 = 2 * 86_400_000;

/// Fills the users' totals of the month `w` from its day counters, when the
/// month has none (a database from before the totals); how many users were
/// filled. One `INSERT … SELECT … GROUP BY`.
pub(crate) async fn fill_month(conn: &mut AnyConnection, org_id: &str, w: Window) -> Result<u64> {
    let r = sqlx::query(
        "INSERT INTO user_usage_months (org_id, user_id, month_start, tokens, cost_nanos, requests, last_day) \
         SELECT org_id, user_id, $2, CAST(SUM(tokens) AS BIGINT), CAST(SUM(cost_nanos) AS BIGINT), CAST(SUM(requests) AS BIGINT), \
         CAST(MAX(day_start) AS BIGINT) FROM user_usage_days WHERE org_id = $1 AND day_start >= $2 AND day_start < $3 \
         AND NOT EXISTS (SELECT 1 FROM user_usage_months m WHERE m.org_id = $1 AND m.month_start = $2) \
         GROUP BY org_id, user_id",
    )
    .bind(org_id)
    .bind(w.start_ms)
    .bind(w.end_ms)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Organizations with per-user day counters since `since` but no month
/// totals from then on (a database from before them), with their zone.
pub(crate) async fn months_to_fill(conn: &mut AnyConnection, since: i64) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.time_zone FROM organizations o \
         WHERE EXISTS (SELECT 1 FROM user_usage_days d WHERE d.org_id = o.id AND d.day_start >= $1) \
         AND NOT EXISTS (SELECT 1 FROM user_usage_months m WHERE m.org_id = o.id AND m.month_start > $2)",
    )
    .bind(since)
    .bind(since - MONTH_ALIGNMENTS_MS)
    .fetch_all(conn)
    .await?)
}

/// Organizations with events of end users since `since` but no per-user
/// counters (a database from before them), with their zone.
pub(crate) async fn to_fill(conn: &mut AnyConnection, since: i64) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.time_zone FROM organizations o \
         WHERE EXISTS (SELECT 1 FROM usage_events e WHERE e.org_id = o.id AND e.ts >= $1 AND e.user_id IS NOT NULL) \
         AND NOT EXISTS (SELECT 1 FROM user_usage_days d WHERE d.org_id = o.id AND d.day_start >= $1)",
    )
    .bind(since)
    .fetch_all(conn)
    .await?)
}

/// One end user's use of the period, for the Users page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: String,
    /// Units of the current local day and of the month (tokens, cost, requests).
    pub day: Units,
    pub month: Units,
    pub last_day: i64,
}

/// How the Users page sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    CostMonth,
    TokensMonth,
    CostDay,
    TokensDay,
    Requests,
    User,
}

impl Sort {
    fn sql(self) -> &'static str {
        match self {
            Sort::CostMonth => "mc DESC, user_id",
            Sort::TokensMonth => "mt DESC, user_id",
            Sort::CostDay => "dc DESC, user_id",
            Sort::TokensDay => "dt DESC, user_id",
            Sort::Requests => "mr DESC, user_id",
            Sort::User => "user_id",
        }
    }
}

/// The end users with use in `month` (or an override), filtered by `search`
/// (a substring of the id), sorted, one page: (rows, total matching).
pub(crate) async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    month: Window,
    today: i64,
    search: &str,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserRow>, i64)> {
    // Substring match with LIKE's wildcards escaped.
    let pattern = format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let users = "SELECT user_id, tokens, cost_nanos, requests, day_start FROM user_usage_days \
                 WHERE org_id = $1 AND day_start >= $2 AND day_start < $3 AND user_id LIKE $4 ESCAPE '\\' \
                 UNION ALL SELECT user_id, 0, 0, 0, 0 FROM user_limit_overrides WHERE org_id = $1 AND user_id LIKE $4 ESCAPE '\\'";
    let sql = format!(
        "SELECT user_id, CAST(SUM(tokens) AS BIGINT) AS mt, CAST(SUM(cost_nanos) AS BIGINT) AS mc, CAST(SUM(requests) AS BIGINT) AS mr, \
         CAST(SUM(CASE WHEN day_start = $5 THEN tokens ELSE 0 END) AS BIGINT) AS dt, \
         CAST(SUM(CASE WHEN day_start = $5 THEN cost_nanos ELSE 0 END) AS BIGINT) AS dc, \
         CAST(SUM(CASE WHEN day_start = $5 THEN requests ELSE 0 END) AS BIGINT) AS dr, \
         CAST(MAX(day_start) AS BIGINT) AS last_day, COUNT(*) OVER () AS total \
         FROM ({users}) u GROUP BY user_id ORDER BY {} LIMIT $6 OFFSET $7",
        sort.sql()
    );
    let rows = sqlx::query(&sql)
        .bind(org_id)
        .bind(month.start_ms)
        .bind(month.end_ms)
        .bind(&pattern)
        .bind(today)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let mut total = 0;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        total = r.try_get::<i64, _>("total")?;
        let g = |c: &str| r.try_get::<i64, _>(c);
        out.push(UserRow {
            user_id: r.try_get("user_id")?,
            day: [g("dt")?, g("dc")?, g("dr")?, 0, 0, 0],
            month: [g("mt")?, g("mc")?, g("mr")?, 0, 0, 0],
            last_day: g("last_day")?,
        });
    }
    if out.is_empty() && offset > 0 {
        // A page past the end: the total still answers.
        total = sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(DISTINCT user_id) FROM ({users}) u"))
            .bind(org_id)
            .bind(month.start_ms)
            .bind(month.end_ms)
            .bind(&pattern)
            .fetch_one(conn)
            .await?;
    }
    Ok((out, total))
}

/// The overrides of these users.
pub(crate) async fn overrides_of(conn: &mut AnyConnection, org_id: &str, users: &[String]) -> Result<HashMap<String, Override>> {
    let mut out = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    let marks: Vec<String> = (0..users.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!("SELECT user_id, mode, {LIMIT_COLUMNS} FROM user_limit_overrides WHERE org_id = $1 AND user_id IN ({})", marks.join(", "));
    let mut q = sqlx::query(&sql).bind(org_id);
    for u in users {
        q = q.bind(u);
    }
    for r in &q.fetch_all(conn).await? {
        out.insert(r.try_get("user_id")?, override_of(r)?);
    }
    Ok(out)
}
