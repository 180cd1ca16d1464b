//! Audit entries a product writes itself (`POST /api/v1/audit-events`): its
//! own actions (`app.kb.uploaded`, `app.config.branding_updated`,
//! `app.error.api`) in the same hash chain as Tollbooth's, with the calling
//! key as the actor.
//!
//! An app action is always `app.<name>`, so a product can never write an
//! entry that reads as one of Tollbooth's own (`plan.change`,
//! `api_key.revoke`). An entry sent with an `id` is written once per
//! organization and id: sending it again answers `duplicate` with the entry
//! first written.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{service, store, Outcome};
use crate::api_keys::ApiPrincipal;
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::new_id;
use crate::{Error, Result};

/// The namespace of every app action.
pub const APP_PREFIX: &str = "app.";
/// Most entries in one request.
pub const MAX_APP_EVENTS: usize = 100;
/// The largest `details` object, as JSON text.
pub const MAX_DETAILS_BYTES: usize = 4 * 1024;

/// One entry as a product sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = AppAuditEvent))]
#[serde(deny_unknown_fields)]
pub struct AppEventInput {
    pub id: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::openapi::AuditResult>))]
    pub result: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub details: Option<Value>,
    pub actor_label: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One entry checked: what is written.
#[derive(Debug, Clone, PartialEq)]
pub struct AppEvent {
    pub id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub result: Outcome,
    pub details: Value,
    pub actor_label: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What happened to one entry of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppEventResult {
    /// The id sent, if any.
    pub id: Option<String>,
    /// `recorded`, or `duplicate` when this id was written before.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::AppEventStatus))]
    pub status: &'static str,
    /// The audit entry's own id and when it was written.
    pub entry_id: String,
}

fn text(field: &'static str, at: &str, v: Option<String>, max: usize) -> Result<Option<String>> {
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(Error::invalid(field, format!("{at}must be at most {max} characters"))),
        Some(s) if s.chars().any(char::is_control) => Err(Error::invalid(field, format!("{at}must not contain control characters"))),
        other => Ok(other),
    }
}

/// Checks an app action: `app.` then dot-separated words of lowercase
/// letters, digits, `_` and `-`; at most 100 characters.
pub fn parse_action(raw: &str) -> std::result::Result<String, String> {
    let a = raw.trim();
    let Some(name) = a.strip_prefix(APP_PREFIX) else {
        return Err(format!("{a:?} is not an app action: app actions are named app.<name>, e.g. app.kb.uploaded"));
    };
    if a.len() > 100 {
        return Err("must be at most 100 characters".into());
    }
    let word_ok = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !name.split('.').all(word_ok) {
        return Err(format!(
            "{a:?}: after app. come words of lowercase letters, digits, _ and -, separated by dots (e.g. app.config.branding_updated)"
        ));
    }
    Ok(a.to_string())
}

/// Checks one entry; `index` names it in a batch (`events[3]: …`).
pub fn parse_app_event(input: AppEventInput, index: Option<usize>) -> Result<AppEvent> {
    let at = index.map(|i| format!("events[{i}]: ")).unwrap_or_default();
    let action = input.action.ok_or_else(|| Error::invalid("action", format!("{at}is required, e.g. app.kb.uploaded")))?;
    let action = parse_action(&action).map_err(|m| Error::invalid("action", format!("{at}{m}")))?;
    let id = text("id", &at, input.id, 128)?;
    if id.as_ref().is_some_and(|id| !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))) {
        return Err(Error::invalid("id", format!("{at}may hold only letters, digits, -, _, . and :")));
    }
    let result = match input.result.as_deref().map(str::trim) {
        None | Some("") | Some("success") => Outcome::Success,
        Some("failure") => Outcome::Failure,
        Some("denied") => Outcome::Denied,
        Some(other) => return Err(Error::invalid("result", format!("{at}{other:?} is not success, failure or denied"))),
    };
    let details = match input.details {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(Error::invalid("details", format!("{at}must be a JSON object"))),
    };
    if details.to_string().len() > MAX_DETAILS_BYTES {
        return Err(Error::invalid("details", format!("{at}must be at most {MAX_DETAILS_BYTES} bytes as JSON")));
    }
    let ip = text("ip", &at, input.ip, 64)?;
    if let Some(ip) = &ip {
        ip.parse::<std::net::IpAddr>().map_err(|_| Error::invalid("ip", format!("{at}{ip:?} is not an IPv4 or IPv6 address")))?;
    }
    Ok(AppEvent {
        id,
        action,
        target: text("target", &at, input.target, 300)?,
        result,
        details,
        actor_label: text("actor_label", &at, input.actor_label, 200)?,
        user_id: text("user_id", &at, input.user_id, 128)?,
        ip,
        user_agent: text("user_agent", &at, input.user_agent, 300)?,
    })
}

