//! Writing, reading and verifying the audit log.

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use super::chain::{entry_hash, Broken, GENESIS};
use super::{ActorKind, AuditEntryView, AuditFilter, Outcome};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::{Db, Engine};
use crate::ids::new_id;
use crate::calendar::{start_of_day, zone};
use crate::{Error, Result};

/// PostgreSQL advisory lock key serializing appends (the chain is one list).
const CHAIN_LOCK: i64 = 0x7411_b007_a0d1;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor<'a> {
    pub kind: ActorKind,
    pub id: Option<&'a str>,
    /// The e-mail or key name at the time (ids outlive names).
    pub label: &'a str,
}

impl<'a> Actor<'a> {
    pub fn user(id: &'a str, email: &'a str) -> Self {
        Actor { kind: ActorKind::User, id: Some(id), label: email }
    }
    pub fn api_key(id: &'a str, name: &'a str) -> Self {
        Actor { kind: ActorKind::ApiKey, id: Some(id), label: name }
    }
    /// Tollbooth itself (background tasks, Stripe's webhooks).
    pub fn system(label: &'a str) -> Self {
        Actor { kind: ActorKind::System, id: None, label }
    }
    /// Someone not signed in (a failed login names the e-mail tried).
    pub fn anonymous(label: &'a str) -> Self {
        Actor { kind: ActorKind::User, id: None, label }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Who acted and from where, owned: what the edge hands a service that
/// records its change in the change's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct By {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub label: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl By {
    pub fn user(id: &str, email: &str) -> Self {
        By { kind: ActorKind::User, id: Some(id.to_string()), label: email.to_string(), ip: None, user_agent: None }
    }
    pub fn api_key(id: &str, name: &str) -> Self {
        By { kind: ActorKind::ApiKey, id: Some(id.to_string()), label: name.to_string(), ip: None, user_agent: None }
    }
    pub fn system(label: &str) -> Self {
        By { kind: ActorKind::System, id: None, label: label.to_string(), ip: None, user_agent: None }
    }
    /// The request's IP address and `User-Agent`.
    pub fn from(mut self, ip: Option<String>, user_agent: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self
    }
    pub fn actor(&self) -> Actor<'_> {
        Actor { kind: self.kind, id: self.id.as_deref(), label: &self.label }
    }
    pub fn origin(&self) -> Origin<'_> {
        Origin { ip: self.ip.as_deref(), user_agent: self.user_agent.as_deref() }
    }
    /// A successful `action` by this actor, from this origin.
    pub fn entry<'a>(&'a self, org_id: Option<&'a str>, action: &'a str, target: Option<&'a str>) -> NewEntry<'a> {
        NewEntry::new(org_id, self.actor(), action, target).origin(self.origin())
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub org_id: Option<&'a str>,
    pub actor: Actor<'a>,
    /// Dotted, e.g. `auth.login`, `plan.change`, `billing.webhook`.
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub result: Outcome,
    pub origin: Origin<'a>,
    pub details: serde_json::Value,
}

impl<'a> NewEntry<'a> {
    /// A successful action with no details.
    pub fn new(org_id: Option<&'a str>, actor: Actor<'a>, action: &'a str, target: Option<&'a str>) -> Self {
        NewEntry { org_id, actor, action, target, result: Outcome::Success, origin: Origin::default(), details: serde_json::json!({}) }
    }
    pub fn result(mut self, r: Outcome) -> Self {
        self.result = r;
        self
    }
    pub fn origin(mut self, o: Origin<'a>) -> Self {
        self.origin = o;
        self
    }
    pub fn details(mut self, d: serde_json::Value) -> Self {
        self.details = d;
        self
    }
}

fn clip(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

/// Appends an entry inside the caller's transaction (it lands or not with
/// what it records). Appends are serialized: an advisory lock on PostgreSQL,
/// the single writer on SQLite.
pub async fn record_in(conn: &mut AnyConnection, engine: Engine, e: &NewEntry<'_>) -> Result<()> {
    if engine == Engine::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CHAIN_LOCK).execute(&mut *conn).await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *conn).await?;
    let (seq, prev) = match last {
        Some(r) => (r.try_get::<i64, _>("seq")? + 1, r.try_get::<String, _>("hash")?),
        None => (1, GENESIS.to_string()),
    };
    let id = new_id();
    let at = now_ms();
    let details = e.details.to_string();
    let ip = clip(e.origin.ip, 64);
    let ua = clip(e.origin.user_agent, 300);
    let target = clip(e.target, 300);
    let label: String = e.actor.label.chars().take(200).collect();
    let hash = entry_hash(
        &prev,
        seq,
        &id,
        at,
        e.org_id,
        e.actor.kind.as_str(),
        e.actor.id,
        &label,
        e.action,
        target.as_deref(),
        e.result.as_str(),
        ip.as_deref(),
        ua.as_deref(),
        &details,
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(seq)
    .bind(&id)
    .bind(at)
    .bind(e.org_id)
    .bind(e.actor.kind.as_str())
    .bind(e.actor.id)
    .bind(&label)
    .bind(e.action)
    .bind(&target)
    .bind(e.result.as_str())
    .bind(&ip)
    .bind(&ua)
    .bind(&details)
    .bind(&prev)
    .bind(&hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends an entry in its own transaction.
pub async fn record(db: &Db, e: &NewEntry<'_>) -> Result<()> {
    let mut tx = db.begin().await?;
    record_in(&mut tx, db.engine, e).await?;
    tx.commit().await?;
    Ok(())
}

/// Appends an entry, logging (not failing) if the log cannot be written:
/// for events recorded after the fact (a failed login), where the answer to
/// the user must not depend on the audit write.
pub async fn record_or_log(db: &Db, e: &NewEntry<'_>) {
    if let Err(err) = record(db, e).await {
        tracing::error!(error = ?err, action = e.action, "could not write the audit log");
    }
}

/// Walks the whole chain; returns how many entries were checked and the
/// first one where it breaks (an entry whose stored hash is not the hash of
/// its fields, whose `prev_hash` is not the previous entry's hash, or a gap
/// in the sequence).
pub async fn verify(db: &Db) -> Result<(u64, Option<Broken>)> {
    let mut conn = db.reader().acquire().await?;
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1i64;
    let mut checked = 0u64;
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok((checked, None));
        }
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            let get = |c: &str| -> Result<Option<String>> { Ok(r.try_get::<Option<String>, _>(c)?) };
            if seq != expected_seq {
                return Ok((checked, Some(Broken { seq: expected_seq, reason: format!("entry {expected_seq} is missing (next is {seq})") })));
            }
            let stored_prev: String = r.try_get("prev_hash")?;
            if stored_prev != prev {
                return Ok((checked, Some(Broken { seq, reason: "its prev_hash is not the previous entry's hash".into() })));
            }
            let computed = entry_hash(
                &prev,
                seq,
                &get("id")?.unwrap_or_default(),
                r.try_get("at")?,
                get("org_id")?.as_deref(),
                &get("actor_kind")?.unwrap_or_default(),
                get("actor_id")?.as_deref(),
                &get("actor_label")?.unwrap_or_default(),
                &get("action")?.unwrap_or_default(),
                get("target")?.as_deref(),
                &get("result")?.unwrap_or_default(),
                get("ip")?.as_deref(),
                get("user_agent")?.as_deref(),
                &get("details")?.unwrap_or_default(),
            );
            let stored: String = r.try_get("hash")?;
            if stored != computed {
                return Ok((checked, Some(Broken { seq, reason: "its fields do not match its hash (changed after it was written)".into() })));
            }
            prev = stored;
            expected_seq += 1;
            checked += 1;
            after = seq;
        }
    }
}

