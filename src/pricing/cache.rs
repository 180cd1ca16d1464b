//! Price histories cached in memory for the ingest path.
//!
//! Ingest prices every event, so reading and decoding a model's price rows
//! per batch would dominate its cost. The cache keeps each model's history
//! (all its effective-dated rows) keyed by the price book's version, a
//! counter that a database trigger bumps on every change to `model_prices`
//! (migration 0004). Any process's import or override therefore moves the
//! version, and the next batch of every process reloads what it needs. A
//! batch reads the version inside its own transaction and reprices if it
//! moved (see `crate::ingest::record`), so the prices in force at an event's
//! timestamp are the ones that price it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::AnyConnection;

use super::store::{history, PriceRow};
use crate::Result;

/// One model's price rows, oldest first (empty: the model has no price).
pub type History = Arc<Vec<PriceRow>>;

/// The cache; one per database handle.
#[derive(Debug, Default)]
pub struct PriceCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    version: i64,
    models: HashMap<String, History>,
}

impl crate::db::Db {
    /// The ingest path's cache of price histories for this database.
    pub fn price_cache(&self) -> Arc<PriceCache> {
        self.state()
    }
}

/// The price book's current version.
pub async fn version(conn: &mut AnyConnection) -> Result<i64> {
    super::store::version(conn).await
}

impl PriceCache {
    /// The histories of `models` as of price-book `version`, loading those
    /// not cached through `conn`. A version other than the cached one drops
    /// the whole cache first.
    pub async fn histories<'a>(
        &self,
        conn: &mut AnyConnection,
        version: i64,
        models: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, History>> {
        let mut found = HashMap::new();
        let mut missing = vec![];
        {
            let mut inner = self.inner.lock().expect("price cache lock");
            if inner.version != version {
                inner.models.clear();
                inner.version = version;
            }
            for m in models {
                if found.contains_key(m) || missing.contains(&m) {
                    continue;
                }
                match inner.models.get(m) {
                    Some(h) => {
                        found.insert(m.to_string(), h.clone());
                    }
                    None => missing.push(m),
                }
            }
        }
        for m in missing {
            let h: History = Arc::new(history(conn, m).await?);
            found.insert(m.to_string(), h.clone());
            let mut inner = self.inner.lock().expect("price cache lock");
            if inner.version == version {
                inner.models.insert(m.to_string(), h);
            }
        }
        Ok(found)
    }

    /// The model's history as last cached, whatever the version now (no
    /// database read): the gateway's reservation bound. Ingest, which reads
    /// the version in its transaction, keeps the cache current.
    pub fn cached(&self, model: &str) -> Option<History> {
        self.inner.lock().expect("price cache lock").models.get(model).cloned()
    }
}

/// The price of `model` in force at `ts`: from the cache when it holds the
/// model (no database read), else loaded at the current version.
pub async fn price_at(db: &crate::db::Db, model: &str, ts: i64) -> Result<Option<super::ModelPrice>> {
    let history = history_of(db, model).await?;
    Ok(super::store::in_force(&history, ts).map(|r| r.price.clone()))
}

/// Every price `model` has had (empty: none), from the cache when it holds
/// the model.
pub async fn history_of(db: &crate::db::Db, model: &str) -> Result<History> {
    let cache = db.price_cache();
    Ok(match cache.cached(model) {
        Some(h) => h,
        None => {
            let mut conn = db.reader().acquire().await?;
            let v = version(&mut conn).await?;
            cache.histories(&mut conn, v, [model]).await?.remove(model).unwrap_or_default()
        }
    })
}

/// The price-book entry that prices `name` (sent with `provider`, and for
/// an image its `size` and `quality`) at `ts`: the first of
/// [`super::alias::candidates`] with a price in force then, as ingest
/// prices an event. Its name and history; `None` when no candidate has a
/// price at `ts`.
pub async fn resolve(
    db: &crate::db::Db,
    name: &str,
    provider: Option<&str>,
    size: Option<&str>,
    quality: Option<&str>,
    ts: i64,
) -> Result<Option<(String, History)>> {
    for candidate in super::alias::candidates(name, provider, size, quality) {
        let history = history_of(db, &candidate).await?;
        if super::store::in_force(&history, ts).is_some() {
            return Ok(Some((candidate, history)));
        }
    }
    Ok(None)
}