/// Checks a request: one entry, or `{events: [...]}` of 1 to
/// [`MAX_APP_EVENTS`]. Nothing is written unless every entry is valid.
pub fn parse_app_events(body: Value) -> Result<Vec<AppEvent>> {
    let one = |v: Value, index: Option<usize>| -> Result<AppEvent> {
        let input: AppEventInput = serde_json::from_value(v).map_err(|e| {
            let at = index.map(|i| format!("events[{i}]: ")).unwrap_or_default();
            Error::invalid("body", format!("{at}{e}"))
        })?;
        parse_app_event(input, index)
    };
    match body {
        Value::Object(mut map) if map.contains_key("events") => {
            if map.len() > 1 {
                return Err(Error::invalid("events", "a batch is {\"events\": [...]} with nothing beside it"));
            }
            let Some(Value::Array(items)) = map.remove("events") else {
                return Err(Error::invalid("events", "must be an array of audit events"));
            };
            if items.is_empty() || items.len() > MAX_APP_EVENTS {
                return Err(Error::invalid("events", format!("must hold 1 to {MAX_APP_EVENTS} audit events (got {})", items.len())));
            }
            items.into_iter().enumerate().map(|(i, v)| one(v, Some(i))).collect()
        }
        v @ Value::Object(_) => Ok(vec![one(v, None)?]),
        _ => Err(Error::invalid("body", "must be a JSON object: an audit event, or {\"events\": [...]}")),
    }
}

/// Writes the entries in one transaction, in order, with the key as the
/// actor (its name, or the `actor_label` given, as the label; the key's
/// name and the `user_id` kept in the details). An entry whose `id` this
/// organization already wrote is not written again.
pub async fn record_app_events(db: &Db, key: &ApiPrincipal, events: &[AppEvent]) -> Result<Vec<AppEventResult>> {
    let mut tx = db.begin().await?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let entry_id = new_id();
        if let Some(id) = &e.id {
            if !store::claim_app_id(&mut tx, &key.org_id, id, &entry_id, now_ms()).await? {
                let first = store::app_entry_id(&mut tx, &key.org_id, id).await?.unwrap_or_default();
                out.push(AppEventResult { id: Some(id.clone()), status: "duplicate", entry_id: first });
                continue;
            }
        }
        let details = json!({
            "details": e.details,
            "user_id": e.user_id,
            "key_name": key.key_name,
            "id": e.id,
        });
        let label = e.actor_label.as_deref().unwrap_or(&key.key_name);
        let actor = service::Actor { kind: super::ActorKind::ApiKey, id: Some(&key.key_id), label };
        let entry = service::NewEntry::new(Some(&key.org_id), actor, &e.action, e.target.as_deref())
            .result(e.result)
            .origin(service::Origin { ip: e.ip.as_deref(), user_agent: e.user_agent.as_deref() })
            .details(details)
            .with_id(&entry_id);
        service::record_in(&mut tx, db.engine, &entry).await?;
        out.push(AppEventResult { id: e.id.clone(), status: "recorded", entry_id });
    }
    tx.commit().await?;
    Ok(out)
}

