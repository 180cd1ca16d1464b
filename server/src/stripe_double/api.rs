//! The `/v1` API: authentication, request recording and idempotency in one
//! middleware, then one handler per endpoint.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::Value;

use super::objects::{self, NewCheckoutSession, NewInvoiceItem};
use super::{events, now_secs, ApiError, Params, RecordedRequest, Shared, StoredResponse, StoredSession};

type ApiResult = Result<Json<Value>, ApiError>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let v1 = Router::new()
        .route("/customers", post(create_customer))
        .route("/customers/{id}", get(retrieve_customer))
        .route("/checkout/sessions", post(create_checkout_session))
        .route("/checkout/sessions/{id}", get(retrieve_checkout_session))
        .route("/billing_portal/sessions", post(create_portal_session))
        .route("/subscriptions/{id}", get(retrieve_subscription).post(update_subscription).delete(cancel_subscription))
        .route("/invoiceitems", post(create_invoice_item))
        .route("/events/{id}", get(retrieve_event))
        .fallback(unrecognized)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared);
    Router::new().nest("/v1", v1)
}

/// Checks the key, records the request, parses its parameters for the
/// handler, and answers a repeated `Idempotency-Key` with the first answer.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", shared.config.secret_key);
    // Stripe also takes the key as a Basic-auth user name (`curl -u sk_test_...:`).
    let expected_basic = format!("Basic {}", base64(format!("{}:", shared.config.secret_key).as_bytes()));
    match req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        None => {
            return ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the Authorization header, \
                 using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
                    .to_string(),
            )
            .into_response()
        }
        Some(got) if got != expected && got != expected_basic => {
            let key = got.strip_prefix("Bearer ").or_else(|| got.strip_prefix("Basic ")).unwrap_or(got);
            return ApiError::unauthorized(format!("Invalid API Key provided: {}", mask(key))).into_response();
        }
        Some(_) => {}
    }

    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return ApiError::state("The request body could not be read.").into_response();
    };
    let mut params = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
    params.0.extend(Params::parse(&bytes).0);
    let path = parts.extensions.get::<OriginalUri>().map(|u| u.path().to_string()).unwrap_or_else(|| parts.uri.path().to_string());
    let key = parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let is_post = parts.method == Method::POST;

    {
        let mut state = shared.state();
        state.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            params: params.0.clone(),
            idempotency_key: key.clone(),
        });
        if let (true, Some(key)) = (is_post, &key) {
            if let Some(stored) = state.idempotency.get(key) {
                if stored.path != path || stored.params != params {
                    return ApiError::idempotency(&format!(
                        "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                         Try using a key other than '{key}' if you meant to execute a different request."
                    ))
                    .into_response();
                }
                let mut resp = Response::new(Body::from(stored.body.clone()));
                *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                return resp;
            }
        }
    }

    parts.extensions.insert(params.clone());
    let resp = next.run(Request::from_parts(parts, Body::empty())).await;
    let (Some(key), true) = (key, is_post) else { return resp };
    // Stripe keeps the first answer to a key unless it was a server error.
    if resp.status().is_server_error() {
        return resp;
    }
    let (resp_parts, body) = resp.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 22).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    shared.state().idempotency.insert(key, StoredResponse { path, params, status: resp_parts.status.as_u16(), body: body.clone() });
    Response::from_parts(resp_parts, Body::from(body))
}

/// Stripe's masking of a key in messages: prefix, stars, last four.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let prefix_len = key.match_indices('_').nth(1).map(|(i, _)| i + 1).filter(|&i| i <= 8).unwrap_or(3);
    let prefix: String = chars[..prefix_len].iter().collect();
    let last4: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}{}{last4}", "*".repeat(chars.len() - prefix_len - 4))
}

/// Standard base64 with padding (only to compare a Basic-auth header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn unrecognized(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    let mut e = ApiError::state(format!(
        "Unrecognized request URL ({method}: {}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        uri.path()
    ));
    e.status = 404;
    e.into_response()
}

async fn create_customer(State(shared): State<Arc<Shared>>, Extension(params): Extension<Params>) -> ApiResult {
    let id = shared.new_id("cus");
    let customer = objects::customer(&id, now_secs(), params.get("name"), params.get("email"), params.metadata());
    shared.state().customers.push(customer.clone());
    Ok(Json(customer))
}

async fn retrieve_customer(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    shared.state().customer(&id).cloned().map(Json).ok_or_else(|| ApiError::no_such("customer", &id, "id"))
}

