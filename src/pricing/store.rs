//! The effective-dated price book in the database.
//!
//! Rule: prices are never updated in place. An import or an override adds a
//! row effective from a time; an event is priced with the row in force at
//! its timestamp. Re-importing an unchanged price adds nothing.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{ModelPrice, PriceBook};
use crate::clock::now_ms;
use crate::db::Db;
use crate::ids::new_id;
use crate::{Error, Result};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// One price row of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    pub id: String,
    pub effective_from: i64,
    pub price: ModelPrice,
}

pub(super) fn encode(p: &ModelPrice) -> Result<String> {
    serde_json::to_string(p).map_err(|e| Error::Internal(format!("encode price: {e}")))
}

pub(super) fn decode(s: &str) -> Result<ModelPrice> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("stored price does not decode: {e}")))
}

/// The latest price JSON of every model.
async fn current_json(conn: &mut AnyConnection) -> Result<HashMap<String, String>> {
    let rows = sqlx::query(
        "SELECT p.model, p.price_json FROM model_prices p WHERE p.effective_from = \
         (SELECT MAX(q.effective_from) FROM model_prices q WHERE q.model = p.model)",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| Ok((r.try_get("model")?, r.try_get("price_json")?))).collect()
}

/// Adds every model of `book` whose price differs from its current one,
/// effective from `effective_from` (default: now), in one transaction.
pub async fn import(db: &Db, book: &PriceBook, source: &str, effective_from: Option<i64>) -> Result<ImportReport> {
    let mut tx = db.begin().await?;
    let (report, _) = import_in(&mut tx, book, source, effective_from, now_ms()).await?;
    tx.commit().await?;
    Ok(report)
}

/// [`import`] in the caller's transaction; also returns the names of the
/// models added or changed, in name order.
pub(crate) async fn import_in(
    tx: &mut AnyConnection,
    book: &PriceBook,
    source: &str,
    effective_from: Option<i64>,
    now: i64,
) -> Result<(ImportReport, Vec<String>)> {
    let from = effective_from.unwrap_or(now);
    let current = current_json(&mut *tx).await?;
    let mut report = ImportReport::default();
    let mut touched = Vec::new();
    for price in book.iter() {
        let json = encode(price)?;
        match current.get(&price.name) {
            Some(old) if *old == json => {
                report.unchanged += 1;
                continue;
            }
            Some(_) => report.changed += 1,
            None => {
                sqlx::query("INSERT INTO models (name, provider, mode, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&price.name)
                    .bind(&price.provider)
                    .bind(price.mode.as_ref().map(|m| m.as_str().to_string()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                report.added += 1;
            }
        }
        touched.push(price.name.clone());
        sqlx::query(
            "INSERT INTO model_prices (id, model, effective_from, source, price_json, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (model, effective_from) DO UPDATE SET price_json = excluded.price_json, source = excluded.source",
        )
        .bind(new_id())
        .bind(&price.name)
        .bind(from)
        .bind(source)
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok((report, touched))
}

/// Whether any price is stored (first start loads the default catalog).
pub async fn is_empty(db: &Db) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM model_prices").fetch_one(db.reader()).await?;
    Ok(n == 0)
}

/// Every price row of a model, oldest first.
pub async fn history(conn: &mut AnyConnection, model: &str) -> Result<Vec<PriceRow>> {
    let rows = sqlx::query("SELECT id, effective_from, price_json FROM model_prices WHERE model = $1 ORDER BY effective_from")
        .bind(model)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(PriceRow {
                id: r.try_get("id")?,
                effective_from: r.try_get("effective_from")?,
                price: decode(&r.try_get::<String, _>("price_json")?)?,
            })
        })
        .collect()
}

/// The prices in force at `ts` of every model of `provider` (by the
/// provider the model was added with), ordered by name.
pub async fn in_force_of_provider(conn: &mut AnyConnection, provider: &str, ts: i64) -> Result<Vec<ModelPrice>> {
    let rows = sqlx::query(
        "SELECT p.price_json FROM model_prices p JOIN models m ON m.name = p.model \
         WHERE m.provider = $1 AND p.effective_from = \
         (SELECT MAX(q.effective_from) FROM model_prices q WHERE q.model = p.model AND q.effective_from <= $2) \
         ORDER BY p.model",
    )
    .bind(provider)
    .bind(ts)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| decode(&r.try_get::<String, _>("price_json")?)).collect()
}

/// The row in force at `ts` among a model's history (oldest first).
pub fn in_force(history: &[PriceRow], ts: i64) -> Option<&PriceRow> {
    history.iter().rev().find(|r| r.effective_from <= ts)
}

/// The price book's version, bumped by a trigger on every change to
/// `model_prices` (see [`super::cache`]).
pub async fn version(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT version FROM price_book_version WHERE id = 1").fetch_one(conn).await?)
}

