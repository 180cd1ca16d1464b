//! Storage of the audit log (`audit_log`): the hash-chained appends, the
//! chain walk, the filtered list and the report's aggregates.

use sqlx::{AnyConnection, Row};

use super::{ActionCount, AuditEntryView};
use crate::clock::to_rfc3339;
use crate::Result;

/// The advisory lock serializing appends on PostgreSQL.
const CHAIN_LOCK: i64 = 0x7411_b007_a0d1;

const COLUMNS: &str = "seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details";

fn view_of(r: &sqlx::any::AnyRow) -> Result<AuditEntryView> {
    Ok(AuditEntryView {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        at: to_rfc3339(r.try_get("at")?),
        org_id: r.try_get("org_id")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        actor_label: r.try_get("actor_label")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        result: r.try_get("result")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        details: r.try_get("details")?,
    })
}

/// Takes the append lock until the end of the transaction (PostgreSQL only;
/// the caller skips it on SQLite, whose single writer serializes).
pub(crate) async fn lock_chain(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CHAIN_LOCK).execute(conn).await?;
    Ok(())
}

/// The last entry's sequence number and hash.
pub(crate) async fn last_link(conn: &mut AnyConnection) -> Result<Option<(i64, String)>> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(conn).await?;
    last.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?))).transpose()
}

/// An entry as appended, every field final.
pub(crate) struct Stored<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub at: i64,
    pub org_id: Option<&'a str>,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub result: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub details: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Appends an entry.
