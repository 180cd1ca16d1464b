//! Stripe objects as JSON, in the shape of API version `2026-09-30.endive`
//! (the version async-stripe 1.0.0-rc.10 targets). Every field that
//! async-stripe requires to deserialize an object is present; optional ones
//! are present as `null`, as Stripe sends them.
//!
//! Since 2025-03-31 (basil) the billing period lives on subscription items,
//! not on the subscription, and an invoice or invoice item names its
//! subscription under `parent.subscription_details`. Invoices keep a
//! top-level `subscription` here as well, which async-stripe still reads.

use serde_json::{json, Map, Value};

/// The API version events carry.
pub const API_VERSION: &str = "2026-09-30.endive";

pub fn customer(id: &str, now: i64, name: Option<&str>, email: Option<&str>, metadata: Map<String, Value>) -> Value {
    json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": now,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "discount": null,
        "email": email,
        "invoice_prefix": id.trim_start_matches("cus_").chars().take(8).collect::<String>().to_uppercase(),
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    })
}

/// A price as Stripe returns it inside a subscription item. The double
/// knows only a price's id and unit amount; recurring prices bill monthly.
pub fn price(id: &str, unit_amount: i64, recurring: bool, now: i64) -> Value {
    json!({
        "id": id,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": now,
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": product_id(id),
        "recurring": if recurring {
            json!({"interval": "month", "interval_count": 1, "meter": null, "trial_period_days": null, "usage_type": "licensed"})
        } else {
            Value::Null
        },
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring { "recurring" } else { "one_time" },
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    })
}

/// The legacy `plan` Stripe still sends beside `price` on subscription items.
pub fn plan(price_id: &str, unit_amount: i64, now: i64) -> Value {
    json!({
        "id": price_id,
        "object": "plan",
        "active": true,
        "amount": unit_amount,
        "amount_decimal": unit_amount.to_string(),
        "billing_scheme": "per_unit",
        "created": now,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": null,
        "product": product_id(price_id),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

fn product_id(price_id: &str) -> String {
    format!("prod_{}", price_id.trim_start_matches("price_"))
}

pub struct NewSubscription<'a> {
    pub id: &'a str,
    pub item_id: &'a str,
    pub customer: &'a str,
    pub price_id: &'a str,
    pub unit_amount: i64,
    pub quantity: u64,
    pub period_start: i64,
    pub period_end: i64,
    pub latest_invoice: Option<&'a str>,
    pub metadata: Map<String, Value>,
}

pub fn subscription(s: &NewSubscription<'_>) -> Value {
    let item = subscription_item(s.item_id, s.id, s.price_id, s.unit_amount, s.quantity, s.period_start, s.period_end);
    let head = json!({
        "id": s.id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": s.period_start,
        "billing_cycle_anchor_config": null,
        "billing_mode": {"flexible": null, "type": "classic", "updated_at": null},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": "charge_automatically",
        "created": s.period_start,
        "currency": "usd",
        "customer": s.customer,
        "days_until_due": null,
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": null,
    });
    let rest = json!({
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [item],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={}", s.id),
        },
        "latest_invoice": s.latest_invoice,
        "livemode": false,
        "metadata": s.metadata,
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": s.period_start,
        "status": "active",
        "test_clock": null,
        "transfer_data": null,
        "trial_end": null,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": null,
    });
    merge(head, rest)
}

pub fn subscription_item(id: &str, subscription: &str, price_id: &str, unit_amount: i64, quantity: u64, start: i64, end: i64) -> Value {
    json!({
        "id": id,
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": start,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": plan(price_id, unit_amount, start),
        "price": price(price_id, unit_amount, true, start),
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    })
}

pub struct NewCheckoutSession<'a> {
    pub id: &'a str,
    pub now: i64,
    pub mode: &'a str,
    pub customer: &'a str,
    pub client_reference_id: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: Option<&'a str>,
    pub url: &'a str,
    pub amount_total: i64,
    pub metadata: Map<String, Value>,
}

pub fn checkout_session(s: &NewCheckoutSession<'_>) -> Value {
    let head = json!({
        "id": s.id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": s.amount_total,
        "amount_total": s.amount_total,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "cancel_url": s.cancel_url,
        "client_reference_id": s.client_reference_id,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": s.now,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": s.customer,
        "customer_creation": null,
        "customer_details": null,
        "customer_email": null,
        "discounts": [],
    });
    let rest = json!({
        "expires_at": s.now + 24 * 3600,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": s.metadata,
        "mode": s.mode,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "always",
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": s.success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "url": s.url,
    });
    merge(head, rest)
}

