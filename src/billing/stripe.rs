//! A thin client for the parts of Stripe's API that Tollbooth calls:
//! customers, Checkout and billing-portal sessions, subscriptions and
//! one-off invoice items. Built on async-stripe 1.0 (rc.10), which targets
//! Stripe API version `2026-09-30.endive`.
//!
//! The base URL is a parameter so tests and local runs can point the client
//! at the Stripe double (`tollbooth-server`'s `stripe_double`); production
//! leaves it at `https://api.stripe.com`.
//!
//! Errors: a 4xx answer from Stripe becomes `Unavailable("Stripe refused:
//! {Stripe's message}")`; a network failure, a timeout or a 5xx becomes
//! `Unavailable("Stripe is unreachable ...")`. The secret key never appears
//! in a message (Stripe echoes a masked key on 401; any copy of the key in
//! a message is redacted anyway).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stripe::{ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice_item::CreateInvoiceItem;
use stripe_billing::subscription::{
    CancelSubscription, RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
    UpdateSubscriptionProrationBehavior,
};
use stripe_billing::Subscription;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    CreateCheckoutSessionSubscriptionDataProrationBehavior,
};
use stripe_checkout::CheckoutSessionMode;
use stripe_core::customer::CreateCustomer;

use crate::{Error, Result};

/// Stripe's production API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// Each HTTP attempt gives up after this long, so a hung connection cannot
/// hold a request (or a background task) forever.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A Stripe API client bound to one secret key and one base URL.
#[derive(Clone)]
pub struct Stripe {
    client: stripe::Client,
    api_base: String,
    /// Kept only to redact it from error messages.
    secret_key: String,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").field("api_base", &self.api_base).finish_non_exhaustive()
    }
}

/// What a Checkout Session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutMode {
    /// A recurring price: paying starts a subscription.
    Subscription,
    /// A one-time price (e.g. prepaid credits).
    Payment,
}

/// A Checkout Session to create for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub mode: CheckoutMode,
    pub customer_id: String,
    /// The organization id; Stripe hands it back on `checkout.session.completed`.
    pub client_reference_id: String,
    pub price_id: String,
    pub quantity: u64,
    /// May contain `{CHECKOUT_SESSION_ID}`, which Stripe replaces with the session id.
    pub success_url: String,
    pub cancel_url: String,
    pub metadata: Vec<(String, String)>,
    /// Subscription mode: the first renewal (unix seconds), with Stripe's
    /// proration off; Tollbooth bills the partial first period itself.
    pub billing_cycle_anchor: Option<i64>,
}

/// The created session: its id and the hosted page to send the user to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSessionCreated {
    pub id: String,
    pub url: String,
}

/// The parts of a Stripe subscription Tollbooth keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionState {
    pub id: String,
    pub customer_id: String,
    /// active, trialing, past_due, canceled, unpaid, incomplete, incomplete_expired, paused.
    pub status: String,
    /// The price of the first item.
    pub price_id: Option<String>,
    /// Unix seconds.
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
}

/// A one-off invoice item (USD cents, may be negative for a credit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceItemRequest {
    pub customer_id: String,
    /// When set, the item goes on this subscription's next invoice.
    pub subscription_id: Option<String>,
    pub amount_cents: i64,
    pub description: String,
    /// Sent as `Idempotency-Key`: a retry with the same key creates nothing new.
    pub idempotency_key: String,
    pub metadata: Vec<(String, String)>,
}