async fn create_checkout_session(State(shared): State<Arc<Shared>>, Extension(params): Extension<Params>) -> ApiResult {
    let mode = params.require("mode")?;
    if !matches!(mode, "subscription" | "payment") {
        return Err(ApiError::invalid(
            "mode",
            format!("Invalid mode {mode:?}: the Stripe double supports payment and subscription (Stripe also has setup)."),
        ));
    }
    let customer = params.require("customer")?;
    let success_url = params.require("success_url")?;
    let price_id = params.require("line_items[0][price]")?;
    let quantity = params.require("line_items[0][quantity]")?;
    let quantity: u64 = quantity.parse().map_err(|_| ApiError::invalid("line_items[0][quantity]", format!("Invalid integer: {quantity}")))?;
    let anchor = match params.get("subscription_data[billing_cycle_anchor]") {
        None => None,
        Some(_) if mode != "subscription" => {
            return Err(ApiError::invalid("subscription_data", "You can only pass subscription_data in subscription mode."));
        }
        Some(t) => match t.parse::<i64>() {
            Ok(v) if v > now_secs() => Some(v),
            Ok(_) => return Err(ApiError::invalid("subscription_data[billing_cycle_anchor]", "billing_cycle_anchor must be in the future.")),
            Err(_) => return Err(ApiError::invalid("subscription_data[billing_cycle_anchor]", format!("Invalid timestamp: {t}"))),
        },
    };
    let prorate = match params.get("subscription_data[proration_behavior]") {
        None | Some("create_prorations") => true,
        Some("none") => false,
        Some(other) => {
            return Err(ApiError::invalid("subscription_data[proration_behavior]", format!("Invalid proration_behavior: {other}")));
        }
    };
    let mut state = shared.state();
    if state.customer(customer).is_none() {
        return Err(ApiError::no_such("customer", customer, "customer"));
    }
    let id = shared.new_id("cs_test");
    let url = format!("{}/checkout/{id}", shared.public_url);
    let object = objects::checkout_session(&NewCheckoutSession {
        id: &id,
        now: now_secs(),
        mode,
        customer,
        client_reference_id: params.get("client_reference_id"),
        success_url,
        cancel_url: params.get("cancel_url"),
        url: &url,
        amount_total: state.unit_amount(price_id) * quantity as i64,
        metadata: params.metadata(),
    });
    state.checkout_sessions.push(StoredSession {
        object: object.clone(),
        price_id: price_id.to_string(),
        quantity,
        billing_cycle_anchor: anchor,
        prorate_first_period: prorate,
    });
    Ok(Json(object))
}

async fn retrieve_checkout_session(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    shared.state().session_mut(&id).map(|s| Json(s.object.clone())).ok_or_else(|| ApiError::no_such("checkout.session", &id, "session"))
}

async fn create_portal_session(State(shared): State<Arc<Shared>>, Extension(params): Extension<Params>) -> ApiResult {
    let customer = params.require("customer")?;
    let mut state = shared.state();
    if state.customer(customer).is_none() {
        return Err(ApiError::no_such("customer", customer, "customer"));
    }
    let id = shared.new_id("bps");
    let url = format!("{}/portal/{id}", shared.public_url);
    let session = objects::portal_session(&id, now_secs(), customer, params.get("return_url"), &url);
    state.portal_sessions.push(session.clone());
    Ok(Json(session))
}

async fn retrieve_subscription(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    shared.state().subscription_mut(&id).map(|s| Json(s.clone())).ok_or_else(|| ApiError::no_such("subscription", &id, "id"))
}