pub fn portal_session(id: &str, now: i64, customer: &str, return_url: Option<&str>, url: &str) -> Value {
    json!({
        "id": id,
        "object": "billing_portal.session",
        "configuration": "bpc_double_default",
        "created": now,
        "customer": customer,
        "customer_account": null,
        "flow": null,
        "livemode": false,
        "locale": null,
        "on_behalf_of": null,
        "return_url": return_url,
        "url": url,
    })
}

pub struct NewInvoiceItem<'a> {
    pub id: &'a str,
    pub now: i64,
    pub customer: &'a str,
    pub subscription: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    pub description: Option<&'a str>,
    pub metadata: Map<String, Value>,
}

pub fn invoice_item(i: &NewInvoiceItem<'_>) -> Value {
    json!({
        "id": i.id,
        "object": "invoiceitem",
        "amount": i.amount,
        "currency": i.currency,
        "customer": i.customer,
        "customer_account": null,
        "date": i.now,
        "description": i.description,
        "discountable": i.amount >= 0,
        "discounts": [],
        "invoice": null,
        "livemode": false,
        "metadata": i.metadata,
        "net_amount": i.amount,
        "parent": i.subscription.map(|sub| json!({
            "subscription_details": {"subscription": sub, "subscription_item": null},
            "type": "subscription_details",
        })),
        "period": {"end": i.now, "start": i.now},
        "pricing": null,
        "proration": false,
        "proration_details": null,
        "quantity": 1,
        "quantity_decimal": "1",
        "tax_rates": [],
        "test_clock": null,
    })
}

pub struct NewInvoice<'a> {
    pub id: &'a str,
    pub now: i64,
    pub customer: &'a str,
    pub subscription: &'a str,
    pub line_id: &'a str,
    pub price_id: &'a str,
    pub amount: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub billing_reason: &'a str,
}

/// A paid subscription invoice with one line for the price.
pub fn paid_invoice(i: &NewInvoice<'_>) -> Value {
    let line = json!({
        "id": i.line_id,
        "object": "line_item",
        "amount": i.amount,
        "currency": "usd",
        "description": format!("1 × {}", i.price_id),
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "invoice": i.id,
        "livemode": false,
        "metadata": {},
        "parent": {
            "invoice_item_details": null,
            "subscription_item_details": {"invoice_item": null, "proration": false, "proration_details": null, "subscription": i.subscription, "subscription_item": null},
            "type": "subscription_item_details",
        },
        "period": {"end": i.period_end, "start": i.period_start},
        "pricing": {"price_details": {"price": i.price_id, "product": product_id(i.price_id)}, "type": "price_details", "unit_amount_decimal": i.amount.to_string()},
        "quantity": 1,
        "subtotal": i.amount,
        "taxes": [],
    });
    let head = json!({
        "id": i.id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Tollbooth (Stripe double)",
        "amount_due": i.amount,
        "amount_overpaid": 0,
        "amount_paid": i.amount,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "attempt_count": 1,
        "attempted": true,
        "auto_advance": false,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
        "billing_reason": i.billing_reason,
        "collection_method": "charge_automatically",
        "created": i.now,
        "currency": "usd",
        "customer": i.customer,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "due_date": null,
        "ending_balance": 0,
        "hosted_invoice_url": null,
    });
    let rest = json!({
        "issuer": {"type": "self"},
        "lines": {"object": "list", "data": [line], "has_more": false, "total_count": 1, "url": format!("/v1/invoices/{}/lines", i.id)},
        "livemode": false,
        "metadata": {},
        "number": null,
        "parent": {
            "quote_details": null,
            "subscription_details": {"metadata": {}, "subscription": i.subscription},
            "type": "subscription_details",
        },
        "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
        "period_end": i.period_end,
        "period_start": i.period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "status": "paid",
        "status_transitions": {"finalized_at": i.now, "marked_uncollectible_at": null, "paid_at": i.now, "voided_at": null},
        "subscription": i.subscription,
        "subtotal": i.amount,
        "total": i.amount,
    });
    merge(head, rest)
}

/// `a` with the fields of `b` added (json! objects this large hit the
/// macro recursion limit, so they are built in two halves).
fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

pub fn event(id: &str, event_type: &str, now: i64, object: Value, previous_attributes: Option<Value>) -> Value {
    let mut data = json!({ "object": object });
    if let Some(prev) = previous_attributes {
        data["previous_attributes"] = prev;
    }
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
    })
}

/// The top-level fields of `old` that differ in `new`, with their old
/// values: the `previous_attributes` of an `*.updated` event.
pub fn previous_attributes(old: &Value, new: &Value) -> Value {
    let mut prev = Map::new();
    if let (Some(old), Some(new)) = (old.as_object(), new.as_object()) {
        for (k, v) in old {
            if new.get(k) != Some(v) {
                prev.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(prev)
}
