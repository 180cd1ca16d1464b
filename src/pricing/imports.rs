//! Price-book imports: a price map read from a file or downloaded from an
//! URL (`tollbooth prices import`, the scheduled refresh of
//! `TOLLBOOTH_PRICES_URL`, the first start's shipped catalog), applied as
//! effective-dated rows and recorded (`price_imports`) with an audit entry
//! (`prices.import`) in the same transaction, so the admin price page can say
//! when the book was last imported and from where.

use serde::{Deserialize, Serialize};

/// What started an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `tollbooth prices import`.
    Cli,
    /// The refresh of `TOLLBOOTH_PRICES_URL`.
    Scheduled,
    /// The shipped catalog, loaded on an empty database.
    FirstStart,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Scheduled => "scheduled",
            Trigger::FirstStart => "first_start",
        }
    }

    /// Reads the stored spelling (an unknown one is taken as the CLI's).
    pub fn parse(text: &str) -> Trigger {
        match text {
            "scheduled" => Trigger::Scheduled,
            "first_start" => Trigger::FirstStart,
            _ => Trigger::Cli,
        }
    }
}

/// One recorded import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The file path or URL read, or `catalog` for the shipped map.
    pub source: String,
    pub trigger: Trigger,
    pub imported_at_ms: i64,
    /// When the changed prices apply from.
    pub effective_from_ms: i64,
    pub added: i64,
    pub changed: i64,
    pub unchanged: i64,
}

#[cfg(feature = "ssr")]
pub use service::{import_book, recent};

#[cfg(feature = "ssr")]
mod service {
    use sqlx::Row;

    use super::{ImportRecord, Trigger};
    use crate::clock::{now_ms, to_rfc3339};
    use crate::db::Db;
    use crate::ids::new_id;
    use crate::pricing::store::{import_in, ImportReport};
    use crate::pricing::PriceBook;
    use crate::Result;

    /// How many changed model names an audit entry lists (the count is always exact).
    const NAMES_IN_AUDIT: usize = 100;

    /// Imports `book` read from `source`: every model whose price differs
    /// from its current one gets a row effective from `effective_from`
    /// (default now; unchanged models add nothing), the import is recorded
    /// and, when it changed anything or was asked for by a person, written
    /// to the audit log (`prices.import`, with the models changed), all in
    /// one transaction. (The first start's catalog is recorded, not audited.)
    pub async fn import_book(
        db: &Db,
        book: &PriceBook,
        source: &str,
        effective_from: Option<i64>,
        trigger: Trigger,
        by: &crate::audit::By,
    ) -> Result<ImportReport> {
        let now = now_ms();
        let from = effective_from.unwrap_or(now);
        let kind = if trigger == Trigger::FirstStart { "catalog" } else { "import" };
        let mut tx = db.begin().await?;
        let (report, touched) = import_in(&mut tx, book, kind, Some(from), now).await?;
        sqlx::query(
            "INSERT INTO price_imports (id, source, imported_at, effective_from, added, changed, unchanged, trigger_kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id())
        .bind(source)
        .bind(now)
        .bind(from)
        .bind(report.added as i64)
        .bind(report.changed as i64)
        .bind(report.unchanged as i64)
        .bind(trigger.as_str())
        .execute(&mut *tx)
        .await?;
        // The first start's catalog is the install itself, not a change to audit.
        if trigger != Trigger::FirstStart && (!touched.is_empty() || trigger == Trigger::Cli) {
            let details = serde_json::json!({
                "source": source,
                "trigger": trigger.as_str(),
                "effective_from": to_rfc3339(from),
                "added": report.added,
                "changed": report.changed,
                "unchanged": report.unchanged,
                "models": touched.iter().take(NAMES_IN_AUDIT).collect::<Vec<_>>(),
            });
            crate::audit::record_in(&mut tx, db.engine, &by.entry(None, "prices.import", Some(source)).details(details)).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The latest imports, newest first.
    pub async fn recent(db: &Db, limit: i64) -> Result<Vec<ImportRecord>> {
        let rows = sqlx::query(
            "SELECT source, trigger_kind, imported_at, effective_from, added, changed, unchanged FROM price_imports \
             ORDER BY imported_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ImportRecord {
                    source: r.try_get("source")?,
                    trigger: Trigger::parse(&r.try_get::<String, _>("trigger_kind")?),
                    imported_at_ms: r.try_get("imported_at")?,
                    effective_from_ms: r.try_get("effective_from")?,
                    added: r.try_get("added")?,
                    changed: r.try_get("changed")?,
                    unchanged: r.try_get("unchanged")?,
                })
            })
            .collect()
    }
}