pub(crate) async fn insert(conn: &mut AnyConnection, e: &Stored<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(e.seq)
    .bind(e.id)
    .bind(e.at)
    .bind(e.org_id)
    .bind(e.actor_kind)
    .bind(e.actor_id)
    .bind(e.actor_label)
    .bind(e.action)
    .bind(e.target)
    .bind(e.result)
    .bind(e.ip)
    .bind(e.user_agent)
    .bind(e.details)
    .bind(e.prev_hash)
    .bind(e.hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// An entry as the chain walk reads it (text columns as stored, `NULL` kept).
pub(crate) struct Link {
    pub seq: i64,
    pub at: i64,
    pub id: Option<String>,
    pub org_id: Option<String>,
    pub actor_kind: Option<String>,
    pub actor_id: Option<String>,
    pub actor_label: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub result: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Up to 5,000 entries after sequence number `after`, in order.
pub(crate) async fn links_after(conn: &mut AnyConnection, after: i64) -> Result<Vec<Link>> {
    let rows = sqlx::query(
        "SELECT seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details, prev_hash, hash \
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
    )
    .bind(after)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let get = |c: &str| -> Result<Option<String>> { Ok(r.try_get::<Option<String>, _>(c)?) };
            Ok(Link {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                id: get("id")?,
                org_id: get("org_id")?,
                actor_kind: get("actor_kind")?,
                actor_id: get("actor_id")?,
                actor_label: get("actor_label")?,
                action: get("action")?,
                target: get("target")?,
                result: get("result")?,
                ip: get("ip")?,
                user_agent: get("user_agent")?,
                details: get("details")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// What the list is narrowed by (each `None` matches everything).
#[derive(Default)]
pub(crate) struct ListFilter {
    pub org_id: Option<String>,
    /// A pattern for `LOWER(actor_label) LIKE`, with the actor id matched exactly.
    pub actor: Option<(String, String)>,
    /// An action prefix (`budget.` matches `budget.create`).
    pub action_prefix: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Only entries older than this one (keyset paging).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Entries matching the filter, newest first.
pub(crate) async fn list(conn: &mut AnyConnection, f: ListFilter) -> Result<Vec<AuditEntryView>> {
    enum Bind {
        S(String),
        I(i64),
    }
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut binds: Vec<Bind> = Vec::new();
    // `?` in a clause becomes the next `$n`.
    let mut push = |sql: &mut String, clause: &str, values: Vec<Bind>| {
        let mut clause = clause.to_string();
        for v in values {
            binds.push(v);
            clause = clause.replacen('?', &format!("${}", binds.len()), 1);
        }
        sql.push_str(&clause);
    };
    if let Some(org) = f.org_id {
        push(&mut sql, " AND org_id = ?", vec![Bind::S(org)]);
    }
    if let Some((like, id)) = f.actor {
        push(&mut sql, " AND (LOWER(actor_label) LIKE ? OR actor_id = ?)", vec![Bind::S(like), Bind::S(id)]);
    }
    if let Some(prefix) = f.action_prefix {
        push(&mut sql, " AND action LIKE ?", vec![Bind::S(format!("{prefix}.%"))]);
    } else if let Some(action) = f.action {
        push(&mut sql, " AND action = ?", vec![Bind::S(action)]);
    }
    if let Some(result) = f.result {
        push(&mut sql, " AND result = ?", vec![Bind::S(result)]);
    }
    if let Some(a) = f.from_ms {
        push(&mut sql, " AND at >= ?", vec![Bind::I(a)]);
    }
    if let Some(b) = f.to_ms {
        push(&mut sql, " AND at < ?", vec![Bind::I(b)]);
    }
    if let Some(s) = f.before_seq {
        push(&mut sql, " AND seq < ?", vec![Bind::I(s)]);
    }
    push(&mut sql, " ORDER BY seq DESC LIMIT ?", vec![Bind::I(f.limit)]);
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    q.fetch_all(conn).await?.iter().map(view_of).collect()
}

/// The entries a report covers: `[from, to)` of one organization (`Some`) or of all.
pub(crate) struct Range<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub org_id: Option<&'a str>,
}

impl Range<'_> {
    /// The WHERE clause: `$1`, `$2` the range, `$3` the organization when given.
    fn clause(&self) -> String {
        let org_clause = if self.org_id.is_some() { " AND org_id = $3" } else { "" };
        format!("at >= $1 AND at < $2{org_clause}")
    }

    fn bind<'q>(&self, sql: &'q str) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let q = sqlx::query(sql).bind(self.from_ms).bind(self.to_ms);
        match self.org_id {
            Some(o) => q.bind(o.to_string()),
            None => q,
        }
    }
}

/// Entries per action with their results, most frequent first (occurrences left at 0).
pub(crate) async fn counts_by_action(conn: &mut AnyConnection, range: &Range<'_>) -> Result<Vec<ActionCount>> {
    let sql = format!(
        "SELECT action, CAST(COUNT(*) AS BIGINT) AS total, \
         CAST(SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END) AS BIGINT) AS ok, \
         CAST(SUM(CASE WHEN result = 'failure' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
         CAST(SUM(CASE WHEN result = 'denied' THEN 1 ELSE 0 END) AS BIGINT) AS denied \
         FROM audit_log WHERE {} GROUP BY action ORDER BY total DESC, action",
        range.clause()
    );
    range
        .bind(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ActionCount {
                action: r.try_get("action")?,
                total: r.try_get("total")?,
                success: r.try_get("ok")?,
                failure: r.try_get("failed")?,
                denied: r.try_get("denied")?,
                occurrences: 0,
            })
        })
        .collect()
}

/// (action, details) of the entries whose action is in `actions_sql` (a
/// quoted SQL list).
pub(crate) async fn details_of(conn: &mut AnyConnection, range: &Range<'_>, actions_sql: &str) -> Result<Vec<(String, String)>> {
    let sql = format!("SELECT action, details FROM audit_log WHERE {} AND action IN ({actions_sql})", range.clause());
    range.bind(&sql).fetch_all(conn).await?.iter().map(|r| Ok((r.try_get("action")?, r.try_get("details")?))).collect()
}

/// Entries that failed, newest first, at most `limit`.
pub(crate) async fn failures(conn: &mut AnyConnection, range: &Range<'_>, limit: i64) -> Result<Vec<AuditEntryView>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE {} AND result = 'failure' ORDER BY seq DESC LIMIT {limit}", range.clause());
    range.bind(&sql).fetch_all(conn).await?.iter().map(view_of).collect()
}

/// The security events' condition: failed logins, or an action of `actions`.
fn security_where(range: &Range<'_>, actions: &[&str]) -> String {
    format!(
        "{} AND ((action = 'auth.login' AND result <> 'success') OR action IN ({}))",
        range.clause(),
        actions.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
    )
}

/// Security events, newest first, at most `limit`.
pub(crate) async fn security_events(conn: &mut AnyConnection, range: &Range<'_>, actions: &[&str], limit: i64) -> Result<Vec<AuditEntryView>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE {} ORDER BY seq DESC LIMIT {limit}", security_where(range, actions));
    range.bind(&sql).fetch_all(conn).await?.iter().map(view_of).collect()
}

/// How many security events there are.
pub(crate) async fn security_count(conn: &mut AnyConnection, range: &Range<'_>, actions: &[&str]) -> Result<i64> {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_log WHERE {}", security_where(range, actions));
    Ok(range.bind(&sql).fetch_one(conn).await?.try_get("n")?)
}

/// Claims an app entry's id for the organization: false when it was
/// claimed before (the entry is a duplicate).
pub(crate) async fn claim_app_id(conn: &mut AnyConnection, org_id: &str, client_id: &str, entry_id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO audit_app_ids (org_id, client_id, entry_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, client_id) DO NOTHING",
    )
    .bind(org_id)
    .bind(client_id)
    .bind(entry_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The audit entry an app id was first written as.
pub(crate) async fn app_entry_id(conn: &mut AnyConnection, org_id: &str, client_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT entry_id FROM audit_app_ids WHERE org_id = $1 AND client_id = $2")
        .bind(org_id)
        .bind(client_id)
        .fetch_optional(conn)
        .await?)
}
