//! Models seen in events without a price: listed for organization admins and
//! platform admins so that a missing price is fixed, never silently $0.

use serde::Serialize;
use sqlx::Row;

use crate::db::Db;
use crate::Result;

/// One model without a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnpricedModel {
    pub model: String,
    pub events: i64,
    pub organizations: i64,
    pub last_seen_ms: i64,
}

/// Unpriced models of one organization, or of the whole platform (`None`),
/// from the hourly model rollup's unpriced rows (a partial index holds only
/// those): `last_seen_ms` is the start of the last hour the model was seen.
pub async fn unpriced_models(db: &Db, org_id: Option<&str>) -> Result<Vec<UnpricedModel>> {
    let rows = sqlx::query(
        "SELECT model, CAST(SUM(unpriced_events) AS BIGINT) AS events, COUNT(DISTINCT org_id) AS orgs, MAX(hour) AS last_seen \
         FROM rollup_model_hourly WHERE unpriced_events > 0 AND ($1 = '' OR org_id = $1) \
         GROUP BY model ORDER BY SUM(unpriced_events) DESC, model LIMIT 200",
    )
    .bind(org_id.unwrap_or_default())
    .fetch_all(db.reader())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UnpricedModel {
                model: r.try_get("model")?,
                events: r.try_get("events")?,
                organizations: r.try_get("orgs")?,
                last_seen_ms: r.try_get("last_seen")?,
            })
        })
        .collect()
}
