//! Billing over HTTP: Stripe's webhook (`POST /webhooks/stripe`), and the
//! organization's billing over REST (`GET /api/v1/billing`,
//! `/api/v1/invoices`, `/api/v1/invoices/{id}`, `/api/v1/invoices/{id}/csv`,
//! `/api/v1/credits`), plus the invoice CSV for a signed-in browser (members
//! and platform admins).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use tollbooth::billing::events::{apply_stripe_event, Outcome as EventOutcome};
use tollbooth::billing::{self, invoices, BillingOverview, CreditEntryView, InvoiceView};
use tollbooth::clock::now_ms;

use super::error::ApiError;
use super::auth::{ReadKey, SessionUser};
use crate::state::AppState;

/// Largest Stripe webhook body accepted (Stripe's events are a few KiB; a
/// larger body is refused with 413 before any signature work).
pub const STRIPE_WEBHOOK_MAX_BODY: usize = 1024 * 1024;

/// `POST /webhooks/stripe`: verify `Stripe-Signature` (HMAC-SHA256 over
/// `"{t}.{payload}"`, 5-minute tolerance), store the event by id, apply it.
/// A bad signature is a 400 and a security log line, counted per minute and
/// caller IP for the audit log (`security.webhook_rejected`, one entry per
/// minute and address with `details.count`); a replay is a 200 that applies
/// nothing. A body over [`STRIPE_WEBHOOK_MAX_BODY`] is a 413.
#[utoipa::path(
    post, path = "/webhooks/stripe", operation_id = "stripe_webhook", tag = "stripe",
    description = "Stripe's webhook: `Stripe-Signature` is verified (HMAC-SHA256, 5 minutes' tolerance), the event stored by id (a replay applies nothing) and applied.",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the payload")),
    request_body(content = Object, description = "A Stripe event", content_type = "application/json"),
    responses(
        (status = 200, description = "Received", body = crate::openapi::schemas::StripeReceived, example = json!({"received": true, "outcome": "applied", "detail": null})),
        (status = 400, description = "Bad signature or payload", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "Payload over 1 MiB", body = crate::openapi::schemas::ErrorBody),
        (status = 503, description = "STRIPE_WEBHOOK_SECRET not set", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn stripe_webhook(
    State(state): State<AppState>,
    from: super::auth::RequestOrigin,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let billing = &state.ctx.billing;
    if !billing.accepts_webhooks() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "webhooks_not_configured", "STRIPE_WEBHOOK_SECRET is not set on this server");
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let msg = format!("the payload is larger than {} bytes", STRIPE_WEBHOOK_MAX_BODY);
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &msg);
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid", &e.body_text()),
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid", "the payload is not UTF-8");
    };
    let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    if let Err(reason) = billing.verify_webhook(sig, body, now_ms() / 1000) {
        let ip = from.ip.clone().unwrap_or_default();
        tracing::warn!(target: "security", event = "stripe_webhook_rejected", %reason, %ip, "Stripe webhook refused: bad signature");
        state.db.refusals().note_webhook_rejected(&ip, &reason.to_string(), now_ms());
        return refuse(StatusCode::BAD_REQUEST, "bad_signature", &format!("Stripe-Signature refused: {reason}"));
    }
    match apply_stripe_event(&state.db, billing, body, now_ms()).await {
        Ok((outcome, org)) => {
            if let EventOutcome::Failed(reason) = &outcome {
                tracing::warn!(org_id = org.as_deref(), %reason, "Stripe event stored but not applied");
            }
            Json(json!({"received": true, "outcome": outcome.name(), "detail": outcome.detail()})).into_response()
        }
        Err(e @ tollbooth::Error::Invalid { .. }) => ApiError::from(e).into_response(),
        // Stripe retries on a 5xx: nothing was stored (the transaction rolled back).
        Err(e) => {
            tracing::error!(error = ?e, "applying a Stripe event failed; Stripe will retry");
            ApiError::from(e).into_response()
        }
    }
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

