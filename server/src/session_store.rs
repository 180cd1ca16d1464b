//! tower-sessions' `SessionStore` over our own pool, so one database (SQLite or
//! PostgreSQL) holds sessions without a second sqlx driver in the tree.
//!
//! A row holds the session's values and expiry, never its id: the core keys
//! rows by the id's SHA-256 (see `tollbooth::sessions`), and the id is given
//! back to the record when it is loaded. A row also never outlives the
//! session's absolute lifetime (30 days from its sign-in).

use async_trait::async_trait;
use time::OffsetDateTime;
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

/// The row of a record: its values as JSON (without the id) and its expiry
/// in UTC ms, capped at the end of the absolute lifetime of a signed-in session.
fn encode(record: &Record) -> session_store::Result<(String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let mut expires_ms = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    if let Some(at) = record.data.get(tollbooth_app::ssr::SESSION_SIGNED_IN_AT).and_then(serde_json::Value::as_i64) {
        expires_ms = expires_ms.min(at + tollbooth::accounts::SESSION_MAX_AGE_MS);
    }
    Ok((data, expires_ms))
}

fn decode(id: Id, data: &str, expires_ms: i64) -> session_store::Result<Record> {
    let data = serde_json::from_str(data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
    let expiry_date = OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_ms) * 1_000_000)
        .map_err(|e| session_store::Error::Decode(e.to_string()))?;
    Ok(Record { id, data, expiry_date })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, exp) = encode(record)?;
        loop {
            if tollbooth::sessions::insert(&self.db, &record.id.to_string(), &data, exp).await.map_err(backend)? {
                return Ok(());
            }
            // A 128-bit id collided: draw another.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, exp) = encode(record)?;
        tollbooth::sessions::upsert(&self.db, &record.id.to_string(), &data, exp).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match tollbooth::sessions::load(&self.db, &id.to_string()).await.map_err(backend)? {
            Some((data, exp)) => decode(*id, &data, exp).map(Some),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        tollbooth::sessions::delete(&self.db, &id.to_string()).await.map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_holds_no_id_and_expires_with_the_absolute_lifetime() {
        let far = OffsetDateTime::now_utc() + time::Duration::days(400);
        let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: far };
        record.data.insert(tollbooth_app::ssr::SESSION_USER.into(), "u1".into());
        record.data.insert(tollbooth_app::ssr::SESSION_SIGNED_IN_AT.into(), 1_000.into());
        let (data, exp) = encode(&record).unwrap();
        assert!(!data.contains(&record.id.to_string()), "{data}");
        assert_eq!(exp, 1_000 + tollbooth::accounts::SESSION_MAX_AGE_MS);
        let back = decode(record.id, &data, exp).unwrap();
        assert_eq!((back.id, back.data), (record.id, record.data));
    }
}
