//! Provider connections: list, save (create or replace), delete, and
//! [`resolve`], the gateway's question "where does this call go?".
//!
//! Every change is audited in its own transaction (`provider.upsert` with
//! the kind, base URL and last 4 characters, `provider.delete`); the key
//! itself is never in the log, in an answer, or in a log line.

use std::sync::Arc;

use serde_json::json;

use super::defaults::{Defaults, ProviderSettings};
use super::secret_box::{Secret, SecretBox, KEY_VARIABLE};
use super::{last4, store, ConnectionName, Family, ProviderKind, ProviderView};
use crate::audit::{self, By};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::{is_unique_violation, Db};
use crate::expiring::Expiring;
use crate::{Error, Result};

/// Most connections per organization.
pub const MAX_CONNECTIONS: i64 = 20;
/// Longest API key accepted (some self-hosted servers take long JWTs).
pub const MAX_KEY_LEN: usize = 4096;
/// Longest base URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// The refusal's sentence for a base URL into the operator's network.
const EGRESS_RULE: &str = "provider connections may only point to public internet addresses \
     (the operator may allow private ones with TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE)";

/// A connection as saved through the REST API or the Providers page.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionInput<'a> {
    /// `openai`, `anthropic` or `openai_compatible`.
    pub kind: &'a str,
    /// Required for `openai_compatible`; else blank means the server's
    /// default base URL of the kind.
    pub base_url: Option<&'a str>,
    /// Required when creating; blank when replacing keeps the stored key.
    pub api_key: Option<&'a str>,
}

/// A saved connection, and whether it was new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub connection: ProviderView,
    pub created: bool,
}

/// The upstream that serves one call: what the gateway connects to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The connection's name, or `openai` / `anthropic` for a server default.
    pub provider: String,
    pub kind: ProviderKind,
    /// Without a trailing `/`; the family's paths follow (`/chat/completions`
    /// after an OpenAI base URL, `/v1/messages` after an Anthropic one).
    pub base_url: String,
    pub api_key: Secret,
    /// The model to send upstream (`<name>/` stripped).
    pub model: String,
    /// The model to price with: the price book's name for it when the book
    /// has one (`groq/llama-3.3-70b-versatile`), else [`Upstream::model`].
    pub price_model: String,
    /// Whether `base_url` was typed by the organization (its connection's),
    /// rather than the operator's default: connecting to it must follow the
    /// egress rule (`ProviderSettings::egress`), as webhook delivery does.
    pub base_url_by_org: bool,
}

/// Checks a base URL's form and returns it without a trailing `/`: an
/// absolute http(s) URL with a host, no credentials (they belong in the
/// key), no query or fragment, no spaces, at most 2,000 characters. Where it
/// points is [`crate::egress`]'s rule, checked by [`upsert`].
pub fn parse_base_url(field: &'static str, raw: &str) -> Result<String> {
    let url = raw.trim();
    if url.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid(field, format!("must be at most {MAX_URL_LEN} characters")));
    }
    if url.chars().any(char::is_whitespace) {
        return Err(Error::invalid(field, "must not contain spaces"));
    }
    crate::egress::host_of(field, url)?;
    let parsed = url::Url::parse(url).map_err(|_| Error::invalid(field, "is not an http:// or https:// URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::invalid(field, "must not contain credentials; put the key in api_key"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::invalid(field, "must not have a query (?…) or fragment (#…)"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Checks an API key: present, printable ASCII without spaces (it travels
/// in an HTTP header), at most 4,096 characters. The error never repeats it.
pub fn parse_api_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Error::invalid("api_key", "is required"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid("api_key", format!("must be at most {MAX_KEY_LEN} characters")));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid("api_key", "must be printable ASCII without spaces"));
    }
    Ok(key.to_string())
}

fn view_of(s: &store::Stored) -> ProviderView {
    ProviderView {
        name: s.name.clone(),
        kind: s.kind,
        base_url: s.base_url.clone(),
        key_last4: s.key_last4.clone(),
        updated_at: to_rfc3339(s.updated_at),
    }
}

/// The organization's connections, by name (never their keys).
pub async fn list(db: &Db, org_id: &str) -> Result<Vec<ProviderView>> {
    Ok(store::list(db, org_id).await?.iter().map(view_of).collect())
}

