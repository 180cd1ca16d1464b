//! The embeddable usage meter: `POST /api/v1/embed-tokens` (scope `read`)
//! issues a short-lived signed token, `GET/PUT /api/v1/embed-origins`
//! (scope `manage`) read and set the origins allowed to frame the meter, and
//! `GET /embed/usage?token=…&theme=light|dark` renders the meter: a small
//! server-rendered page without script (inline CSS and SVG), frameable only
//! by the organization's origins (CSP `frame-ancestors`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tollbooth::embed::{self, IssuedToken, MeterView, TokenRequest};
use tollbooth::plans::Period;

use super::auth::{ManageKey, ReadKey, RequestOrigin};
use super::error::ApiError;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/api/v1/embed-tokens", operation_id = "create_embed_token", tag = "embed", security(("api_key" = [])),
    description = "A signed token for the embeddable usage meter (`GET /embed/usage?token=…`), valid for `ttl_seconds` (1–3600, default 900). \
        With `user_id`, the meter shows only that end user's usage and cost; without, the organization's against its plan's limits.",
    request_body(content = TokenRequest, example = json!({"user_id": "user-42", "ttl_seconds": 600})),
    responses((status = 201, description = "The token and the meter's URL", body = IssuedToken,
        example = json!({"token": "tbe1.eyJvIjoi….kq3…", "expires_at": "2026-12-07T10:10:00Z", "url": "https://tollbooth.example.com/embed/usage?token=tbe1.eyJvIjoi….kq3…", "user_id": "user-42"}))),
)]
pub async fn create_token(
    State(state): State<AppState>,
    ReadKey(key): ReadKey,
    req: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let issued = embed::issue_token(&state.db, &key.org_id, &input, &state.ctx.public_url, tollbooth::clock::now_ms()).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// The origins allowed to frame the meter.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmbedOrigins {
    /// `https://host[:port]` origins (`http://` only for localhost and
    /// 127.0.0.1), at most 20; empty: no page may frame the meter.
    pub origins: Vec<String>,
}

#[utoipa::path(
    get, path = "/api/v1/embed-origins", operation_id = "get_embed_origins", tag = "embed", security(("api_key" = [])),
    responses((status = 200, description = "The origins whose pages may frame the meter", body = EmbedOrigins,
        example = json!({"origins": ["https://app.example.com"]}))),
)]
pub async fn get_origins(State(state): State<AppState>, ManageKey(key): ManageKey) -> Result<Json<EmbedOrigins>, ApiError> {
    Ok(Json(EmbedOrigins { origins: embed::origins(&state.db, &key.org_id).await? }))
}

#[utoipa::path(
    put, path = "/api/v1/embed-origins", operation_id = "put_embed_origins", tag = "embed", security(("api_key" = [])),
    description = "Replaces the list; an origin that is not `https://host[:port]` is 422 naming `embed_origins`.",
    request_body(content = EmbedOrigins, example = json!({"origins": ["https://app.example.com"]})),
    responses((status = 200, description = "Saved (normalized: lower case, default port dropped, duplicates removed)", body = EmbedOrigins,
        example = json!({"origins": ["https://app.example.com"]}))),
)]
pub async fn put_origins(
    State(state): State<AppState>,
    ManageKey(key): ManageKey,
    origin: RequestOrigin,
    req: Result<Json<EmbedOrigins>, JsonRejection>,
) -> Result<Json<EmbedOrigins>, ApiError> {
    let Json(input) = req.map_err(ApiError::from)?;
    let by = origin.key(&key);
    Ok(Json(EmbedOrigins { origins: embed::set_origins(&state.db, &key.org_id, &input.origins, &by).await? }))
}

/// `GET /embed/usage`'s query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeterQuery {
    /// A token from `POST /api/v1/embed-tokens`.
    pub token: Option<String>,
    /// `light` (default) or `dark`.
    pub theme: Option<String>,
}

