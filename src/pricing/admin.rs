//! The price book as platform admins see and change it: search, one model's
//! history, overrides and custom models.
//!
//! Every change is a new `model_prices` row effective from a time that is not
//! in the past. Rows are never updated in place, so an event already priced
//! keeps its cost, and an event stamped before the change (sent late, or
//! backfilled) is still priced with the price that was in force then.

use sqlx::AnyConnection;

use super::edit::{PriceEdit, PriceKind};
use super::store;
use super::{Mode, ModelPrice};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::{is_unique_violation, Db};
use crate::ids::new_id;
use crate::{Error, Result};

/// Price rows written by an admin override.
pub const SOURCE_OVERRIDE: &str = "override";
/// Price rows of a model an admin added.
pub const SOURCE_CUSTOM: &str = "custom";

/// The most models one page of a search returns.
pub const MAX_PAGE: i64 = 200;

/// What to look for in the price book.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSearch {
    /// Case-insensitive substring of the model's name or provider; empty: all.
    pub text: String,
    /// Exact provider; empty: all.
    pub provider: String,
    /// Exact mode (`chat`, `embedding`, …); empty: all.
    pub mode: String,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: i64,
    pub offset: i64,
}

/// One price row with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceEntry {
    pub id: String,
    pub effective_from: i64,
    /// `catalog`, `import`, `override` or `custom`.
    pub source: String,
    pub price: ModelPrice,
    pub created_at: i64,
}

/// A model with the price in force now (none when its first price starts
/// later).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    pub provider: String,
    pub mode: Option<String>,
    pub current: Option<PriceEntry>,
}

/// One page of a search, and how many models match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPage {
    pub models: Vec<ModelSummary>,
    pub total: i64,
}

/// A model and every price it has had or will have.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDetail {
    pub name: String,
    pub provider: String,
    pub mode: Option<String>,
    /// Oldest first.
    pub history: Vec<PriceEntry>,
    /// Index in `history` of the row in force now.
    pub in_force: Option<usize>,
}

impl ModelDetail {
    /// The row in force now, if any.
    pub fn current(&self) -> Option<&PriceEntry> {
        self.in_force.map(|i| &self.history[i])
    }
}

/// `LIKE` pattern matching `text` anywhere, lower-cased, with `\` escaping
/// the pattern's own wildcards.
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Models matching `q`, by name, each with the price in force at `now`.
pub async fn search_models(db: &Db, q: &ModelSearch, now: i64) -> Result<ModelPage> {
    if !(1..=MAX_PAGE).contains(&q.limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    if q.offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    let pattern = contains_pattern(&q.text);
    let search = store::Search { pattern: &pattern, provider: q.provider.trim(), mode: q.mode.trim() };
    let total = store::count_models(&mut *db.reader().acquire().await?, &search).await?;
    let models = store::search_models(&mut *db.reader().acquire().await?, &search, now, q.limit, q.offset).await?;
    Ok(ModelPage { models, total })
}

/// The providers and modes in the price book, for search filters.
pub async fn providers_and_modes(db: &Db) -> Result<(Vec<String>, Vec<String>)> {
    let providers = store::providers(&mut *db.reader().acquire().await?).await?;
    let modes = store::modes(&mut *db.reader().acquire().await?).await?;
    Ok((providers, modes))
}

async fn model_row(conn: &mut AnyConnection, name: &str) -> Result<Option<(String, Option<String>)>> {
    store::model(conn, name).await
}

async fn entries(conn: &mut AnyConnection, name: &str) -> Result<Vec<PriceEntry>> {
    store::entries(conn, name).await
}

/// Index of the row in force at `ts` in a history sorted oldest first.
fn in_force_at(history: &[PriceEntry], ts: i64) -> Option<usize> {
    history.iter().rposition(|e| e.effective_from <= ts)
}

/// One model with its full price history, and the row in force at `now`.
pub async fn model_detail(db: &Db, name: &str, now: i64) -> Result<ModelDetail> {
    let mut conn = db.reader().acquire().await?;
    let (provider, mode) = model_row(&mut conn, name).await?.ok_or(Error::NotFound("model"))?;
    let history = entries(&mut conn, name).await?;
    let in_force = in_force_at(&history, now);
    Ok(ModelDetail { name: name.to_string(), provider, mode, history, in_force })
}

/// Reads an effective time typed by a person: empty means now; otherwise
/// RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` (also with `T`, as a browser's
/// `datetime-local` input sends it) read as UTC.
pub fn parse_effective_from(text: &str) -> Result<Option<i64>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(ms) = crate::clock::parse_rfc3339(text) {
        return Ok(Some(ms));
    }
    const FORMATS: [&str; 4] = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"];
    FORMATS
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| Some(t.and_utc().timestamp_millis()))
        .ok_or_else(|| Error::invalid("effective from", "must be a UTC time such as 2030-01-31 09:00, or empty for now"))
}

