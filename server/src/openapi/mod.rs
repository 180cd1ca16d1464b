//! The API contract: an OpenAPI 3.1 document generated from the handlers'
//! `#[utoipa::path]` annotations and the types' `ToSchema` derives, served
//! at `GET /api/openapi.json`, and the interactive docs at `GET /api/docs`
//! (Swagger UI from npm, served from the site's `vendor/` folder like
//! ECharts: no CDN, works offline).
//!
//! Errors every operation of a family may answer (bad input, a missing or
//! refused credential, a rate limit) are added here once, by
//! [`CommonErrors`], rather than repeated on each handler.

pub mod schemas;

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::gateway;

/// The document's description: how to authenticate and what errors look like.
const DESCRIPTION: &str = "Tollbooth meters AI usage, enforces plan limits and budgets, and bills.\n\n\
**Authentication.** `/api/v1` takes an organization API key (`Authorization: Bearer tb_live_…`) \
with the scope each operation names (`ingest`, `read`, `manage`); `/api/admin` takes a platform \
admin token (`Authorization: Bearer tb_admin_…`). The gateway's `/v1` routes take the same API key \
as `Authorization: Bearer` (OpenAI SDKs) or `x-api-key` (Anthropic SDKs).\n\n\
**Errors.** Every `/api` error is `{\"error\": {\"code\", \"message\", \"field\"?}}` (`ErrorBody`); \
bad input is a 4xx naming the field. Limit refusals add their details beside `error` and send \
`Retry-After`. The gateway answers in the provider's own error format.\n\n\
**Money** is always an exact decimal string of USD (`Usd`), never a JSON number.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollbooth API", description = DESCRIPTION, license(name = "MIT", identifier = "MIT")),
    paths(
        crate::health::healthz,
        crate::health::readyz,
        crate::metrics::scrape,
        spec,
        docs,
        api::me,
        api::events::ingest,
        api::export::list,
        api::export::export,
        api::usage::report,
        api::quota::check,
        api::quota::reserve,
        api::quota::get,
        api::quota::release,
        api::quota::commit,
        api::quota::documents,
        api::quota::plan,
        api::quota::estimate,
        api::budgets::list,
        api::budgets::create,
        api::budgets::update,
        api::budgets::delete,
        api::budgets::status,
        api::alerts::list,
        api::alerts::ack,
        api::alerts::get_settings,
        api::alerts::put_settings,
        api::alerts::list_webhooks,
        api::alerts::create_webhook,
        api::alerts::deliveries,
        api::alerts::delete_webhook,
        api::alerts::update_webhook,
        api::alerts::enable_webhook,
        api::billing::overview,
        api::billing::list_invoices,
        api::billing::get_invoice,
        api::billing::invoice_csv,
        api::billing::credits,
        api::keys::put_model_allowlist,
        api::providers::list,
        api::providers::put,
        api::providers::delete,
        api::audit::trail,
        api::audit::write,
        api::recommendations::list,
        api::recommendations::dismiss,
        api::embed::create_token,
        api::embed::get_origins,
        api::embed::put_origins,
        api::embed::meter_page,
        api::users::list,
        api::users::get_limits,
        api::users::put_limits,
        api::users::delete_limits,
        api::users::get_settings,
        api::users::put_settings,
        api::admin::tenants,
        api::admin::usage,
        api::admin::limits,
        api::admin::set_limit,
        api::admin::clear_limit,
        api::admin::trial,
        api::admin::start_trial,
        api::admin::extend_trial,
        api::admin::cancel_trial,
        api::admin::trial_stats,
        gateway::chat_completions,
        gateway::responses,
        gateway::embeddings,
        gateway::messages,
        gateway::models::count_tokens,
        gateway::models::list,
        api::billing::stripe_webhook,
    ),
    components(schemas(schemas::ErrorBody, schemas::OpenAiError, schemas::AnthropicError, tollbooth::openapi::Usd)),
    modifiers(&Security, &CommonErrors),
    tags(
        (name = "operations", description = "Probes, metrics and this document"),
        (name = "usage", description = "Recording and reading usage events"),
        (name = "enforcement", description = "Quota checks, reservations, standing counts, the plan, estimates"),
        (name = "budgets"),
        (name = "alerts", description = "Alerts and alert settings"),
        (name = "webhooks", description = "Outgoing webhook endpoints and their deliveries"),
        (name = "billing"),
        (name = "keys", description = "API keys' model allowlists"),
        (name = "providers", description = "The organization's upstream provider connections"),
        (name = "audit", description = "The organization's audit trail"),
        (name = "recommendations"),
        (name = "embed", description = "The embeddable usage meter: tokens, allowed origins, the page"),
        (name = "users", description = "End users (the `user_id` of events): their usage and per-user limits"),
        (name = "admin", description = "Platform admin API"),
        (name = "gateway", description = "OpenAI- and Anthropic-compatible gateway: bodies pass through to the provider"),
        (name = "stripe", description = "Stripe's webhook"),
    )
)]
pub struct ApiDoc;

