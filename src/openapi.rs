//! Schemas of the REST API's values that no derive can describe: money as an
//! exact decimal string, the closed sets the API sends as plain text, and the
//! types that serialize themselves. The server's OpenAPI document
//! (`GET /api/openapi.json`) refers to them by name.
//!
//! Server side only (`ssr`); nothing here changes what is sent.

use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// An exact amount of USD as a decimal string: an optional minus sign,
/// digits, and at most nine decimals (nano-USD). Never a JSON number: no
/// float ever holds money.
pub const USD_PATTERN: &str = r"^-?[0-9]+(\.[0-9]{1,9})?$";

/// A decimal figure that is not money (a percentage, a rate) as a string.
pub const DECIMAL_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?%?$";

/// USD as an exact decimal string (see [`USD_PATTERN`]).
#[derive(serde::Serialize)]
pub struct Usd;

impl PartialSchema for Usd {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(USD_PATTERN))
            .description(Some("Exact USD as a decimal string (at most 9 decimals); never a JSON number."))
            .examples([json!("0.001250000")])
            .into()
    }
}

impl ToSchema for Usd {}

/// A decimal figure (percentage, rate) as a string.
#[derive(serde::Serialize)]
pub struct Decimal;

impl PartialSchema for Decimal {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(DECIMAL_PATTERN))
            .description(Some("A decimal figure as a string (a percentage or a rate)."))
            .examples([json!("82.50")])
            .into()
    }
}

impl ToSchema for Decimal {}

/// An amount of a limit's metric: whole units as a number, or USD as an
/// exact decimal string when the metric is `cost_usd`.
#[derive(serde::Serialize)]
pub struct Amount;

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64))))
            .item(Usd::schema())
            .description(Some("Whole units of the metric, or exact USD as a decimal string for cost_usd."))
            .into()
    }
}

impl ToSchema for Amount {}

/// A closed set of strings, for the API's values held as text in the core.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident: [$($v:literal),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(serde::Serialize)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new().schema_type(Type::String).enum_values(Some([$($v),+])).into()
            }
        }

        impl ToSchema for $name {}
    };
}

text_enum!(
    /// A reservation's state.
    ReservationState: ["active", "committed", "released", "expired"]
);
text_enum!(
    /// An event's outcome as the caller reported it.
    EventStatus: ["success", "error", "rate_limited"]
);
text_enum!(
    /// `draft` (the open period's preview) or `final`.
    InvoiceStatus: ["draft", "final"]
);
text_enum!(
    /// What a credit ledger entry is.
    CreditKind: ["purchase", "usage", "adjustment", "expiry"]
);
text_enum!(
    /// A webhook notification's state: `pending` (will retry), `sent` or `failed`.
    DeliveryState: ["pending", "sent", "failed"]
);
text_enum!(
    /// A trial's state.
    TrialStatus: ["active", "converted", "canceled", "expired"]
);
text_enum!(
    /// Who started a trial.
    TrialSource: ["self_serve", "admin", "stripe"]
);
text_enum!(
    /// How the organization would move to a plan.
    PlanChange: ["current", "upgrade", "downgrade"]
);
text_enum!(
    /// What happened to a client-written audit entry.
    AppEventStatus: ["recorded", "duplicate"]
);
text_enum!(
    /// The result of an audited action.
    AuditResult: ["success", "failure", "denied"]
);

/// `true` (every unit charged), `false` (the model has no price) or
/// `"partial"` (some units reported are not priced).
impl PartialSchema for crate::metering::Pricing {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["partial"])))
            .description(Some("true: every unit charged; false: no price (no cost); \"partial\": some units unpriced (named in unpriced_units)."))
            .into()
    }
}

impl ToSchema for crate::metering::Pricing {
    fn name() -> std::borrow::Cow<'static, str> {
        "Pricing".into()
    }
}

/// A key's scopes: a list of `ingest`, `read`, `manage`.
impl PartialSchema for crate::api_keys::Scopes {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(crate::api_keys::Scope::schema()).min_items(Some(1)).unique_items(true).into()
    }
}

impl ToSchema for crate::api_keys::Scopes {}

/// The model patterns a key may call (`*` any run, `?` one character).
impl PartialSchema for crate::api_keys::ModelAllowlist {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String).examples([json!("gpt-4o*")]))
            .min_items(Some(1))
            .into()
    }
}

impl ToSchema for crate::api_keys::ModelAllowlist {}

/// One limit's answer: amounts are whole numbers, or USD strings for cost.
impl PartialSchema for crate::quota::rules::LimitResult {
    fn schema() -> RefOr<Schema> {
        let nullable_amount = || OneOfBuilder::new().item(Amount::schema()).item(ObjectBuilder::new().schema_type(Type::Null));
        ObjectBuilder::new()
            .property("metric", crate::plans::Metric::schema())
            .property("window", crate::plans::Period::schema())
            .property("limit", nullable_amount().description(Some("null: unlimited")))
            .property("hard", ObjectBuilder::new().schema_type(Type::Boolean))
            .property("used", Amount::schema())
            .property("reserved", Amount::schema())
            .property("remaining", nullable_amount())
            .property(
                "reset_at",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("When the window resets (local RFC 3339); null for standing counts.")),
            )
            .property("allowed", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("metric")
            .required("window")
            .required("limit")
            .required("hard")
            .required("used")
            .required("reserved")
            .required("remaining")
            .required("reset_at")
            .required("allowed")
            .into()
    }
}

impl ToSchema for crate::quota::rules::LimitResult {}