/// Applies `items[0][id|price|quantity]`, `cancel_at_period_end` and
/// `metadata[...]`; `proration_behavior` is checked but no proration is
/// created (Tollbooth sends `none` and bills proration itself).
async fn update_subscription(State(shared): State<Arc<Shared>>, Path(id): Path<String>, Extension(params): Extension<Params>) -> ApiResult {
    if let Some(p) = params.get("proration_behavior") {
        if !matches!(p, "create_prorations" | "none" | "always_invoice") {
            return Err(ApiError::invalid(
                "proration_behavior",
                format!("Invalid proration_behavior: must be one of always_invoice, create_prorations, or none (got {p:?})"),
            ));
        }
    }
    let cancel = match params.get("cancel_at_period_end") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(ApiError::invalid("cancel_at_period_end", format!("Invalid boolean: {other}"))),
    };
    let quantity = match params.get("items[0][quantity]") {
        None => None,
        Some(q) => Some(q.parse::<u64>().map_err(|_| ApiError::invalid("items[0][quantity]", format!("Invalid integer: {q}")))?),
    };
    let now = now_secs();
    let (updated, previous) = {
        let mut state = shared.state();
        let unit_amount = params.get("items[0][price]").map(|p| state.unit_amount(p));
        let new_item_id = shared.new_id("si");
        let sub = state.subscription_mut(&id).ok_or_else(|| ApiError::no_such("subscription", &id, "id"))?;
        if sub["status"] == "canceled" {
            return Err(ApiError::state("A canceled subscription can only update its cancellation_details and metadata."));
        }
        let old = sub.clone();
        let first = &sub["items"]["data"][0];
        let (start, end) = (first["current_period_start"].as_i64().unwrap_or(now), first["current_period_end"].as_i64().unwrap_or(now));
        if let (Some(price_id), Some(unit_amount)) = (params.get("items[0][price]"), unit_amount) {
            let quantity = quantity.unwrap_or(1);
            match params.get("items[0][id]") {
                Some(item_id) => {
                    let Some(item) = sub["items"]["data"].as_array_mut().and_then(|items| items.iter_mut().find(|i| i["id"] == item_id)) else {
                        return Err(ApiError::invalid("items[0][id]", format!("No such subscription item: '{item_id}'")));
                    };
                    item["price"] = objects::price(price_id, unit_amount, true, now);
                    item["plan"] = objects::plan(price_id, unit_amount, now);
                    item["quantity"] = quantity.into();
                }
                // Without an item id Stripe adds an item.
                None => {
                    let item = objects::subscription_item(&new_item_id, &id, price_id, unit_amount, quantity, start, end);
                    if let Some(items) = sub["items"]["data"].as_array_mut() {
                        items.push(item);
                    }
                    let count = sub["items"]["data"].as_array().map_or(0, Vec::len);
                    sub["items"]["total_count"] = count.into();
                }
            }
        } else if let (Some(q), Some(item_id)) = (quantity, params.get("items[0][id]")) {
            if let Some(item) = sub["items"]["data"].as_array_mut().and_then(|items| items.iter_mut().find(|i| i["id"] == item_id)) {
                item["quantity"] = q.into();
            }
        }
        if let Some(cancel) = cancel {
            sub["cancel_at_period_end"] = cancel.into();
            sub["cancel_at"] = if cancel { end.into() } else { Value::Null };
            sub["cancellation_details"]["reason"] = if cancel { "cancellation_requested".into() } else { Value::Null };
        }
        for (k, v) in params.metadata() {
            match v.as_str() {
                Some("") => {
                    sub["metadata"].as_object_mut().map(|m| m.remove(&k));
                }
                _ => sub["metadata"][k] = v,
            }
        }
        let previous = objects::previous_attributes(&old, sub);
        (sub.clone(), previous)
    };
    if previous.as_object().is_some_and(|p| !p.is_empty()) {
        let event = events::record(&shared, "customer.subscription.updated", updated.clone(), Some(previous));
        events::deliver_later(&shared, vec![event]);
    }
    Ok(Json(updated))
}

/// Cancels now: status `canceled`, `ended_at` now.
async fn cancel_subscription(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let now = now_secs();
    let canceled = {
        let mut state = shared.state();
        let sub = state.subscription_mut(&id).ok_or_else(|| ApiError::no_such("subscription", &id, "id"))?;
        if sub["status"] == "canceled" {
            return Err(ApiError::state(format!("The subscription {id} has already been canceled.")));
        }
        sub["status"] = "canceled".into();
        sub["canceled_at"] = now.into();
        sub["ended_at"] = now.into();
        sub["cancellation_details"]["reason"] = "cancellation_requested".into();
        sub.clone()
    };
    let event = events::record(&shared, "customer.subscription.deleted", canceled.clone(), None);
    events::deliver_later(&shared, vec![event]);
    Ok(Json(canceled))
}

async fn create_invoice_item(State(shared): State<Arc<Shared>>, Extension(params): Extension<Params>) -> ApiResult {
    let customer = params.require("customer")?;
    let amount = params.require("amount")?;
    let amount: i64 = amount.parse().map_err(|_| ApiError::invalid("amount", format!("Invalid integer: {amount}")))?;
    let currency = params.require("currency")?.to_ascii_lowercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(ApiError::invalid("currency", format!("Invalid currency: {currency}")));
    }
    let subscription = params.get("subscription").filter(|s| !s.is_empty());
    let mut state = shared.state();
    if state.customer(customer).is_none() {
        return Err(ApiError::no_such("customer", customer, "customer"));
    }
    if let Some(sub_id) = subscription {
        let Some(sub) = state.subscription_mut(sub_id) else {
            return Err(ApiError::no_such("subscription", sub_id, "subscription"));
        };
        if sub["customer"] != customer {
            return Err(ApiError::invalid("subscription", format!("The subscription {sub_id} does not belong to customer {customer}.")));
        }
    }
    let id = shared.new_id("ii");
    let item = objects::invoice_item(&NewInvoiceItem {
        id: &id,
        now: now_secs(),
        customer,
        subscription,
        amount,
        currency: &currency,
        description: params.get("description"),
        metadata: params.metadata(),
    });
    state.invoice_items.push(item.clone());
    Ok(Json(item))
}

async fn retrieve_event(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    shared.state().events.iter().find(|e| e.id == id).map(|e| Json(e.event.clone())).ok_or_else(|| ApiError::no_such("event", &id, "id"))
}

#[cfg(test)]
mod tests {
    use super::{base64, mask};

    #[test]
    fn basic_auth_is_encoded_as_curl_sends_it() {
        assert_eq!(base64(b"sk_test_x:"), "c2tfdGVzdF94Og==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn a_key_is_masked_as_stripe_masks_it() {
        assert_eq!(mask("sk_test_abcdefghijkl1234"), "sk_test_************1234");
        assert_eq!(mask("short"), "*****");
    }
}
