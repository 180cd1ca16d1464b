//! Models seen in events without a price: listed for organization admins and
//! platform admins so that a missing price is fixed, never silently $0.

use serde::{Deserialize, Serialize};

/// One model without a price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpricedModel {
    pub model: String,
    pub events: i64,
    pub organizations: i64,
    pub last_seen_ms: i64,
}

/// Unpriced models of one organization, or of the whole platform (`None`),
/// from the hourly model rollup's unpriced rows (a partial index holds only
/// those): `last_seen_ms` is the start of the last hour the model was seen.
#[cfg(feature = "ssr")]
pub async fn unpriced_models(db: &crate::db::Db, org_id: Option<&str>) -> crate::Result<Vec<UnpricedModel>> {
    super::analytics::store::unpriced(&mut *db.reader().acquire().await?, org_id).await
}
