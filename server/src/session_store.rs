//! tower-sessions' `SessionStore` over our own pool, so one database (SQLite or
//! PostgreSQL) holds sessions without a second sqlx driver in the tree.

use async_trait::async_trait;
use tollbooth::db::Db;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// Sessions stored in the `sessions` table.
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }
}

fn backend(e: tollbooth::Error) -> session_store::Error {
    session_store::Error::Backend(format!("{e:?}"))
}

fn encode(record: &Record) -> session_store::Result<(String, String, i64)> {
    let data = serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_ms = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((record.id.to_string(), data, expires_ms))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (id, data, exp) = encode(record)?;
            if tollbooth::sessions::insert(&self.db, &id, &data, exp).await.map_err(backend)? {
                return Ok(());
            }
            // A 128-bit id collided: draw another.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, exp) = encode(record)?;
        tollbooth::sessions::upsert(&self.db, &id, &data, exp).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match tollbooth::sessions::load(&self.db, &id.to_string()).await.map_err(backend)? {
            Some(data) => serde_json::from_str(&data).map(Some).map_err(|e| session_store::Error::Decode(e.to_string())),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        tollbooth::sessions::delete(&self.db, &id.to_string()).await.map_err(backend)
    }
}
