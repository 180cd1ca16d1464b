//! PLACEHOLDER until the stripe branch merges (replaced by the async-stripe client).
use crate::{Error, Result};
pub struct Stripe;
pub enum CheckoutMode { Subscription, Payment }
pub struct CheckoutRequest { pub mode: CheckoutMode, pub customer_id: String, pub client_reference_id: String, pub price_id: String, pub quantity: u64, pub success_url: String, pub cancel_url: String, pub metadata: Vec<(String, String)>, pub billing_cycle_anchor: Option<i64> }
pub struct CheckoutSessionCreated { pub id: String, pub url: String }
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubscriptionState { pub id: String, pub customer_id: String, pub status: String, pub price_id: Option<String>, pub current_period_start: i64, pub current_period_end: i64, pub cancel_at_period_end: bool }
pub struct InvoiceItemRequest { pub customer_id: String, pub subscription_id: Option<String>, pub amount_cents: i64, pub description: String, pub idempotency_key: String, pub metadata: Vec<(String, String)> }
fn no() -> Error { Error::Unavailable("placeholder".into()) }
impl Stripe {
    pub fn new(_k: &str, _b: &str) -> Result<Self> { Err(no()) }
    pub async fn create_customer(&self, _o: &str, _n: &str, _e: &str) -> Result<String> { Err(no()) }
    pub async fn create_checkout_session(&self, _r: &CheckoutRequest) -> Result<CheckoutSessionCreated> { Err(no()) }
    pub async fn create_portal_session(&self, _c: &str, _r: &str) -> Result<String> { Err(no()) }
    pub async fn retrieve_subscription(&self, _i: &str) -> Result<SubscriptionState> { Err(no()) }
    pub async fn change_subscription_price(&self, _i: &str, _p: &str) -> Result<SubscriptionState> { Err(no()) }
    pub async fn set_cancel_at_period_end(&self, _i: &str, _c: bool) -> Result<SubscriptionState> { Err(no()) }
    pub async fn cancel_subscription(&self, _i: &str) -> Result<SubscriptionState> { Err(no()) }
    pub async fn create_invoice_item(&self, _r: &InvoiceItemRequest) -> Result<String> { Err(no()) }
}