/// Creates or replaces the connection `name` of `org_id`. The kind must fit
/// the name (`openai`, `anthropic`, else `openai_compatible`); a base URL
/// must be public under `settings.egress`; the key is encrypted before it
/// reaches the database. Audited as `provider.upsert` (kind, base URL,
/// last 4 characters, whether the key changed; never the key).
pub async fn upsert(db: &Db, settings: &ProviderSettings, org_id: &str, name: &str, input: &ConnectionInput<'_>, by: &By) -> Result<Saved> {
    let name = ConnectionName::parse(name)?;
    if input.kind.trim().is_empty() {
        return Err(Error::invalid("kind", "is required: openai, anthropic or openai_compatible"));
    }
    let kind = ProviderKind::parse(input.kind)?;
    name.check_kind(kind)?;
    let base_url = match input.base_url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(raw) => Some(parse_base_url("base_url", raw)?),
        None if kind.needs_base_url() => {
            return Err(Error::invalid("base_url", "is required for an openai_compatible connection (e.g. https://api.groq.com/openai/v1)"))
        }
        None => None,
    };
    let api_key = input.api_key.filter(|k| !k.trim().is_empty()).map(parse_api_key).transpose()?;
    if let Some(url) = &base_url {
        crate::egress::check_url_under("base_url", url, settings.egress, EGRESS_RULE).await?;
    }
    let sealed = api_key.as_deref().map(|k| settings.secrets.seal(org_id, name.as_str(), k)).transpose()?;

    let mut tx = db.begin().await?;
    let existing = store::find_in(&mut tx, org_id, name.as_str()).await?;
    let (sealed, key_last4) = match (sealed, &existing) {
        (Some(s), _) => (s, last4(api_key.as_deref().unwrap_or_default())),
        (None, Some(old)) => (old.sealed.clone(), old.key_last4.clone()),
        (None, None) => return Err(Error::invalid("api_key", "is required to create a connection")),
    };
    if existing.is_none() && store::count_in(&mut tx, org_id).await? >= MAX_CONNECTIONS {
        return Err(Error::conflict("name", format!("an organization may have at most {MAX_CONNECTIONS} provider connections")));
    }
    let at = now_ms();
    let write = store::Write {
        org_id,
        name: name.as_str(),
        kind,
        base_url: base_url.as_deref(),
        sealed: &sealed,
        key_last4: &key_last4,
        at,
        by: &by.label,
    };
    let written = match existing {
        Some(_) => store::update(&mut tx, &write).await,
        None => store::insert(&mut tx, &write).await,
    };
    match written {
        Err(Error::Store(e)) if is_unique_violation(&e) => {
            return Err(Error::conflict("name", format!("{} was created at the same moment; try again", name.as_str())))
        }
        other => other?,
    }
    let details = json!({
        "name": name.as_str(),
        "kind": kind,
        "base_url": base_url,
        "key_last4": key_last4,
        "key_changed": api_key.is_some(),
        "created": existing.is_none(),
    });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "provider.upsert", Some(name.as_str())).details(details)).await?;
    tx.commit().await?;
    forget_upstreams(org_id);
    let connection = ProviderView { name: name.as_str().to_string(), kind, base_url, key_last4, updated_at: to_rfc3339(at) };
    Ok(Saved { connection, created: existing.is_none() })
}

/// Removes the connection `name` of `org_id` (`NotFound` when it has none
/// by that name); audited as `provider.delete`.
pub async fn delete(db: &Db, org_id: &str, name: &str, by: &By) -> Result<()> {
    let not_found = Error::NotFound("provider connection");
    if !ConnectionName::is_valid(name) {
        return Err(not_found);
    }
    let mut tx = db.begin().await?;
    let Some(old) = store::find_in(&mut tx, org_id, name).await? else { return Err(not_found) };
    if store::delete(&mut tx, org_id, name).await? == 0 {
        return Err(not_found);
    }
    let details = json!({ "name": name, "kind": old.kind, "base_url": old.base_url, "key_last4": old.key_last4 });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "provider.delete", Some(name)).details(details)).await?;
    tx.commit().await?;
    forget_upstreams(org_id);
    Ok(())
}

/// The upstream that serves `model` for this organization on the given wire family,
/// or None when neither a connection nor a server default can.
///
/// Rules, in order:
/// 1. OpenAI family, model `<name>/<rest>` where `<name>` is one of the
///    organization's `openai_compatible` connections: that connection, sent
///    `<rest>`, priced as `<name>/<rest>` when the price book has that name,
///    else as `<rest>`.
/// 2. The organization's connection named after the family (`openai`,
///    `anthropic`), at its base URL or the server default's.
/// 3. The server default of the family, when the operator gave it a key.
///
/// One indexed read of the organization's rows; the key is decrypted only
/// for the connection chosen. An organization's connections are reused for
/// [`CONNECTIONS_CACHE_MS`] (every gateway call asks): a connection saved or
/// deleted through this process is seen at once, through another process
/// within that time.
pub async fn resolve(db: &Db, secrets: &SecretBox, defaults: &Defaults, org_id: &str, family: Family, model: &str) -> Result<Option<Upstream>> {
    let rows = connections(db, org_id).await?;
    choose(db, &rows, secrets, defaults, org_id, family, model).await
}

/// How long this process reuses an organization's connections.
pub const CONNECTIONS_CACHE_MS: i64 = 5_000;

static CONNECTIONS: Expiring<String, Arc<Vec<store::Stored>>> = Expiring::new(CONNECTIONS_CACHE_MS);

/// The organization's connections (keys sealed), from the cache.
async fn connections(db: &Db, org_id: &str) -> Result<Arc<Vec<store::Stored>>> {
    let now = now_ms();
    if let Some(rows) = CONNECTIONS.get(org_id, now) {
        return Ok(rows);
    }
    let ticket = CONNECTIONS.ticket();
    let rows = Arc::new(store::list(db, org_id).await?);
    CONNECTIONS.put(ticket, org_id.to_string(), rows.clone(), now);
    Ok(rows)
}

