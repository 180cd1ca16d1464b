//! Cost estimate before a call: what it will cost at least and at most, from
//! the price in force now.
//!
//! The minimum is the prompt alone (no output) with no cache reads; the
//! maximum is the prompt plus every allowed output token charged at the
//! dearer of the model's output and reasoning rates (a reasoning model may
//! spend its whole budget thinking). A cache hit can only make the call
//! cheaper than the minimum.

use serde::Serialize;

use super::store::in_force;
use super::{cache, charge, cost, Conditions, ModelPrice, NanoUsd, ServiceTier, Usage};
use crate::clock::{now_ms, to_rfc3339};
use crate::db::Db;
use crate::{Error, Result};

/// Largest token count an estimate takes (a sanity bound, far above any context window).
pub const MAX_TOKENS: u64 = 100_000_000;

/// The answer of an estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Estimate {
    pub model: String,
    /// Exact USD as decimal strings.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub min_cost_usd: String,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub max_cost_usd: String,
    /// When the price used took effect.
    pub price_effective_from: String,
}

/// The most a call can cost: `input_tokens` of prompt with no cache read,
/// and every one of `max_output_tokens` charged at the dearer of the
/// model's output and reasoning rates. The estimate's maximum, and what
/// the gateway reserves before a call. At standard rates, and at `tier`'s
/// when it is dearer (a call that asks for priority processing).
pub fn max_cost(price: &ModelPrice, input_tokens: u64, max_output_tokens: u64, tier: ServiceTier) -> Result<NanoUsd> {
    let prompt = Usage { input_tokens, requests: 1, ..Usage::default() };
    let plain = Usage { output_tokens: max_output_tokens, ..prompt };
    let thinking = Usage { reasoning_tokens: max_output_tokens, ..plain };
    let mut most = NanoUsd::ZERO;
    for service_tier in [ServiceTier::Default, tier] {
        let at = Conditions { service_tier, ..Conditions::default() };
        for usage in [&plain, &thinking] {
            most = most.max(charge(price, usage, &at)?.nanos()?);
        }
    }
    Ok(most)
}

/// Estimates a call to `model` with `input_tokens` of prompt and at most
/// `max_output_tokens` of output.
pub async fn estimate(db: &Db, model: &str, input_tokens: u64, max_output_tokens: u64) -> Result<Estimate> {
    let model = model.trim();
    if model.is_empty() {
        return Err(Error::invalid("model", "is required"));
    }
    for (field, v) in [("input_tokens", input_tokens), ("max_output_tokens", max_output_tokens)] {
        if v > MAX_TOKENS {
            return Err(Error::invalid(field, format!("must be at most {MAX_TOKENS}")));
        }
    }
    let mut conn = db.reader().acquire().await?;
    let version = cache::version(&mut conn).await?;
    let histories = db.price_cache().histories(&mut conn, version, [model]).await?;
    let now = now_ms();
    let row = histories
        .get(model)
        .and_then(|h| in_force(h, now))
        .ok_or_else(|| Error::invalid("model", format!("{model:?} has no price in the price book; add it under Admin → Price book")))?;
    let min = cost(&row.price, &Usage { input_tokens, requests: 1, ..Usage::default() })?;
    let max = max_cost(&row.price, input_tokens, max_output_tokens, ServiceTier::Default)?;
    Ok(Estimate {
        model: model.to_string(),
        min_cost_usd: NanoUsd::to_usd_string(min),
        max_cost_usd: NanoUsd::to_usd_string(max),
        price_effective_from: to_rfc3339(row.effective_from),
    })
}