impl Stripe {
    /// `api_base` e.g. "https://api.stripe.com" or "http://127.0.0.1:12111".
    pub fn new(secret_key: &str, api_base: &str) -> Result<Self> {
        if secret_key.trim().is_empty() {
            return Err(Error::invalid("secret_key", "the Stripe secret key is empty"));
        }
        let base = api_base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::invalid("api_base", format!("{api_base:?} is not an http(s) URL")));
        }
        // async-stripe appends "v1/..." to the base, so it must end with '/'.
        let client = ClientBuilder::new(secret_key)
            .url(format!("{base}/"))
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .map_err(|e| Error::invalid("api_base", format!("the Stripe client cannot be built: {}", redact(&e.to_string(), secret_key))))?;
        Ok(Self { client, api_base: base.to_string(), secret_key: secret_key.to_string() })
    }

    /// The base URL requests go to (without a trailing slash).
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// Creates a customer with metadata[org_id]; returns "cus_...".
    pub async fn create_customer(&self, org_id: &str, org_name: &str, email: &str) -> Result<String> {
        let customer = CreateCustomer::new()
            .name(org_name)
            .email(email)
            .metadata(HashMap::from([("org_id".to_string(), org_id.to_string())]))
            .send(&self.client)
            .await
            .map_err(|e| self.error(e))?;
        Ok(customer.id.as_str().to_string())
    }

    /// Creates a hosted Checkout Session for one price.
    pub async fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<CheckoutSessionCreated> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(req.price_id.clone());
        item.quantity = Some(req.quantity);
        let mode = match req.mode {
            CheckoutMode::Subscription => CheckoutSessionMode::Subscription,
            CheckoutMode::Payment => CheckoutSessionMode::Payment,
        };
        let mut create = CreateCheckoutSession::new()
            .mode(mode)
            .customer(req.customer_id.as_str())
            .client_reference_id(req.client_reference_id.as_str())
            .line_items(vec![item])
            .success_url(req.success_url.as_str())
            .cancel_url(req.cancel_url.as_str());
        if !req.metadata.is_empty() {
            create = create.metadata(to_map(&req.metadata));
        }
        if let Some(anchor) = req.billing_cycle_anchor {
            let mut data = CreateCheckoutSessionSubscriptionData::new();
            data.billing_cycle_anchor = Some(anchor);
            data.proration_behavior = Some(CreateCheckoutSessionSubscriptionDataProrationBehavior::None);
            create = create.subscription_data(data);
        }
        let session = create.send(&self.client).await.map_err(|e| self.error(e))?;
        let url = session
            .url
            .ok_or_else(|| Error::Internal(format!("Stripe returned checkout session {} without a url", session.id)))?;
        Ok(CheckoutSessionCreated { id: session.id.as_str().to_string(), url })
    }

    /// Billing portal session for the customer; returns its URL.
    pub async fn create_portal_session(&self, customer_id: &str, return_url: &str) -> Result<String> {
        let session = CreateBillingPortalSession::new()
            .customer(customer_id)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(|e| self.error(e))?;
        Ok(session.url)
    }

    /// The subscription as Stripe has it now.
    pub async fn retrieve_subscription(&self, id: &str) -> Result<SubscriptionState> {
        let sub = RetrieveSubscription::new(id).send(&self.client).await.map_err(|e| self.error(e))?;
        subscription_state(sub)
    }

    /// Swaps the subscription's single item to `price_id` with
    /// proration_behavior=none: Tollbooth computes and bills proration itself
    /// (see `billing::proration`), so Stripe must not add its own.
    pub async fn change_subscription_price(&self, id: &str, price_id: &str) -> Result<SubscriptionState> {
        let current = RetrieveSubscription::new(id).send(&self.client).await.map_err(|e| self.error(e))?;
        let item_id = current
            .items
            .data
            .first()
            .map(|item| item.id.as_str().to_string())
            .ok_or_else(|| Error::Internal(format!("Stripe subscription {id} has no items")))?;
        let mut item = UpdateSubscriptionItems::new();
        item.id = Some(item_id);
        item.price = Some(price_id.to_string());
        let sub = UpdateSubscription::new(id)
            .items(vec![item])
            .proration_behavior(UpdateSubscriptionProrationBehavior::None)
            .send(&self.client)
            .await
            .map_err(|e| self.error(e))?;
        subscription_state(sub)
    }

    /// Sets or clears cancel_at_period_end.
    pub async fn set_cancel_at_period_end(&self, id: &str, cancel: bool) -> Result<SubscriptionState> {
        let sub = UpdateSubscription::new(id)
            .cancel_at_period_end(cancel)
            .send(&self.client)
            .await
            .map_err(|e| self.error(e))?;
        subscription_state(sub)
    }

    /// Cancels now (DELETE /v1/subscriptions/{id}).
    pub async fn cancel_subscription(&self, id: &str) -> Result<SubscriptionState> {
        let sub = CancelSubscription::new(id).send(&self.client).await.map_err(|e| self.error(e))?;
        subscription_state(sub)
    }

    /// A one-off invoice item (amount in cents, may be negative, currency usd) on the customer,
    /// attached to the subscription's next invoice when `subscription_id` is given.
    /// Sends an Idempotency-Key header = req.idempotency_key. Returns "ii_...".
    pub async fn create_invoice_item(&self, req: &InvoiceItemRequest) -> Result<String> {
        let key = IdempotencyKey::new(&req.idempotency_key)
            .map_err(|e| Error::invalid("idempotency_key", e.to_string()))?;
        let mut create = CreateInvoiceItem::new()
            .customer(req.customer_id.as_str())
            .amount(req.amount_cents)
            .currency(stripe_types::Currency::USD)
            .description(req.description.as_str());
        if let Some(sub) = &req.subscription_id {
            create = create.subscription(sub.as_str());
        }
        if !req.metadata.is_empty() {
            create = create.metadata(to_map(&req.metadata));
        }
        let item = create
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(|e| self.error(e))?;
        Ok(item.id.as_str().to_string())
    }

    fn error(&self, e: StripeError) -> Error {
        stripe_error(e, &self.secret_key)
    }
}

