//! Writing, reading and verifying the audit log.

use chrono::NaiveDate;
use sqlx::AnyConnection;

use super::chain::{entry_hash, Broken, GENESIS};
use super::{store, ActorKind, AuditEntryView, AuditFilter, Outcome};
use crate::clock::now_ms;
use crate::db::{Db, Engine};
use crate::ids::new_id;
use crate::calendar::{start_of_day, zone};
use crate::{Error, Result};

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
    /// The entry's id when the caller needs to know it beforehand; else a new one.
    pub id: Option<&'a str>,
}

impl<'a> NewEntry<'a> {
    /// A successful action with no details.
    pub fn new(org_id: Option<&'a str>, actor: Actor<'a>, action: &'a str, target: Option<&'a str>) -> Self {
        NewEntry { org_id, actor, action, target, result: Outcome::Success, origin: Origin::default(), details: serde_json::json!({}), id: None }
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
    pub fn with_id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
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
        store::lock_chain(&mut *conn).await?;
    }
    let (seq, prev) = match store::last_link(&mut *conn).await? {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let id = e.id.map_or_else(new_id, str::to_string);
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
    let stored = store::Stored {
        seq,
        id: &id,
        at,
        org_id: e.org_id,
        actor_kind: e.actor.kind.as_str(),
        actor_id: e.actor.id,
        actor_label: &label,
        action: e.action,
        target: target.as_deref(),
        result: e.result.as_str(),
        ip: ip.as_deref(),
        user_agent: ua.as_deref(),
        details: &details,
        prev_hash: &prev,
        hash: &hash,
    };
    store::insert(conn, &stored).await
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
        let rows = store::links_after(&mut conn, after).await?;
        if rows.is_empty() {
            return Ok((checked, None));
        }
        for r in rows {
            let seq = r.seq;
            if seq != expected_seq {
                return Ok((checked, Some(Broken { seq: expected_seq, reason: format!("entry {expected_seq} is missing (next is {seq})") })));
            }
            if r.prev_hash != prev {
                return Ok((checked, Some(Broken { seq, reason: "its prev_hash is not the previous entry's hash".into() })));
            }
            let computed = entry_hash(
                &prev,
                seq,
                &r.id.unwrap_or_default(),
                r.at,
                r.org_id.as_deref(),
                &r.actor_kind.unwrap_or_default(),
                r.actor_id.as_deref(),
                &r.actor_label.unwrap_or_default(),
                &r.action.unwrap_or_default(),
                r.target.as_deref(),
                &r.result.unwrap_or_default(),
                r.ip.as_deref(),
                r.user_agent.as_deref(),
                &r.details.unwrap_or_default(),
            );
            let stored = r.hash;
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

fn parse_date(field: &'static str, s: &str) -> Result<Option<NaiveDate>> {
    match s.trim() {
        "" => Ok(None),
        t => NaiveDate::parse_from_str(t, "%Y-%m-%d").map(Some).map_err(|_| Error::invalid(field, "must be a date like 2026-11-23")),
    }
}

/// Entries matching the filter, newest first: one organization's (`Some`)
/// or every one (`None`, platform admins). Dates are local to `time_zone`.
pub async fn list(db: &Db, org_id: Option<&str>, f: &AuditFilter, time_zone: &str, limit: i64) -> Result<Vec<AuditEntryView>> {
    list_before(db, org_id, f, time_zone, None, limit).await
}

/// [`list`], only entries older than `before` (a `seq`): keyset paging.
pub async fn list_before(
    db: &Db,
    org_id: Option<&str>,
    f: &AuditFilter,
    time_zone: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntryView>> {
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
    let actor = f.actor.trim();
    let action = f.action.trim();
    let filter = store::ListFilter {
        org_id: org_id.map(str::to_string),
        actor: (!actor.is_empty()).then(|| (format!("%{}%", actor.to_lowercase().replace(['%', '_'], "")), actor.to_string())),
        action_prefix: action.strip_suffix('.').map(str::to_string),
        action: (!action.is_empty()).then(|| action.to_string()),
        result: (!result.is_empty()).then(|| result.to_string()),
        from_ms: from,
        to_ms: to,
        before_seq: before,
        limit: limit.clamp(1, 100_000),
    };
    let mut conn = db.reader().acquire().await?;
    store::list(&mut conn, filter).await
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
