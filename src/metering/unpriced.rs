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

/// A model seen with units its price does not cover: the events were
/// charged for the rest and recorded as `priced: "partial"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartlyPricedModel {
    /// The model as sent.
    pub model: String,
    /// The event fields nothing in its price charges (`seconds`, `audio_input_tokens`, …).
    pub units: Vec<String>,
    pub events: i64,
    pub organizations: i64,
    pub last_seen_ms: i64,
}

/// Partly priced models of one organization, or of the whole platform
/// (`None`), most events first, from the gaps kept on write (never from raw
/// events).
#[cfg(feature = "ssr")]
pub async fn partly_priced_models(db: &crate::db::Db, org_id: Option<&str>) -> crate::Result<Vec<PartlyPricedModel>> {
    super::store::pricing_gaps(&mut *db.reader().acquire().await?, org_id).await
}

/// A model name that alias resolution priced with another price-book entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedName {
    /// The model as sent.
    pub model: String,
    /// The provider as sent (empty: none).
    pub provider: String,
    /// The price-book entry that priced it.
    pub entry: String,
    pub events: i64,
    pub organizations: i64,
    pub last_seen_ms: i64,
}

/// Names resolved to another entry, of one organization or of the whole
/// platform (`None`), most events first.
#[cfg(feature = "ssr")]
pub async fn resolved_names(db: &crate::db::Db, org_id: Option<&str>) -> crate::Result<Vec<ResolvedName>> {
    super::store::model_aliases(&mut *db.reader().acquire().await?, org_id).await
}
