//! Hosted pages, plain HTML without scripts: Checkout (`/checkout/{id}`,
//! Pay completes the session) and the billing portal (`/portal/{id}`,
//! Cancel subscription sets cancel_at_period_end). Events they cause are
//! delivered before they redirect.

use std::sync::Arc;

use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};

use super::objects::{self, NewInvoice, NewSubscription};
use super::{events, now_secs, one_month_after, Params, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/pay", post(pay))
        .route("/portal/{id}", get(portal_page))
        .route("/portal/{id}/cancel", post(cancel_at_period_end))
        .with_state(shared)
}

async fn checkout_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(session) = shared.state().session_mut(&id).cloned() else {
        return not_found("Checkout Session");
    };
    let o = &session.object;
    let amount = o["amount_total"].as_i64().unwrap_or(0);
    let mut body = format!(
        "<h1>Checkout (Stripe double)</h1>\
         <dl><dt>Mode</dt><dd id=\"mode\">{mode}</dd>\
         <dt>Price</dt><dd id=\"price\">{price}</dd>\
         <dt>Quantity</dt><dd>{quantity}</dd>\
         <dt>Total</dt><dd id=\"total\">{total} USD{per}</dd>\
         <dt>Customer</dt><dd>{customer}</dd></dl>",
        mode = esc(o["mode"].as_str().unwrap_or("")),
        price = esc(&session.price_id),
        quantity = session.quantity,
        total = tollbooth::billing::cents_to_usd(amount),
        per = if o["mode"] == "subscription" { " per month" } else { "" },
        customer = esc(o["customer"].as_str().unwrap_or("")),
    );
    if o["status"] == "open" {
        body += &format!(
            "<form method=\"post\" action=\"{}/checkout/{}/pay\"><button type=\"submit\">Pay</button></form>",
            shared.public_url,
            esc(&id)
        );
        if let Some(cancel) = o["cancel_url"].as_str() {
            body += &format!("<p><a href=\"{}\">Cancel and go back</a></p>", esc(cancel));
        }
    } else {
        body += &format!("<p>This session is {}.</p>", esc(o["status"].as_str().unwrap_or("")));
    }
    page("Checkout", &body)
}

/// Completes the session as a successful card payment would, sends its
/// events in Stripe's order and redirects to the success URL.
async fn pay(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let now = now_secs();
    let mut to_send: Vec<(&str, Value)> = Vec::new();
    let success_url = {
        let mut state = shared.state();
        let Some(session) = state.session_mut(&id).cloned() else {
            return not_found("Checkout Session");
        };
        if session.object["status"] != "open" {
            return (StatusCode::CONFLICT, page("Checkout", "<p>This Checkout Session is no longer open.</p>")).into_response();
        }
        let customer = session.object["customer"].as_str().unwrap_or("").to_string();
        let unit_amount = state.unit_amount(&session.price_id);
        let amount = unit_amount * session.quantity as i64;
        let mut completed = session.object.clone();
        completed["status"] = "complete".into();
        completed["payment_status"] = "paid".into();
        completed["amount_total"] = amount.into();
        completed["amount_subtotal"] = amount.into();
        if session.object["mode"] == "subscription" {
            let (sub_id, item_id, invoice_id, line_id) = (shared.new_id("sub"), shared.new_id("si"), shared.new_id("in"), shared.new_id("il"));
            // An anchored subscription's first period ends at the anchor; without
            // proration its first invoice is $0 (the app bills that part itself).
            let end = session.billing_cycle_anchor.unwrap_or_else(|| one_month_after(now));
            let amount = if session.billing_cycle_anchor.is_some() && !session.prorate_first_period { 0 } else { amount };
            completed["amount_total"] = amount.into();
            completed["amount_subtotal"] = amount.into();
            let subscription = objects::subscription(&NewSubscription {
                id: &sub_id,
                item_id: &item_id,
                customer: &customer,
                price_id: &session.price_id,
                unit_amount,
                quantity: session.quantity,
                period_start: now,
                period_end: end,
                latest_invoice: Some(&invoice_id),
                metadata: Map::new(),
            });
            let invoice = objects::paid_invoice(&NewInvoice {
                id: &invoice_id,
                now,
                customer: &customer,
                subscription: &sub_id,
                line_id: &line_id,
                price_id: &session.price_id,
                amount,
                period_start: now,
                period_end: end,
                billing_reason: "subscription_create",
            });
            completed["subscription"] = sub_id.into();
            completed["invoice"] = invoice_id.into();
            state.subscriptions.push(subscription.clone());
            state.invoices.push(invoice.clone());
            to_send.push(("customer.subscription.created", subscription));
            to_send.push(("checkout.session.completed", completed.clone()));
            to_send.push(("invoice.paid", invoice));
        } else {
            completed["payment_intent"] = shared.new_id("pi").into();
            to_send.push(("checkout.session.completed", completed.clone()));
        }
        if let Some(stored) = state.session_mut(&id) {
            stored.object = completed;
        }
        // Stripe fills in the template variable of the success URL.
        session.object["success_url"].as_str().unwrap_or("/").replace("{CHECKOUT_SESSION_ID}", &id)
    };
    for (event_type, object) in to_send {
        let event_id = events::record(&shared, event_type, object, None);
        if let Err(e) = events::deliver_now(&shared, &event_id).await {
            tracing::warn!(error = %e, "Stripe double: an event was not delivered");
        }
    }
    Redirect::to(&success_url).into_response()
}

