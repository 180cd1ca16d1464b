//! The price book for platform admins: search, one model's history,
//! overrides and custom models. Prices travel as exact decimal text, token
//! prices per 1M tokens.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::pricing::PriceFields;
#[cfg(feature = "ssr")]
use tollbooth::pricing::PriceKind;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// Models shown per page of the price book.
pub const PER_PAGE: i64 = 50;

/// One model in the price book with the price in force now. Token prices
/// are USD per 1M tokens; all are exact decimals, `None` when not priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    pub model: String,
    pub provider: String,
    pub mode: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub cache_read: Option<String>,
    pub cache_write: Option<String>,
    /// The per-image price the meter charges this model's images at (no size given).
    pub per_image: Option<String>,
    /// The per-second price the meter charges (video, audio or runtime; no resolution given).
    pub per_second: Option<String>,
    /// `None` when the model has no price in force yet.
    pub source: Option<String>,
    pub effective_from: Option<i64>,
    /// Prices not in the columns above (reasoning, request, tiers, batch…).
    pub other_prices: usize,
}

/// One page of a price book search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesPage {
    pub lines: Vec<PriceLine>,
    pub total: i64,
    /// 1-based page number shown.
    pub page: i64,
    pub per_page: i64,
    pub providers: Vec<String>,
    pub modes: Vec<String>,
    /// Model names that alias resolution priced with another entry, across
    /// organizations, most events first.
    pub resolved_names: Vec<tollbooth::metering::unpriced::ResolvedName>,
    /// The latest imports of the price book, newest first: when and from where.
    pub imports: Vec<tollbooth::pricing::imports::ImportRecord>,
}

/// One row of a model's price history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub effective_from: i64,
    pub source: String,
    pub created_at: i64,
    /// `past`, `in force` or `scheduled`.
    pub status: String,
    /// The editable prices as a person reads them (token prices per 1M).
    pub prices: PriceFields,
    /// Prices kept beside the editable ones: tiers, batch/priority variants.
    pub other_prices: usize,
}

/// A model, its history (newest first) and its override form's prefill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceDetail {
    pub name: String,
    pub provider: String,
    pub mode: Option<String>,
    pub history: Vec<HistoryLine>,
    /// The prices in force now (or the first scheduled ones), for the form.
    pub form: PriceFields,
}

#[cfg(feature = "ssr")]
async fn require_platform_admin() -> Result<ssr::AppContext, AppError> {
    ssr::platform_admin().await.map(|(ctx, _)| ctx)
}

#[cfg(feature = "ssr")]
fn shown(kind: PriceKind, p: &tollbooth::pricing::ModelPrice) -> Option<String> {
    kind.shown(p).map(|u| u.to_string())
}

/// How many prices of `p` the list's columns do not show.
#[cfg(feature = "ssr")]
fn other_prices(p: &tollbooth::pricing::ModelPrice) -> usize {
    let listed = [p.input, p.output, p.cache_read, p.cache_write, p.per_image(), p.per_second()];
    let all = PriceKind::ALL.iter().filter(|k| k.get(p).is_some()).count();
    let shown = listed.iter().filter(|u| u.is_some()).count();
    // Prices of `extra` shown in the per-image and per-second columns (video seconds).
    let from_extra = usize::from(p.per_second().is_none() && p.charged_per_second().is_some())
        + usize::from(p.per_image().is_none() && p.charged_per_image().is_some());
    // per_second() may stand for both per-second prices: never count below zero.
    (all.saturating_sub(shown) + p.tiers.len() + p.extra.len()).saturating_sub(from_extra)
}

