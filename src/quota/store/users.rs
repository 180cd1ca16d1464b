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
    /// The column this sort orders by, largest first (`None`: by user id).
    fn key(self) -> Option<&'static str> {
        match self {
            Sort::CostMonth | Sort::CostDay => Some("cost_nanos"),
            Sort::TokensMonth | Sort::TokensDay => Some("tokens"),
            Sort::Requests => Some("requests"),
            Sort::User => None,
        }
    }

    fn of_today(self) -> bool {
        matches!(self, Sort::CostDay | Sort::TokensDay)
    }
}

/// The end users with use in `month` (or an override), filtered by `search`
/// (a substring of the id), sorted, one page: (rows, total matching).
///
/// Each page reads its own rows, not the month's user-days: the users of the
/// month are the month totals (`user_usage_months`, one row per user), and
/// the list is ordered by (key largest first, user id) as one sequence of
///  - the head: the users whose key is above zero, walked in the order of
///    the key's index (this month's totals), or today's rows sorted by the
///    key (top-N over the organization's day, bounded by the users active
///    today: no index on the hot day counters for it);
///  - the tail: every other user of the month and the users with an override
///    but no use this month, all with a key of zero, by user id (the primary
///    key's order, or the key's index at zero).
///
/// Units are never negative (tokens and requests are counts, prices are not
/// negative), so "key above zero, then zero by user id" is the order of
/// (key descending, user id). The sort by user id is the tail alone.
///
/// Bounded by the month's users rather than its user-days: the total (a count
/// over the month's index entries), a search (a substring match scans the
/// month's rows of the organization), a page deep in the tail of a day sort
/// (the month's users without use today, by id), and the override-only users
/// (every override of the organization is checked against the month).
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
    let like = |q: Stmt, col: &str| if search.is_empty() { q } else { q.sql(&format!(" AND {col} LIKE ")).text(&pattern).sql(" ESCAPE '\\'") };
    // The users with an override but no use this month.
    let only_users = |q: Stmt| {
        let q = q.sql("SELECT o.user_id FROM user_limit_overrides o WHERE o.org_id = ").text(org_id);
        like(q, "o.user_id")
            .sql(" AND NOT EXISTS (SELECT 1 FROM user_usage_months m WHERE m.org_id = o.org_id AND m.month_start = ")
            .int(month.start_ms)
            .sql(" AND m.user_id = o.user_id)")
    };
    // The month's users (alias m).
    let month_users = |q: Stmt| {
        let q = q.sql(" FROM user_usage_months m WHERE m.org_id = ").text(org_id).sql(" AND m.month_start = ").int(month.start_ms);
        like(q, "m.user_id")
    };
    let only = only_users(Stmt::new("SELECT COUNT(*) FROM (")).sql(") x").count(&mut *conn).await?;
    let total = month_users(Stmt::new("SELECT COUNT(*)")).count(&mut *conn).await? + only;

    // The head: the users whose key is above zero (alias h).
    let head = |q: Stmt, k: &str| {
        let q = if sort.of_today() {
            q.sql(" FROM user_usage_days h WHERE h.org_id = ").text(org_id).sql(" AND h.day_start = ").int(today)
        } else {
            q.sql(" FROM user_usage_months h WHERE h.org_id = ").text(org_id).sql(" AND h.month_start = ").int(month.start_ms)
        };
        like(q.sql(&format!(" AND h.{k} > 0")), "h.user_id")
    };
    let mut ids: Vec<String> = Vec::new();
    let mut head_len = 0;
    if let Some(k) = sort.key() {
        let q = head(Stmt::new("SELECT h.user_id"), k).sql(&format!(" ORDER BY h.{k} DESC, h.user_id LIMIT "));
        ids = q.int(limit).sql(" OFFSET ").int(offset).ids(&mut *conn).await?;
        head_len = if !ids.is_empty() || offset == 0 {
            offset + ids.len() as i64
        } else {
            // A page past the head: how long the head is.
            head(Stmt::new("SELECT COUNT(*)"), k).count(&mut *conn).await?
        };
    }
    let rest = limit - ids.len() as i64;
    if rest > 0 && offset + (ids.len() as i64) < total {
        // The tail, by user id: the month's users outside the head, then
        // the override-only users merged in (left out when there are none,
        // so the month's part walks its index in order on both engines).
        let q = month_users(Stmt::new("SELECT m.user_id"));
        let mut q = match sort.key() {
            None => q,
            Some(k) if !sort.of_today() => q.sql(&format!(" AND m.{k} = 0")),
            Some(k) => q
                .sql(" AND NOT EXISTS (SELECT 1 FROM user_usage_days d WHERE d.org_id = m.org_id AND d.user_id = m.user_id AND d.day_start = ")
                .int(today)
                .sql(&format!(" AND d.{k} > 0)")),
        };
        if only > 0 {
            q = only_users(q.sql(" UNION ALL "));
        }
        let skip = (offset + ids.len() as i64 - head_len).max(0);
        ids.extend(q.sql(" ORDER BY 1 LIMIT ").int(rest).sql(" OFFSET ").int(skip).ids(&mut *conn).await?);
    }
    Ok((figures_of(conn, org_id, month, today, ids).await?, total))
}