/// A page of an organization's trail, newest first, and the cursor of the
/// next (older) page.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<super::AuditEntryView>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next_before: Option<i64>,
}

/// The organization's trail (system and app entries) matching the audit
/// page's filters, `limit` (1–500) entries older than `before` (a `seq`).
pub async fn page(db: &Db, org_id: &str, f: &super::AuditFilter, time_zone: &str, before: Option<i64>, limit: i64) -> Result<AuditPage> {
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid("limit", "must be between 1 and 500"));
    }
    if before.is_some_and(|b| b < 1) {
        return Err(Error::invalid("before", "must be a positive entry number (next_before of the previous page)"));
    }
    let mut entries = service::list_before(db, Some(org_id), f, time_zone, before, limit + 1).await?;
    let next_before = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(AuditPage { entries, next_before })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_app_actions_are_accepted() {
        assert_eq!(parse_action("app.kb.uploaded").unwrap(), "app.kb.uploaded");
        assert_eq!(parse_action(" app.error.api ").unwrap(), "app.error.api");
        assert!(parse_action("app.config.branding-updated_2").is_ok());
        for forged in ["plan.change", "api_key.revoke", "app", "app.", "App.kb", "app..x", "app.Kb", "app.kb.", "apps.x", "app.k b"] {
            assert!(parse_action(forged).is_err(), "{forged}");
        }
        assert!(parse_action(&format!("app.{}", "a".repeat(97))).is_err());
    }

    #[test]
    fn an_entry_names_each_bad_field() {
        let field = |input: AppEventInput| match parse_app_event(input, Some(2)) {
            Err(Error::Invalid { field, message }) => {
                assert!(message.starts_with("events[2]: "), "{message}");
                field
            }
            other => panic!("{other:?}"),
        };
        let ok = || AppEventInput { action: Some("app.kb.uploaded".into()), ..Default::default() };
        assert_eq!(field(AppEventInput { action: None, ..ok() }), "action");
        assert_eq!(field(AppEventInput { action: Some("trial.extend".into()), ..ok() }), "action");
        assert_eq!(field(AppEventInput { result: Some("ok".into()), ..ok() }), "result");
        assert_eq!(field(AppEventInput { details: Some(json!([1])), ..ok() }), "details");
        assert_eq!(field(AppEventInput { details: Some(json!({"x": "y".repeat(5000)})), ..ok() }), "details");
        assert_eq!(field(AppEventInput { ip: Some("10.0.0.300".into()), ..ok() }), "ip");
        assert_eq!(field(AppEventInput { id: Some("a b".into()), ..ok() }), "id");
        assert_eq!(field(AppEventInput { actor_label: Some("x".repeat(201)), ..ok() }), "actor_label");
        let e = parse_app_event(AppEventInput { result: Some("denied".into()), ip: Some("2001:db8::1".into()), ..ok() }, None).unwrap();
        assert_eq!((e.result, e.details.clone(), e.ip.as_deref()), (Outcome::Denied, json!({}), Some("2001:db8::1")));
    }

    #[test]
    fn a_batch_holds_one_to_a_hundred_entries_and_is_checked_whole() {
        let one = json!({"action": "app.kb.uploaded"});
        assert_eq!(parse_app_events(one.clone()).unwrap().len(), 1);
        assert_eq!(parse_app_events(json!({"events": vec![one.clone(); 100]})).unwrap().len(), 100);
        assert!(parse_app_events(json!({"events": vec![one.clone(); 101]})).is_err());
        assert!(parse_app_events(json!({"events": []})).is_err());
        assert!(parse_app_events(json!([one.clone()])).is_err());
        let bad = parse_app_events(json!({"events": [one.clone(), {"action": "app.x", "colour": "red"}]})).unwrap_err();
        assert!(matches!(&bad, Error::Invalid { field: "body", message } if message.contains("events[1]") && message.contains("colour")), "{bad:?}");
    }
}