pub(super) fn view_of(r: &sqlx::any::AnyRow) -> Result<AuditEntryView> {
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

fn parse_date(field: &'static str, s: &str) -> Result<Option<NaiveDate>> {
    match s.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d").map(Some).map_err(|_| Error::invalid(field, "must be a date like 2026-11-23")),
    }
}

/// Entries matching the filter, newest first: one organization's (`Some`)
/// or every one (`None`, platform admins). Dates are local to `time_zone`.
pub async fn list(db: &Db, org_id: Option<&str>, f: &AuditFilter, time_zone: &str, limit: i64) -> Result<Vec<AuditEntryView>> {
    let tz = zone(time_zone);
    let from = parse_date("from", &f.from)?.map(|d| start_of_day(tz, d));
    let to = parse_date("to", &f.to)?.and_then(|d| d.succ_opt()).map(|d| start_of_day(tz, d));
    if let (Some(a), Some(b)) = (from, to) {
        if b <= a {
            return Err(Error::invalid("to", "must not be before from"));
        }
    }
    let result = f.result.trim();
    if !result.is_empty() && !["success", "failure", "denied"].contains(&result) {
        return Err(Error::invalid("result", "must be success, failure or denied"));
    }
    enum Bind {
        S(String),
        I(i64),
    }
    let mut sql = String::from(
        "SELECT seq, id, at, org_id, actor_kind, actor_id, actor_label, action, target, result, ip, user_agent, details FROM audit_log WHERE 1 = 1",
    );
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
    if let Some(org) = org_id {
        push(&mut sql, " AND org_id = ?", vec![Bind::S(org.to_string())]);
    }
    let actor = f.actor.trim();
    if !actor.is_empty() {
        let like = format!("%{}%", actor.to_lowercase().replace(['%', '_'], ""));
        push(&mut sql, " AND (LOWER(actor_label) LIKE ? OR actor_id = ?)", vec![Bind::S(like), Bind::S(actor.to_string())]);
    }
    let action = f.action.trim();
    if let Some(prefix) = action.strip_suffix('.') {
        push(&mut sql, " AND action LIKE ?", vec![Bind::S(format!("{prefix}.%"))]);
    } else if !action.is_empty() {
        push(&mut sql, " AND action = ?", vec![Bind::S(action.to_string())]);
    }
    if !result.is_empty() {
        push(&mut sql, " AND result = ?", vec![Bind::S(result.to_string())]);
    }
    if let Some(a) = from {
        push(&mut sql, " AND at >= ?", vec![Bind::I(a)]);
    }
    if let Some(b) = to {
        push(&mut sql, " AND at < ?", vec![Bind::I(b)]);
    }
    push(&mut sql, " ORDER BY seq DESC LIMIT ?", vec![Bind::I(limit.clamp(1, 100_000))]);
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    let mut conn = db.reader().acquire().await?;
    q.fetch_all(&mut *conn).await?.iter().map(view_of).collect()
}

/// The entries as CSV (cells safe to open in a spreadsheet).
pub fn csv(entries: &[AuditEntryView]) -> String {
    let mut out = crate::spreadsheet::CsvOut::with_header(&[
        "seq", "at", "org_id", "actor_kind", "actor_id", "actor", "action", "target", "result", "ip", "user_agent", "details",
    ]);
    for e in entries {
        out.row([
            e.seq.to_string().as_str(),
            &e.at,
            e.org_id.as_deref().unwrap_or(""),
            &e.actor_kind,
            e.actor_id.as_deref().unwrap_or(""),
            &e.actor_label,
            &e.action,
            e.target.as_deref().unwrap_or(""),
            &e.result,
            e.ip.as_deref().unwrap_or(""),
            e.user_agent.as_deref().unwrap_or(""),
            &e.details,
        ]);
    }
    out.into_string()
}