/// The time a change applies from: `requested`, or `now` when none. A time
/// in the past is refused: the prices in force then already priced events,
/// and may price late events still to come, so changing them would change
/// past costs silently.
fn effective_time(requested: Option<i64>, now: i64) -> Result<i64> {
    match requested {
        None => Ok(now),
        Some(t) if t < now => Err(Error::invalid(
            "effective from",
            format!("must not be in the past (now is {}); leave it empty to apply now", to_rfc3339(now)),
        )),
        Some(t) => Ok(t),
    }
}

async fn insert_price(conn: &mut AnyConnection, price: &ModelPrice, from: i64, source: &str, now: i64) -> Result<PriceEntry> {
    let id = new_id();
    store::insert_price_row(conn, &id, price, from, source, now).await?.map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict("effective from", "this model already has a price starting at that exact time; choose another time")
        } else {
            Error::Store(e)
        }
    })?;
    Ok(PriceEntry { id, effective_from: from, source: source.to_string(), price: price.clone(), created_at: now })
}

/// Overrides a model's prices from `effective_from` (default: now) by adding
/// a row with source `override`. The prices in `edit` replace the editable
/// prices of the row in force at that time; everything else of that row
/// (tiers, batch and priority variants, capabilities) is kept. A row that
/// starts later (a scheduled import) still takes over at its own time.
///
/// Refuses an unknown model (not found), a time in the past, and an edit
/// that changes nothing.
pub async fn override_price(db: &Db, model: &str, edit: &PriceEdit, effective_from: Option<i64>, by: &crate::audit::By) -> Result<PriceEntry> {
    let now = now_ms();
    let from = effective_time(effective_from, now)?;
    let mut tx = db.begin().await?;
    let (provider, mode) = model_row(&mut tx, model).await?.ok_or(Error::NotFound("model"))?;
    let history = entries(&mut tx, model).await?;
    let base = match in_force_at(&history, from) {
        Some(i) => history[i].price.clone(),
        None => {
            let mut p = ModelPrice::new(model, provider);
            p.mode = mode.map(Mode::from);
            p
        }
    };
    let next = edit.apply_to(&base);
    if next == base {
        return Err(Error::invalid("prices", "are the same as the prices in force at that time; nothing to override"));
    }
    let entry = insert_price(&mut tx, &next, from, SOURCE_OVERRIDE, now).await?;
    let details = serde_json::json!({ "effective_from": to_rfc3339(from), "changes": price_changes(&base, &next) });
    crate::audit::record_in(&mut tx, db.engine, &by.entry(None, "price.override", Some(model)).details(details)).await?;
    tx.commit().await?;
    Ok(entry)
}

/// A model name as an admin types it: trimmed, 1 to 200 characters, no
/// control characters. (Names are the keys events use, e.g.
/// `bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelName(String);

impl ModelName {
    pub fn parse(text: &str) -> Result<ModelName> {
        let name = text.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be at most 200 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "must not contain control characters"));
        }
        Ok(ModelName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A model an admin adds to the price book.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomModel {
    pub name: ModelName,
    pub provider: String,
    pub mode: Option<Mode>,
    pub prices: PriceEdit,
    /// Default: now. Must not be in the past.
    pub effective_from: Option<i64>,
}

impl CustomModel {
    /// Reads the form fields other than prices: the provider is required
    /// (1 to 100 characters), the mode optional (LiteLLM's spelling, e.g.
    /// `chat`, lower case letters and `_`).
    pub fn parse(name: &str, provider: &str, mode: &str, prices: PriceEdit, effective_from: Option<i64>) -> Result<CustomModel> {
        let name = ModelName::parse(name)?;
        let provider = provider.trim();
        if provider.is_empty() || provider.chars().count() > 100 || provider.chars().any(char::is_control) {
            return Err(Error::invalid("provider", "must be 1 to 100 characters, e.g. openai or self-hosted"));
        }
        let mode = mode.trim();
        let mode = if mode.is_empty() {
            None
        } else if mode.len() <= 40 && mode.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            Some(Mode::parse(mode))
        } else {
            return Err(Error::invalid("mode", "must be a mode such as chat, embedding or image_generation"));
        };
        Ok(CustomModel { name, provider: provider.to_string(), mode, prices, effective_from })
    }
}