/// A value bound to a statement.
enum Arg {
    Text(String),
    Int(i64),
}

/// A statement built piece by piece, each parameter numbered as it is added
/// (so a part left out leaves no parameter unused).
struct Stmt {
    sql: String,
    args: Vec<Arg>,
}

impl Stmt {
    fn new(sql: &str) -> Self {
        Stmt { sql: sql.to_string(), args: Vec::new() }
    }

    fn sql(mut self, s: &str) -> Self {
        self.sql.push_str(s);
        self
    }

    fn arg(mut self, a: Arg) -> Self {
        self.args.push(a);
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    fn text(self, v: &str) -> Self {
        self.arg(Arg::Text(v.to_string()))
    }

    fn int(self, v: i64) -> Self {
        self.arg(Arg::Int(v))
    }

    async fn fetch(&self, conn: &mut AnyConnection) -> Result<Vec<sqlx::any::AnyRow>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::Int(v) => q.bind(*v),
            };
        }
        Ok(q.fetch_all(conn).await?)
    }

    /// The first column of each row, a user id.
    async fn ids(&self, conn: &mut AnyConnection) -> Result<Vec<String>> {
        self.fetch(conn).await?.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    /// The one number a `COUNT(*)` answers.
    async fn count(&self, conn: &mut AnyConnection) -> Result<i64> {
        Ok(self.fetch(conn).await?.first().map(|r| r.try_get::<i64, _>(0)).transpose()?.unwrap_or(0))
    }
}

/// The month's and today's figures of these users (primary key lookups),
/// in their order; a user without use this month has zeros.
async fn figures_of(conn: &mut AnyConnection, org_id: &str, month: Window, today: i64, ids: Vec<String>) -> Result<Vec<UserRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let read = |table: &str, at: &str, extra: &str| {
        format!(
            "SELECT user_id, tokens, cost_nanos, requests{extra} FROM {table} WHERE org_id = $1 AND {at} = $2 AND user_id IN ({})",
            marks.join(", ")
        )
    };
    let mut found: HashMap<String, UserRow> = HashMap::new();
    for (sql, of_month) in [(read("user_usage_months", "month_start", ", last_day"), true), (read("user_usage_days", "day_start", ""), false)] {
        let mut q = sqlx::query(&sql).bind(org_id).bind(if of_month { month.start_ms } else { today });
        for u in &ids {
            q = q.bind(u);
        }
        for r in &q.fetch_all(&mut *conn).await? {
            let g = |c: &str| r.try_get::<i64, _>(c);
            let user_id: String = r.try_get("user_id")?;
            let units = [g("tokens")?, g("cost_nanos")?, g("requests")?, 0, 0, 0];
            let row = found.entry(user_id.clone()).or_insert_with(|| UserRow { user_id, day: Units::default(), month: Units::default(), last_day: 0 });
            if of_month {
                row.month = units;
                row.last_day = g("last_day")?;
            } else {
                row.day = units;
            }
        }
    }
    Ok(ids
        .into_iter()
        .map(|user_id| found.remove(&user_id).unwrap_or(UserRow { user_id, day: Units::default(), month: Units::default(), last_day: 0 }))
        .collect())
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