async fn portal_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let (session, subscriptions) = {
        let state = shared.state();
        let Some(session) = state.portal_sessions.iter().find(|s| s["id"] == id).cloned() else {
            return not_found("portal session");
        };
        let subs: Vec<Value> = state.subscriptions.iter().filter(|s| s["customer"] == session["customer"]).cloned().collect();
        (session, subs)
    };
    let mut body = format!("<h1>Billing portal (Stripe double)</h1><p>Customer {}</p>", esc(session["customer"].as_str().unwrap_or("")));
    if subscriptions.is_empty() {
        body += "<p>No subscriptions.</p>";
    }
    for sub in &subscriptions {
        let item = &sub["items"]["data"][0];
        let end = item["current_period_end"].as_i64().unwrap_or(0);
        let sub_id = esc(sub["id"].as_str().unwrap_or(""));
        body += &format!(
            "<section><h2>Subscription {sub_id}</h2><dl><dt>Status</dt><dd>{status}</dd><dt>Price</dt><dd>{price}</dd>\
             <dt>Current period ends</dt><dd>{end_date}</dd><dt>Cancels at period end</dt><dd>{cape}</dd></dl>",
            status = esc(sub["status"].as_str().unwrap_or("")),
            price = esc(item["price"]["id"].as_str().unwrap_or("")),
            end_date = date(end),
            cape = if sub["cancel_at_period_end"] == true { "yes" } else { "no" },
        );
        if sub["status"] != "canceled" && sub["cancel_at_period_end"] != true {
            body += &format!(
                "<form method=\"post\" action=\"{}/portal/{}/cancel\"><input type=\"hidden\" name=\"subscription\" value=\"{sub_id}\">\
                 <button type=\"submit\">Cancel subscription</button></form>",
                shared.public_url,
                esc(&id)
            );
        }
        body += "</section>";
    }
    if let Some(back) = session["return_url"].as_str() {
        body += &format!("<p><a href=\"{}\">Return</a></p>", esc(back));
    }
    page("Billing portal", &body)
}

/// The portal's Cancel subscription: cancel_at_period_end = true, then back.
async fn cancel_at_period_end(State(shared): State<Arc<Shared>>, Path(id): Path<String>, RawForm(form): RawForm) -> Response {
    let params = Params::parse(&form);
    let Some(sub_id) = params.get("subscription").map(str::to_string) else {
        return (StatusCode::BAD_REQUEST, page("Billing portal", "<p>Which subscription?</p>")).into_response();
    };
    let (update, back) = {
        let mut state = shared.state();
        let Some(session) = state.portal_sessions.iter().find(|s| s["id"] == id).cloned() else {
            return not_found("portal session");
        };
        let back = session["return_url"].as_str().map(str::to_string).unwrap_or_else(|| format!("{}/portal/{id}", shared.public_url));
        let Some(sub) = state.subscription_mut(&sub_id).filter(|s| s["customer"] == session["customer"]) else {
            return not_found("subscription");
        };
        let update = if sub["cancel_at_period_end"] != true && sub["status"] != "canceled" {
            let old = sub.clone();
            sub["cancel_at_period_end"] = true.into();
            sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"].clone();
            sub["cancellation_details"]["reason"] = "cancellation_requested".into();
            Some((sub.clone(), objects::previous_attributes(&old, sub)))
        } else {
            None
        };
        (update, back)
    };
    if let Some((sub, previous)) = update {
        let event_id = events::record(&shared, "customer.subscription.updated", sub, Some(previous));
        if let Err(e) = events::deliver_now(&shared, &event_id).await {
            tracing::warn!(error = %e, "Stripe double: an event was not delivered");
        }
    }
    Redirect::to(&back).into_response()
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Stripe double</title></head><body>{body}</body></html>"
    ))
    .into_response()
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, page("Not found", &format!("<p>No such {what}.</p>"))).into_response()
}

fn date(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs).map(|t| t.date().to_string()).unwrap_or_default()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