/// Adds a model with its first price (source `custom`). A name already in
/// the price book is a conflict on `name`: override its price instead.
pub async fn add_custom_model(db: &Db, model: &CustomModel, by: &crate::audit::By) -> Result<PriceEntry> {
    let now = now_ms();
    let from = effective_time(model.effective_from, now)?;
    let name = model.name.as_str();
    let taken = || Error::conflict("name", format!("the model {name} is already in the price book; override its price instead"));
    let mut tx = db.begin().await?;
    if model_row(&mut tx, name).await?.is_some() {
        return Err(taken());
    }
    store::insert_model(&mut tx, name, &model.provider, model.mode.as_ref().map(|m| m.as_str().to_string()), now)
        .await
        .map_err(|e| if is_unique_violation(&e) { taken() } else { Error::Store(e) })?;
    let mut base = ModelPrice::new(name, &model.provider);
    base.mode = model.mode.clone();
    let price = model.prices.apply_to(&base);
    let entry = insert_price(&mut tx, &price, from, SOURCE_CUSTOM, now).await?;
    let details = serde_json::json!({
        "provider": model.provider,
        "effective_from": to_rfc3339(from),
        "changes": price_changes(&base, &price),
    });
    crate::audit::record_in(&mut tx, db.engine, &by.entry(None, "price.add_model", Some(name)).details(details)).await?;
    tx.commit().await?;
    Ok(entry)
}

/// The editable prices that differ between `before` and `after`, for the
/// audit log: `{"Input per token": {"from": "0.0000025", "to": "0.000003"}}`.
fn price_changes(before: &ModelPrice, after: &ModelPrice) -> serde_json::Value {
    let text = |p: Option<crate::pricing::UnitPrice>| p.map(|p| p.usd().to_string());
    let changed: serde_json::Map<String, serde_json::Value> = PriceKind::ALL
        .into_iter()
        .filter_map(|k| {
            let (from, to) = (text(k.get(before)), text(k.get(after)));
            (from != to).then(|| (k.label().to_string(), serde_json::json!({ "from": from, "to": to })))
        })
        .collect();
    serde_json::Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(contains_pattern(" GPT-4o "), "%gpt-4o%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn effective_times_read_as_utc_and_the_past_is_refused() {
        assert_eq!(parse_effective_from("").unwrap(), None);
        assert_eq!(parse_effective_from("1970-01-01 00:01").unwrap(), Some(60_000));
        assert_eq!(parse_effective_from("1970-01-01T00:01").unwrap(), Some(60_000));
        assert_eq!(parse_effective_from("1970-01-01T01:00:00+01:00").unwrap(), Some(0));
        assert_eq!(parse_effective_from("tomorrow").unwrap_err().field(), Some("effective from"));
        assert_eq!(effective_time(None, 5).unwrap(), 5);
        assert_eq!(effective_time(Some(7), 5).unwrap(), 7);
        assert_eq!(effective_time(Some(4), 5).unwrap_err().field(), Some("effective from"));
    }

    #[test]
    fn custom_model_fields_are_parsed() {
        let prices = PriceEdit::parse(&super::super::PriceFields::default().with(super::super::PriceKind::Input, "1")).unwrap();
        let m = CustomModel::parse(" acme/llm:v1 ", "acme", "chat", prices.clone(), None).unwrap();
        assert_eq!((m.name.as_str(), m.mode), ("acme/llm:v1", Some(Mode::Chat)));
        assert_eq!(CustomModel::parse(" ", "acme", "", prices.clone(), None).unwrap_err().field(), Some("name"));
        assert_eq!(CustomModel::parse("x", "", "", prices.clone(), None).unwrap_err().field(), Some("provider"));
        assert_eq!(CustomModel::parse("x", "acme", "Chat!", prices, None).unwrap_err().field(), Some("mode"));
    }
}