/// Searches the price book: `q` matches name or provider; `provider` and
/// `mode` filter exactly; `page` is 1-based.
#[server(endpoint = "admin_prices")]
pub async fn admin_prices(q: String, provider: String, mode: String, page: i64) -> Result<PricesPage, AppError> {
    use tollbooth::pricing::admin::{providers_and_modes, search_models, ModelSearch};

    let ctx = require_platform_admin().await?;
    let page = page.max(1);
    let search = ModelSearch { text: q, provider, mode, limit: PER_PAGE, offset: (page - 1).saturating_mul(PER_PAGE) };
    let found = search_models(&ctx.db, &search, tollbooth::clock::now_ms()).await?;
    let (providers, modes) = providers_and_modes(&ctx.db).await?;
    let lines = found
        .models
        .into_iter()
        .map(|m| {
            let price = m.current.as_ref().map(|c| &c.price);
            let get = |kind| price.and_then(|p| shown(kind, p));
            PriceLine {
                input: get(PriceKind::Input),
                output: get(PriceKind::Output),
                cache_read: get(PriceKind::CacheRead),
                cache_write: get(PriceKind::CacheWrite),
                per_image: price.and_then(|p| p.charged_per_image()).map(|u| u.normalize().to_string()),
                per_second: price.and_then(|p| p.charged_per_second()).map(|u| u.normalize().to_string()),
                other_prices: price.map(other_prices).unwrap_or(0),
                source: m.current.as_ref().map(|c| c.source.clone()),
                effective_from: m.current.as_ref().map(|c| c.effective_from),
                model: m.name,
                provider: m.provider,
                mode: m.mode,
            }
        })
        .collect();
    let resolved_names = tollbooth::metering::unpriced::resolved_names(&ctx.db, None).await?;
    let imports = tollbooth::pricing::imports::recent(&ctx.db, 5).await?;
    Ok(PricesPage { lines, total: found.total, page, per_page: PER_PAGE, providers, modes, resolved_names, imports })
}

/// One model's price history.
#[server(endpoint = "admin_price_detail")]
pub async fn admin_price_detail(model: String) -> Result<PriceDetail, AppError> {
    let ctx = require_platform_admin().await?;
    let d = tollbooth::pricing::admin::model_detail(&ctx.db, &model, tollbooth::clock::now_ms()).await?;
    let form = d.current().or(d.history.first()).map(|e| PriceFields::of(&e.price)).unwrap_or_default();
    let history = d
        .history
        .iter()
        .enumerate()
        .rev()
        .map(|(i, e)| HistoryLine {
            effective_from: e.effective_from,
            source: e.source.clone(),
            created_at: e.created_at,
            status: match d.in_force {
                Some(f) if f == i => "in force",
                Some(f) if i < f => "past",
                _ => "scheduled",
            }
            .to_string(),
            prices: PriceFields::of(&e.price),
            other_prices: e.price.tiers.len() + e.price.extra.len(),
        })
        .collect();
    Ok(PriceDetail { name: d.name, provider: d.provider, mode: d.mode, history, form })
}

/// Overrides a model's prices from `effective_from` (empty: now; UTC);
/// returns the time it applies from.
#[server(endpoint = "admin_override_price")]
pub async fn admin_override_price(model: String, prices: PriceFields, effective_from: String) -> Result<i64, AppError> {
    use tollbooth::pricing::{admin, PriceEdit};

    let (ctx, user) = ssr::platform_admin().await?;
    let edit = PriceEdit::parse(&prices)?;
    let from = admin::parse_effective_from(&effective_from)?;
    let entry = admin::override_price(&ctx.db, &model, &edit, from, &ssr::by(&user).await).await?;
    Ok(entry.effective_from)
}

/// Adds a model to the price book; returns its name.
#[server(endpoint = "admin_add_custom_model")]
pub async fn admin_add_custom_model(
    name: String,
    provider: String,
    mode: String,
    prices: PriceFields,
    effective_from: String,
) -> Result<String, AppError> {
    use tollbooth::pricing::{admin, PriceEdit};

    let (ctx, user) = ssr::platform_admin().await?;
    let edit = PriceEdit::parse(&prices)?;
    let from = admin::parse_effective_from(&effective_from)?;
    let model = admin::CustomModel::parse(&name, &provider, &mode, edit, from)?;
    let entry = admin::add_custom_model(&ctx.db, &model, &ssr::by(&user).await).await?;
    Ok(entry.price.name)
}