/// Shared `WHERE` of the model search and its count ($1 pattern, $2 provider, $3 mode).
const SEARCH_WHERE: &str = "WHERE (LOWER(m.name) LIKE $1 ESCAPE '\\' OR LOWER(m.provider) LIKE $1 ESCAPE '\\') \
     AND ($2 = '' OR m.provider = $2) AND ($3 = '' OR m.mode = $3)";

/// What the model search matches: a `LIKE` pattern on name or provider
/// (escaped with `\`), and a provider and mode (empty: any).
pub(crate) struct Search<'a> {
    pub pattern: &'a str,
    pub provider: &'a str,
    pub mode: &'a str,
}

fn entry_of(r: &sqlx::any::AnyRow) -> Result<super::admin::PriceEntry> {
    Ok(super::admin::PriceEntry {
        id: r.try_get("id")?,
        effective_from: r.try_get("effective_from")?,
        source: r.try_get("source")?,
        price: decode(&r.try_get::<String, _>("price_json")?)?,
        created_at: r.try_get("created_at")?,
    })
}

/// How many models match.
pub(crate) async fn count_models(conn: &mut AnyConnection, s: &Search<'_>) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM models m {SEARCH_WHERE}"))
        .bind(s.pattern)
        .bind(s.provider)
        .bind(s.mode)
        .fetch_one(conn)
        .await?)
}

/// A page of the matching models by name, each with its price row in force at `now`.
pub(crate) async fn search_models(conn: &mut AnyConnection, s: &Search<'_>, now: i64, limit: i64, offset: i64) -> Result<Vec<super::admin::ModelSummary>> {
    let rows = sqlx::query(&format!(
        "SELECT m.name, m.provider, m.mode, p.id, p.effective_from, p.source, p.price_json, p.created_at \
         FROM models m LEFT JOIN model_prices p ON p.model = m.name AND p.effective_from = \
           (SELECT MAX(q.effective_from) FROM model_prices q WHERE q.model = m.name AND q.effective_from <= $4) \
         {SEARCH_WHERE} ORDER BY m.name LIMIT $5 OFFSET $6"
    ))
    .bind(s.pattern)
    .bind(s.provider)
    .bind(s.mode)
    .bind(now)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let current = match r.try_get::<Option<String>, _>("id")? {
                Some(_) => Some(entry_of(r)?),
                None => None,
            };
            Ok(super::admin::ModelSummary { name: r.try_get("name")?, provider: r.try_get("provider")?, mode: r.try_get("mode")?, current })
        })
        .collect()
}

/// The providers in the price book, sorted.
pub(crate) async fn providers(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT DISTINCT provider FROM models ORDER BY provider").fetch_all(conn).await?)
}

/// The modes in the price book, sorted.
pub(crate) async fn modes(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT DISTINCT mode FROM models WHERE mode IS NOT NULL ORDER BY mode").fetch_all(conn).await?)
}

/// A model's provider and mode.
pub(crate) async fn model(conn: &mut AnyConnection, name: &str) -> Result<Option<(String, Option<String>)>> {
    let row = sqlx::query("SELECT provider, mode FROM models WHERE name = $1").bind(name).fetch_optional(conn).await?;
    row.map(|r| Ok((r.try_get("provider")?, r.try_get("mode")?))).transpose()
}

/// A model's price rows, oldest first.
pub(crate) async fn entries(conn: &mut AnyConnection, name: &str) -> Result<Vec<super::admin::PriceEntry>> {
    let rows = sqlx::query(
        "SELECT id, effective_from, source, price_json, created_at FROM model_prices WHERE model = $1 ORDER BY effective_from",
    )
    .bind(name)
    .fetch_all(conn)
    .await?;
    rows.iter().map(entry_of).collect()
}

/// Adds a price row; the caller maps a unique violation (the same model and
/// effective time) itself.
pub(crate) async fn insert_price_row(
    conn: &mut AnyConnection,
    id: &str,
    price: &ModelPrice,
    from: i64,
    source: &str,
    now: i64,
) -> Result<std::result::Result<(), sqlx::Error>> {
    let price_json = encode(price)?;
    Ok(sqlx::query(
        "INSERT INTO model_prices (id, model, effective_from, source, price_json, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&price.name)
    .bind(from)
    .bind(source)
    .bind(price_json)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ()))
}

/// Adds a model; the caller maps a unique violation (the name) itself.
pub(crate) async fn insert_model(conn: &mut AnyConnection, name: &str, provider: &str, mode: Option<String>, now: i64) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO models (name, provider, mode, created_at) VALUES ($1, $2, $3, $4)")
        .bind(name)
        .bind(provider)
        .bind(mode)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