#[utoipa::path(
    get, path = "/api/v1/billing", operation_id = "billing_overview", tag = "billing", security(("api_key" = [])),
    responses((status = 200, description = "Plan, period, included usage, the next invoice's preview, invoices, credits, packs and plan choices", body = tollbooth::billing::BillingOverview,
        example = json!({"org_id": "0190a0a0-0000-7000-8000-000000000001", "plan_code": "pro", "plan_name": "Pro", "plan_price_label": "$49/month", "period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "period_label": "December 2026", "payments_configured": true, "has_customer": true, "subscription": {"status": "active", "cancel_at_period_end": false, "renews_at": "2027-01-01T00:00:00Z"}, "pending_plan": null, "payment_failed_at": null, "grace_until": null, "usage": [{"metric": "tokens", "used": 120000, "included": 10000000, "hard": false, "overage_nanos": 2000}], "preview": {"id": "preview", "number": "preview", "org_id": "0190a0a0-0000-7000-8000-000000000001", "org_name": "Acme", "period_start": "2026-12-01T00:00:00Z", "period_end": "2027-01-01T00:00:00Z", "period_label": "December 2026", "plan_code": "pro", "plan_name": "Pro", "status": "draft", "lines": [], "total_cents": 4900, "closed_at": null, "sent_to_stripe": false}, "invoices": [], "credit_balance_nanos": 0, "credit_floor_nanos": 0, "credit_entries": [], "packs": [], "plans": []}))),
)]
pub async fn overview(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<BillingOverview>, ApiError> {
    Ok(Json(billing::service::overview(&state.db, &state.ctx.billing, &key.org_id, now_ms()).await?))
}

#[utoipa::path(
    get, path = "/api/v1/invoices", operation_id = "list_invoices", tag = "billing", security(("api_key" = [])),
    responses((status = 200, description = "Invoices, newest first", body = Vec<tollbooth::billing::InvoiceView>, example = json!([{"id": "0190a0a0-0000-7000-8000-0000000000e1", "number": "TB-2026-11-0001", "org_id": "0190a0a0-0000-7000-8000-000000000001", "org_name": "Acme", "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z", "period_label": "November 2026", "plan_code": "pro", "plan_name": "Pro", "status": "final", "lines": [{"kind": "base", "description": "Pro plan", "quantity": null, "unit_price_nanos": null, "amount_cents": 4900}], "total_cents": 4900, "closed_at": "2026-12-01T00:05:00Z", "sent_to_stripe": false}]))),
)]
pub async fn list_invoices(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<Vec<InvoiceView>>, ApiError> {
    Ok(Json(invoices::list(&state.db, &key.org_id).await?))
}

#[utoipa::path(
    get, path = "/api/v1/invoices/{id}", operation_id = "get_invoice", tag = "billing", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The invoice's id")),
    responses((status = 200, description = "The invoice", body = tollbooth::billing::InvoiceView, example = json!({"id": "0190a0a0-0000-7000-8000-0000000000e1", "number": "TB-2026-11-0001", "org_id": "0190a0a0-0000-7000-8000-000000000001", "org_name": "Acme", "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z", "period_label": "November 2026", "plan_code": "pro", "plan_name": "Pro", "status": "final", "lines": [{"kind": "base", "description": "Pro plan", "quantity": null, "unit_price_nanos": null, "amount_cents": 4900}], "total_cents": 4900, "closed_at": "2026-12-01T00:05:00Z", "sent_to_stripe": false}))),
)]
pub async fn get_invoice(State(state): State<AppState>, ReadKey(key): ReadKey, Path(id): Path<String>) -> Result<Json<InvoiceView>, ApiError> {
    Ok(Json(invoices::get(&state.db, &key.org_id, &id).await?))
}

#[utoipa::path(
    get, path = "/api/v1/invoices/{id}/csv", operation_id = "get_invoice_csv", tag = "billing", security(("api_key" = [])),
    params(("id" = String, Path, example = "0190a0a0-0000-7000-8000-00000000abcd", description = "The invoice's id")),
    responses((status = 200, description = "The invoice as CSV", content_type = "text/csv", body = String, example = "kind,description,quantity,unit_price_usd,amount_usd\nbase,Pro plan,,,49.00\n")),
)]
pub async fn invoice_csv(State(state): State<AppState>, ReadKey(key): ReadKey, Path(id): Path<String>) -> Result<Response, ApiError> {
    let inv = invoices::get(&state.db, &key.org_id, &id).await?;
    Ok(csv_response(&inv))
}

/// `GET /o/{org}/invoices/{id}/csv` for a signed-in member, or a platform
/// admin (the drill-down links it); anyone else gets 404.
pub async fn browser_invoice_csv(
    State(state): State<AppState>,
    Path((org_id, id)): Path<(String, String)>,
    user: SessionUser,
) -> Result<Response, ApiError> {
    let scope = user.read_scope(&state, &org_id).await?;
    let inv = invoices::get(&state.db, &scope.org_id, &id).await?;
    Ok(csv_response(&inv))
}

fn csv_response(inv: &InvoiceView) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.csv\"", inv.number)),
        ],
        invoices::csv(inv),
    )
        .into_response()
}

/// `GET /api/v1/credits`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreditsResponse {
    #[schema(value_type = tollbooth::openapi::Usd)]
    pub balance_usd: String,
    pub balance_nanos: i64,
    #[schema(value_type = tollbooth::openapi::Usd)]
    pub floor_usd: String,
    pub entries: Vec<CreditEntryView>,
}

#[utoipa::path(
    get, path = "/api/v1/credits", operation_id = "get_credits", tag = "billing", security(("api_key" = [])),
    responses((status = 200, description = "The credit balance and ledger", body = CreditsResponse,
        example = json!({"balance_usd": "25.00", "balance_nanos": 25000000000i64, "floor_usd": "0.00", "entries": []}))),
)]
pub async fn credits(State(state): State<AppState>, ReadKey(key): ReadKey) -> Result<Json<CreditsResponse>, ApiError> {
    let o = billing::service::overview(&state.db, &state.ctx.billing, &key.org_id, now_ms()).await?;
    let usd = |n: i64| tollbooth::pricing::NanoUsd::from_nanos(n).to_short_usd_string();
    Ok(Json(CreditsResponse {
        balance_usd: usd(o.credit_balance_nanos),
        balance_nanos: o.credit_balance_nanos,
        floor_usd: usd(o.credit_floor_nanos),
        entries: o.credit_entries,
    }))
}