fn to_map(pairs: &[(String, String)]) -> HashMap<String, String> {
    pairs.iter().cloned().collect()
}

/// Reads the period from the first item: since API version 2025-03-31
/// Stripe keeps `current_period_start/end` on subscription items, and the
/// async-stripe version used here has them only there (the subscription
/// object no longer carries them, so there is nothing to fall back to).
fn subscription_state(sub: Subscription) -> Result<SubscriptionState> {
    let first = sub.items.data.first();
    let Some(item) = first else {
        return Err(Error::Internal(format!("Stripe subscription {} has no items", sub.id)));
    };
    Ok(SubscriptionState {
        id: sub.id.as_str().to_string(),
        customer_id: sub.customer.id().as_str().to_string(),
        status: sub.status.as_str().to_string(),
        price_id: Some(item.price.id.as_str().to_string()),
        current_period_start: item.current_period_start,
        current_period_end: item.current_period_end,
        cancel_at_period_end: sub.cancel_at_period_end,
    })
}

/// Maps an async-stripe error to the core error (see the module doc).
fn stripe_error(e: StripeError, secret_key: &str) -> Error {
    match e {
        StripeError::Stripe(api, status) if (400..500).contains(&status) => {
            let message = api.message.as_deref().unwrap_or("no reason given");
            Error::Unavailable(format!("Stripe refused: {}", redact(message, secret_key)))
        }
        StripeError::Stripe(_, status) => {
            Error::Unavailable(format!("Stripe is unreachable (it answered {status}); try again later"))
        }
        StripeError::ClientError(detail) => {
            tracing::warn!(error = %redact(&detail, secret_key), "Stripe request failed");
            Error::Unavailable("Stripe is unreachable; try again later".to_string())
        }
        StripeError::Timeout => Error::Unavailable("Stripe is unreachable (timed out); try again later".to_string()),
        // An error status whose body is not Stripe's error JSON (a proxy's
        // page, say) comes through as a deserialize error of the error body.
        StripeError::JSONDeserialize(detail) if detail.contains("Stripe error") => {
            Error::Unavailable("Stripe is unreachable (an unreadable error answer); try again later".to_string())
        }
        StripeError::JSONDeserialize(detail) => {
            Error::Internal(format!("Stripe's answer did not have the expected shape: {}", redact(&detail, secret_key)))
        }
        StripeError::ConfigError(detail) => Error::Internal(format!("Stripe client: {}", redact(&detail, secret_key))),
    }
}

fn redact(text: &str, secret_key: &str) -> String {
    if secret_key.is_empty() {
        text.to_string()
    } else {
        text.replace(secret_key, "sk_***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_must_be_http_and_the_key_present() {
        assert!(Stripe::new("sk_test_x", "https://api.stripe.com").is_ok());
        assert!(Stripe::new("sk_test_x", "http://127.0.0.1:12111/").is_ok());
        assert_eq!(Stripe::new("sk_test_x", "api.stripe.com").unwrap_err().field(), Some("api_base"));
        assert_eq!(Stripe::new(" ", STRIPE_API_BASE).unwrap_err().field(), Some("secret_key"));
    }

    #[test]
    fn debug_output_does_not_show_the_secret_key() {
        let stripe = Stripe::new("sk_test_supersecret", STRIPE_API_BASE).unwrap();
        let shown = format!("{stripe:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("api.stripe.com"));
    }

    #[test]
    fn a_copy_of_the_key_in_a_message_is_redacted() {
        let e = stripe_error(StripeError::ClientError("bad sk_test_abc".into()), "sk_test_abc");
        assert_eq!(e.to_string(), "Stripe is unreachable; try again later");
        let e = stripe_error(StripeError::ConfigError("key sk_test_abc".into()), "sk_test_abc");
        assert!(!e.to_string().contains("sk_test_abc"));
    }
}