#[utoipa::path(
    get, path = "/embed/usage", operation_id = "embed_usage", tag = "embed",
    description = "The usage meter as a small HTML page (no script) to put in an iframe. Only the origins listed in \
        `PUT /api/v1/embed-origins` may frame it (CSP `frame-ancestors`). A missing, tampered or expired token is a plain 401 page.",
    params(MeterQuery),
    responses(
        (status = 200, description = "The meter", content_type = "text/html", body = String, example = "<!DOCTYPE html>…"),
        (status = 400, description = "`theme` is not light or dark", content_type = "text/html", body = String, example = "<!DOCTYPE html>…"),
        (status = 401, description = "The token is missing, not valid or expired", content_type = "text/html", body = String, example = "<!DOCTYPE html>…"),
    ),
)]
pub async fn meter_page(State(state): State<AppState>, query: Result<Query<MeterQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let Ok(Query(q)) = query else {
        return plain(StatusCode::BAD_REQUEST, "Bad request", "The meter's address is not valid.");
    };
    let dark = match q.theme.as_deref().map(str::trim) {
        None | Some("") | Some("light") => false,
        Some("dark") => true,
        Some(_) => return plain(StatusCode::BAD_REQUEST, "Bad request", "theme: must be light or dark."),
    };
    let now = tollbooth::clock::now_ms();
    let claims = match embed::verify_token(&state.db, q.token.as_deref().unwrap_or(""), now).await {
        Ok(c) => c,
        Err(tollbooth::Error::Unauthorized(why)) => return plain(StatusCode::UNAUTHORIZED, "Not authorized", why),
        Err(e) => return failed(e),
    };
    let (view, origins) = match tokio::try_join!(embed::meter(&state.db, &claims, now), embed::origins(&state.db, &claims.org_id)) {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    let mut resp = Html(render(&view, dark)).into_response();
    let h = resp.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&embed::content_security_policy(&origins)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    no_store(h);
    resp
}

fn failed(e: tollbooth::Error) -> Response {
    tracing::error!(error = ?e, "the embedded meter failed");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again later.")
}

/// The token sits in the URL: keep the page out of caches and referrers.
fn no_store(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// A plain page (401, 400, 500): no figures, framed by nobody.
fn plain(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title></head><body><h1>{title}</h1><p>{}</p></body></html>",
        escape(text)
    );
    let mut resp = (status, Html(body)).into_response();
    no_store(resp.headers_mut());
    resp
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `2027-01-01T00:00:00+01:00` → `2027-01-01 00:00` (the offset is the
/// organization's zone, named beside it).
fn local_time(rfc3339: &str) -> String {
    rfc3339.get(..16).map_or_else(|| rfc3339.to_string(), |head| head.replacen('T', " ", 1))
}

const STYLE: &str = "\
:root{--bg:#fff;--fg:#111827;--muted:#6b7280;--track:#e5e7eb;--bar:#2563eb;--warn:#d97706;--over:#dc2626}\
.dark{--bg:#111827;--fg:#f9fafb;--muted:#9ca3af;--track:#374151;--bar:#60a5fa;--warn:#fbbf24;--over:#f87171}\
*{box-sizing:border-box}html,body{margin:0}\
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;background:var(--bg);color:var(--fg);padding:12px}\
h1{font-size:13px;font-weight:600;margin:0 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}\
.figures{display:flex;gap:20px;flex-wrap:wrap;margin-bottom:10px}.figure b{display:block;font-size:20px}\
.figure span,.muted{color:var(--muted);font-size:12px}\
ul{list-style:none;margin:0 0 10px;padding:0}li{margin:6px 0}\
.head{display:flex;justify-content:space-between;font-size:12px}\
.track{height:6px;background:var(--track);border-radius:3px;overflow:hidden}.track i{display:block;height:100%;background:var(--bar)}\
.warn .track i{background:var(--warn)}.over .track i{background:var(--over)}\
svg{display:block;width:100%;height:40px;margin:4px 0}polyline{fill:none;stroke:var(--bar);stroke-width:2;vector-effect:non-scaling-stroke}";

/// The meter's HTML. Every text from outside (the organization's name) is escaped.
fn render(v: &MeterView, dark: bool) -> String {
    use std::fmt::Write;
    let usd = |n: tollbooth::pricing::NanoUsd| tollbooth_app::components::format::usd_of(n);
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"{}><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Usage · {}</title><style>{STYLE}</style></head><body>",
        if dark { " class=\"dark\"" } else { "" },
        escape(&v.org_name)
    );
    let who = if v.user_id.is_some() { "Your usage this month" } else { "Usage this month" };
    let _ = write!(
        out,
        "<h1>{who}</h1><div class=\"figures\">\
         <div class=\"figure\"><b data-testid=\"meter-cost\" title=\"${}\">{}</b><span>cost</span></div>\
         <div class=\"figure\"><b data-testid=\"meter-tokens\">{}</b><span>tokens</span></div>\
         <div class=\"figure\"><b data-testid=\"meter-requests\">{}</b><span>requests</span></div></div>",
        v.month_cost.to_usd_string(),
        usd(v.month_cost),
        tollbooth::plans::group_thousands(v.month_tokens),
        tollbooth::plans::group_thousands(v.month_requests),
    );
    if !v.limits.is_empty() {
        out.push_str("<ul data-testid=\"meter-limits\">");
        for l in &v.limits {
            let pm = l.per_mille().clamp(0, 1000);
            let class = if l.is_exhausted() { "over" } else if l.is_warning() { "warn" } else { "" };
            let _ = write!(
                out,
                "<li class=\"{class}\" data-testid=\"meter-limit-{}-{}\"><div class=\"head\"><span>{}{}</span><span>{} / {} {}</span></div>\
                 <div class=\"track\" role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"{}\" aria-valuenow=\"{}\"><i style=\"width:{}.{}%\"></i></div></li>",
                l.metric.as_str(),
                l.period.as_str(),
                l.metric.label(),
                if l.period == Period::Day { " today" } else { "" },
                l.metric.format_amount(l.used.saturating_add(l.reserved)),
                l.metric.format_amount(l.limit),
                l.period.per(),
                l.limit,
                l.used.saturating_add(l.reserved),
                pm / 10,
                pm % 10,
            );
        }
        out.push_str("</ul>");
    }
    let values: Vec<i64> = v.daily_cost.iter().map(|(_, c)| c.nanos()).collect();
    let first = v.daily_cost.first().map(|(d, _)| d.as_str()).unwrap_or("");
    let last = v.daily_cost.last().map(|(d, _)| d.as_str()).unwrap_or("");
    let _ = write!(
        out,
        "<svg viewBox=\"0 -2 300 44\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Cost per day, {first} to {last}\" data-testid=\"meter-sparkline\">\
         <title>Cost per day, last {} days</title><polyline points=\"{}\"/></svg>\
         <div class=\"muted\">Last {} days · resets <span data-testid=\"meter-reset\">{}</span> ({})</div></body></html>",
        v.daily_cost.len(),
        embed::sparkline_points(&values, 300, 40),
        v.daily_cost.len(),
        local_time(&v.resets_at),
        escape(&v.time_zone),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_the_organization_name_and_themes() {
        let v = MeterView {
            org_name: "<Acme & Co>".into(),
            user_id: None,
            time_zone: "UTC".into(),
            month_cost: tollbooth::pricing::NanoUsd::from_nanos(12_500_000_000),
            month_tokens: 1_234_567,
            month_requests: 3,
            limits: vec![],
            daily_cost: vec![("2026-12-01".into(), tollbooth::pricing::NanoUsd::ZERO)],
            resets_at: "2027-01-01T00:00:00+00:00".into(),
        };
        let html = render(&v, true);
        assert!(html.contains("Usage · &lt;Acme &amp; Co&gt;") && !html.contains("<Acme"));
        assert!(html.contains("<html lang=\"en\" class=\"dark\">"));
        assert!(html.contains(">$12.50<") && html.contains(">1,234,567<"));
        assert!(html.contains("resets <span data-testid=\"meter-reset\">2027-01-01 00:00</span>"));
        assert!(!render(&v, false).contains("class=\"dark\""));
    }
}