fn forget_upstreams(org_id: &str) {
    CONNECTIONS.forget_if(|org, _| org == org_id);
}

async fn choose(
    db: &Db,
    rows: &[store::Stored],
    secrets: &SecretBox,
    defaults: &Defaults,
    org_id: &str,
    family: Family,
    model: &str,
) -> Result<Option<Upstream>> {
    let own = family.default_name();
    let prefixed = match family {
        Family::OpenAi => model.split_once('/').filter(|(name, rest)| {
            !rest.is_empty() && *name != own && *name != Family::Anthropic.default_name() && ConnectionName::is_valid(name)
        }),
        Family::Anthropic => None,
    };
    if let Some((name, rest)) = prefixed {
        if let Some(row) = rows.iter().find(|r| r.name == name && r.kind == ProviderKind::OpenAiCompatible) {
            let price_model = if has_price(db, model).await? { model.to_string() } else { rest.to_string() };
            let base_url = row.base_url.clone().ok_or_else(|| Error::Internal(format!("connection {name:?} has no base URL")))?;
            return Ok(Some(Upstream {
                provider: row.name.clone(),
                kind: row.kind,
                base_url,
                api_key: secrets.open(org_id, &row.name, &row.sealed)?,
                model: rest.to_string(),
                price_model,
                base_url_by_org: true,
            }));
        }
    }
    let default = defaults.of(family);
    if let Some(row) = rows.iter().find(|r| r.name == own && r.kind == family.default_kind()) {
        return Ok(Some(Upstream {
            provider: row.name.clone(),
            kind: row.kind,
            base_url: row.base_url.clone().unwrap_or_else(|| default.base_url.clone()),
            api_key: secrets.open(org_id, &row.name, &row.sealed)?,
            model: model.to_string(),
            price_model: model.to_string(),
            base_url_by_org: row.base_url.is_some(),
        }));
    }
    Ok(default.api_key.as_ref().map(|key| Upstream {
        provider: own.to_string(),
        kind: family.default_kind(),
        base_url: default.base_url.clone(),
        api_key: key.clone(),
        model: model.to_string(),
        price_model: model.to_string(),
        base_url_by_org: false,
    }))
}

/// Whether the price book has a price for exactly this name.
async fn has_price(db: &Db, model: &str) -> Result<bool> {
    Ok(!crate::pricing::cache::history_of(db, model).await?.is_empty())
}

/// How many provider connections are stored, across organizations (at
/// start: whether the gateway will be used).
pub async fn connections_stored(db: &Db) -> Result<i64> {
    Ok(store::census(db).await?.0)
}

/// The start-up check: stored connections must be readable with this
/// server's key. Refuses (naming `TOLLBOOTH_SECRET_KEY`) when connections
/// exist but there is no key, or when the latest one does not decrypt (the
/// key file was lost or the variable changed), rather than failing every
/// gateway call later.
pub async fn check_secret_box(db: &Db, secrets: &SecretBox) -> Result<()> {
    let (count, latest) = store::census(db).await?;
    let Some(latest) = latest else { return Ok(()) };
    if !secrets.is_available() {
        return Err(Error::invalid(
            KEY_VARIABLE,
            format!("{count} provider connection(s) are stored, but this server has no key to read them: set {KEY_VARIABLE} to the key they were stored under"),
        ));
    }
    secrets.open(&latest.org_id, &latest.name, &latest.sealed).map(|_| ()).map_err(|_| {
        Error::invalid(
            KEY_VARIABLE,
            format!("the stored provider keys do not decrypt under this server's key ({KEY_VARIABLE} or the key file): restore the key they were stored under"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_absolute_http_without_credentials_or_query() {
        assert_eq!(parse_base_url("base_url", " https://api.groq.com/openai/v1/ ").unwrap(), "https://api.groq.com/openai/v1");
        assert_eq!(parse_base_url("base_url", "http://127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000");
        for bad in [
            "",
            "api.groq.com/openai/v1",
            "ftp://example.com",
            "https://user:pw@example.com/v1",
            "https://example.com/v1?key=x",
            "https://example.com/v1#x",
            "https://exa mple.com",
            &format!("https://example.com/{}", "a".repeat(2000)),
        ] {
            assert_eq!(parse_base_url("base_url", bad).unwrap_err().field(), Some("base_url"), "{bad:?}");
        }
    }

    #[test]
    fn api_keys_are_printable_ascii_and_errors_do_not_repeat_them() {
        assert_eq!(parse_api_key("  sk-abc123  ").unwrap(), "sk-abc123");
        for bad in ["", "   ", "sk abc", "sk-\u{e9}", &"k".repeat(4097)] {
            let e = parse_api_key(bad).unwrap_err();
            assert_eq!(e.field(), Some("api_key"), "{bad:?}");
            if !bad.trim().is_empty() {
                assert!(!e.to_string().contains(bad.trim()), "{e}");
            }
        }
    }
}