/// The security schemes: an organization's API key (bearer, or `x-api-key`
/// on the Anthropic routes), a platform admin's token, the metrics token.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, what: &str| {
            let mut h = Http::new(HttpAuthScheme::Bearer);
            h.bearer_format = Some(format.to_string());
            h.description = Some(what.to_string());
            SecurityScheme::Http(h)
        };
        components.add_security_scheme("api_key", bearer("tb_live_…", "An organization API key."));
        components.add_security_scheme(
            "x_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description("x-api-key", "The same API key, as Anthropic's SDKs send it."))),
        );
        components.add_security_scheme("admin_token", bearer("tb_admin_…", "A platform admin's API token (`tollbooth create-admin-token`)."));
        components.add_security_scheme("metrics_token", bearer("TOLLBOOTH_METRICS_TOKEN", "The operator's metrics token."));
    }
}

/// Adds the errors every operation of a family may answer, where the
/// handler's annotation does not list the status itself.
struct CommonErrors;

impl CommonErrors {
    const API: &'static [(&'static str, &'static str)] = &[
        ("400", "Bad input: a malformed body or query (names the field)"),
        ("401", "Missing, malformed, unknown or revoked credential"),
        ("403", "The key lacks the operation's scope, or the organization is suspended"),
        ("404", "No such thing in this organization"),
        ("413", "Body over the limit"),
        ("415", "Body not sent as application/json"),
        ("422", "A field's value is refused (named in `error.field`)"),
        ("429", "A per-minute request limit; `Retry-After` says when to retry"),
    ];
    const GATEWAY: &'static [(&'static str, &'static str)] = &[
        ("400", "Bad input, no upstream for the model, or a model without a price refused"),
        ("401", "Missing or refused API key"),
        ("403", "The key lacks the ingest scope, the model is not allowed for it, or a standing limit"),
        ("413", "Body over 32 MiB"),
        ("429", "A limit or budget refused the call; `Retry-After`"),
        ("502", "The upstream is unreachable"),
        ("504", "The upstream did not answer in time"),
    ];
}

fn error_response(what: &str, schema: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(what)
        .content("application/json", Content::new(Some(Ref::from_schema_name(schema))))
        .build()
        .into()
}

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1") || path.starts_with("/api/admin");
            let gateway = path.starts_with("/v1/");
            let ops: [&mut Option<Operation>; 5] = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let (list, schema) = if api {
                    (Self::API, "ErrorBody")
                } else if gateway {
                    (Self::GATEWAY, "GatewayError")
                } else {
                    continue;
                };
                let responses = &mut op.responses.responses;
                for (status, what) in list {
                    if !responses.contains_key(*status) {
                        responses.insert(status.to_string(), error_response(what, schema));
                    }
                }
            }
        }
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: std::sync::OnceLock<Document> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        // A gateway error is in the format of the route's provider.
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            "GatewayError".into(),
            utoipa::openapi::schema::OneOfBuilder::new()
                .item(Ref::from_schema_name("OpenAiError"))
                .item(Ref::from_schema_name("AnthropicError"))
                .description(Some("OpenAI's error format on the OpenAI routes, Anthropic's on /v1/messages."))
                .into(),
        );
        doc
    })
}

/// `GET /api/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object, example = json!({"openapi": "3.1.0", "info": {"title": "Tollbooth API", "version": "0.1.0"}, "paths": {}}))),
)]
pub async fn spec() -> Response {
    let mut resp = Json(document()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /api/docs`: the interactive docs (Swagger UI, served by this server).
#[utoipa::path(
    get,
    path = "/api/docs",
    operation_id = "docs",
    tag = "operations",
    responses((status = 200, description = "An HTML page: the interactive API docs", content_type = "text/html", body = String, example = "<!DOCTYPE html>…")),
)]
pub async fn docs() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// The docs page: Swagger UI's files from `/vendor/swagger-ui/` (copied
/// from npm's `swagger-ui-dist` by scripts/build.sh), started by a script
/// file rather than an inline one (the Content-Security-Policy allows
/// scripts from this site only).
const DOCS_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollbooth API</title>
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>The interactive docs need JavaScript. The document itself is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/vendor/swagger-ui/tollbooth-init.js"></script>
</body>
</html>
"#;
