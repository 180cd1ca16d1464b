//! Schemas of the bodies the edge builds itself (JSON assembled in a
//! handler, request bodies read field by field, the gateway's provider
//! formats). They describe; the handlers are what send and read. Types the
//! core sends carry their own `ToSchema` derive.

#![allow(dead_code)]

use serde::Serialize;
use tollbooth::openapi::{Amount, Usd};
use utoipa::{IntoParams, ToSchema};

/// The REST API's error body: `error` names what went wrong (and the field,
/// for bad input); a limit refusal adds its details beside it (`metric`,
/// `limit`, `used`, `upgrade_url`, `budget`, `resets_at`, …).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid", "field": "amount_usd", "message": "amount_usd: must be a decimal amount of USD"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A sentence for a person; never SQL or a stack trace.
    pub message: String,
    /// The request field that is wrong, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Every error code the REST API sends.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Invalid,
    InvalidJson,
    PayloadTooLarge,
    NotFound,
    Conflict,
    Unauthorized,
    Forbidden,
    Suspended,
    Throttled,
    Unavailable,
    LimitExceeded,
    LimitReached,
    BadSignature,
    WebhooksNotConfigured,
    Internal,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(value_type = String, pattern = "^ok$")]
    pub status: &'static str,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub database: DatabaseEngine,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    Unavailable,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseEngine {
    Sqlite,
    Postgres,
}

/// One usage event as sent to `POST /api/v1/events` (or a reservation's
/// commit). Unknown fields are refused naming them.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "call-7f3a", "model": "gpt-4o-mini", "provider": "openai", "input_tokens": 1200, "output_tokens": 300, "user_id": "customer-42"}))]
pub struct UsageEvent {
    /// Your idempotency key (≤ 128 characters); generated if absent.
    pub id: Option<String>,
    /// RFC 3339; default now, at most 5 minutes ahead.
    pub timestamp: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub session_id: Option<String>,
    pub feature: Option<String>,
    pub provider: Option<String>,
    /// The model as sent (≤ 200 characters).
    pub model: String,
    pub input_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_creation_tokens: Option<u64>,
    pub cache_creation_1h_tokens: Option<u64>,
    pub audio_input_tokens: Option<u64>,
    pub image_input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub audio_output_tokens: Option<u64>,
    pub image_output_tokens: Option<u64>,
    pub images: Option<u64>,
    pub size: Option<String>,
    pub quality: Option<String>,
    pub pixels: Option<u64>,
    /// Audio or video duration, kept to the millisecond.
    #[schema(minimum = 0)]
    pub seconds: Option<f64>,
    pub resolution: Option<String>,
    pub characters: Option<u64>,
    pub queries: Option<u64>,
    pub pages: Option<u64>,
    #[schema(value_type = Option<tollbooth::pricing::ServiceTier>)]
    pub service_tier: Option<String>,
    /// Calls (default 1).
    pub requests: Option<u64>,
    pub latency_ms: Option<u64>,
    #[schema(value_type = Option<tollbooth::openapi::EventStatus>)]
    pub status: Option<String>,
    pub error: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Kept as sent (≤ 4 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// A batch: `{"events": [...]}` with 1 to 1,000 events.
#[derive(Serialize, ToSchema)]
pub struct EventBatch {
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<UsageEvent>,
}

/// The body of `POST /api/v1/events` and of a reservation's commit: one
/// event, or a batch.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventsBody {
    One(UsageEvent),
    Batch(EventBatch),
}

/// One organization in the platform admin's list.
#[derive(Serialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// Plan code.
    pub plan: String,
    pub status: TenantStatus,
    pub suspended_reason: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// Cost of the current UTC month.
    #[schema(value_type = Usd)]
    pub month_cost_usd: String,
    pub members: i64,
    /// The end of its active trial (RFC 3339 UTC); `null` when not trialing.
    pub trial_ends_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

/// `GET /api/admin/tenants`.
#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
}

/// `GET /api/admin/usage`: cost as exact USD strings, tokens as integers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUsage {
    pub tenant_id: Option<String>,
    pub metric: AdminUsageMetric,
    pub period: AdminUsagePeriod,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    pub end_date: String,
    pub total: Amount,
    pub series: Vec<AdminUsagePoint>,
    /// The 10 largest consumers, only without `tenantId`.
    #[serde(rename = "top_consumers", skip_serializing_if = "Option::is_none")]
    pub top_consumers: Option<Vec<AdminConsumer>>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUsagePoint {
    /// The bucket's first day, `YYYY-MM-DD` (UTC; weeks from Monday).
    pub date: String,
    pub value: Amount,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminConsumer {
    pub tenant_id: String,
    pub name: String,
    pub value: Amount,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminUsageMetric {
    Tokens,
    Cost,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminUsagePeriod {
    Daily,
    Weekly,
    Monthly,
}

/// A limit's value: cost in USD as a decimal string, other metrics whole.
#[derive(Serialize, ToSchema)]
pub struct LimitValue {
    pub limit: Amount,
    pub hard: bool,
    #[schema(value_type = Option<Usd>)]
    pub overage_usd: Option<String>,
}

/// One limit of a tenant: the plan's, the override (absent: none; `null`:
/// overridden to unlimited) and the one in force (`null`: unlimited).
#[derive(Serialize, ToSchema)]
pub struct TenantLimit {
    pub metric: tollbooth::plans::Metric,
    pub period: tollbooth::plans::Period,
    pub plan: Option<LimitValue>,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<Option<LimitValue>>,
    pub effective: Option<LimitValue>,
}

/// `GET/PUT/DELETE /api/admin/tenants/{id}/limits`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"tenant_id": "0190a0a0-0000-7000-8000-000000000001", "plan": "pro", "plan_name": "Pro", "limits": [{"metric": "cost_usd", "period": "month", "plan": {"limit": "100.000000000", "hard": true, "overage_usd": null}, "effective": {"limit": "250.000000000", "hard": true, "overage_usd": null}, "override": {"limit": "250.000000000", "hard": true, "overage_usd": null}}]}))]
pub struct TenantLimits {
    pub tenant_id: String,
    pub plan: String,
    pub plan_name: String,
    pub limits: Vec<TenantLimit>,
}

/// `PUT /api/admin/tenants/{id}/limits`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"metric": "cost_usd", "period": "month", "limit": "250", "hard": true}))]
pub struct SetLimit {
    pub metric: tollbooth::plans::Metric,
    pub period: tollbooth::plans::Period,
    /// Required: a number, a decimal string (USD for cost_usd), or `null` for unlimited.
    #[schema(value_type = Option<Amount>, required)]
    pub limit: Option<String>,
    /// Default `true`.
    pub hard: Option<bool>,
    #[schema(value_type = Option<Usd>)]
    pub overage_usd: Option<String>,
}

/// Whole days: a number or its text.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Days {
    Number(i64),
    Text(String),
}

/// `POST /api/admin/tenants/{id}/trial`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"plan": "pro", "days": 14}))]
pub struct StartTrial {
    /// A paid plan's code.
    pub plan: String,
    pub days: Days,
}

/// `POST /api/admin/tenants/{id}/trial/extend`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"days": 7, "reason": "evaluation needs another week"}))]
pub struct ExtendTrial {
    pub days: Days,
    /// Required.
    pub reason: String,
}

/// A tenant's trial (`null`: none).
#[derive(Serialize, ToSchema)]
pub struct TrialAnswer {
    #[schema(value_type = Option<tollbooth::trials::TrialView>)]
    pub trial: Option<()>,
}

/// The trial as `GET /api/v1/plan` shows it.
#[derive(Serialize, ToSchema)]
pub struct PlanTrial {
    pub plan: String,
    pub plan_name: String,
    pub started_at: Option<String>,
    pub ends_at: String,
    pub days_left: i64,
    #[schema(value_type = tollbooth::openapi::TrialSource)]
    pub source: String,
}

/// `GET /api/v1/plan`.
#[derive(Serialize, ToSchema)]
pub struct PlanAnswer {
    pub plan_code: String,
    pub plan_name: String,
    pub is_demo: bool,
    pub lines: Vec<tollbooth::quota::StatusLine>,
    /// While a trial runs, else `null`.
    pub trial: Option<PlanTrial>,
}

/// `POST /api/v1/audit-events`: one entry, or `{events: [...]}` (≤ 100).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuditEventsBody {
    #[schema(value_type = tollbooth::audit::app::AppEventInput)]
    One(()),
    Batch(AuditEventBatch),
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventBatch {
    #[schema(value_type = Vec<tollbooth::audit::app::AppEventInput>, min_items = 1, max_items = 100)]
    pub events: Vec<()>,
}

/// The answer of `POST /api/v1/audit-events`.
#[derive(Serialize, ToSchema)]
pub struct AuditEventsWritten {
    pub recorded: u64,
    pub duplicates: u64,
    #[schema(value_type = Vec<tollbooth::audit::app::AppEventResult>)]
    pub results: Vec<()>,
}

/// `POST /api/webhooks/stripe`'s answer.
#[derive(Serialize, ToSchema)]
pub struct StripeReceived {
    pub received: bool,
    /// What applying the event did (`applied`, `ignored`, `duplicate`, `failed`, …).
    pub outcome: String,
    pub detail: Option<String>,
}

/// A quota question: amounts per metric (a number, or a decimal string of
/// USD for `cost_usd`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"user_id": "customer-42", "checks": [{"metric": "tokens", "amount": 4000}, {"metric": "cost_usd", "amount": "0.05"}]}))]
pub struct QuotaCheckRequest {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub checks: Vec<CheckItem>,
}

/// `POST /api/v1/reservations`: a quota question plus the hold's lifetime.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"user_id": "customer-42", "checks": [{"metric": "tokens", "amount": 4000}], "ttl_seconds": 120}))]
pub struct ReserveRequest {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub checks: Vec<CheckItem>,
    /// Seconds (default 60).
    #[schema(minimum = 1, maximum = 3600)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckItem {
    pub metric: tollbooth::plans::Metric,
    pub amount: Amount,
}

/// The OpenAI-format error of the gateway's OpenAI routes.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"message": "missing API key: send your Tollbooth key (tb_live_…) as Authorization: Bearer or x-api-key", "type": "invalid_request_error", "param": null, "code": "missing_api_key"}}))]
pub struct OpenAiError {
    pub error: OpenAiErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// The Anthropic-format error of `/v1/messages`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "tokens limit of 1,000,000 per month reached"}}))]
pub struct AnthropicError {
    #[schema(value_type = String, pattern = "^error$")]
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: AnthropicErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct AnthropicErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// A provider request or answer, passed through unchanged (see the
/// provider's own API reference); `model` is required in requests.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}))]
pub struct ProviderBody {
    pub model: String,
}

/// `GET /v1/models` in OpenAI's list shape (Anthropic's with
/// `anthropic-version` or `x-api-key`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "openai"}]}))]
pub struct ModelList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<()>,
}

/// The body of a model allowlist change: `null` or `[]` allows every model.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"models": ["gpt-4o*", "claude-*"]}))]
pub struct ModelAllowlistBody {
    #[schema(required)]
    pub models: Option<Vec<String>>,
}

/// A provider connection to create or replace.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"kind": "openai_compatible", "base_url": "https://api.groq.com/openai/v1", "api_key": "gsk_…"}))]
pub struct ConnectionBody {
    pub kind: tollbooth::providers::ProviderKind,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

/// `POST /api/v1/webhooks`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"url": "https://example.com/hooks/tollbooth", "event_types": ["alert.created", "usage.recorded"]}))]
pub struct NewWebhook {
    pub url: String,
    /// What it receives (each at most once); absent: `["alert.created"]`.
    pub event_types: Option<Vec<tollbooth::alerts::WebhookEventType>>,
}

/// `PATCH /api/v1/webhooks/{id}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"event_types": ["usage.recorded", "invoice.finalized"]}))]
pub struct WebhookChange {
    /// What it receives from now on (at least one).
    pub event_types: Vec<tollbooth::alerts::WebhookEventType>,
}

/// `POST /api/v1/resources/documents`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"delta": 1}))]
pub struct DocumentsDelta {
    pub delta: i64,
}

/// `POST /api/v1/estimate`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "gpt-4o-mini", "input_tokens": 1200, "max_output_tokens": 500}))]
pub struct EstimateRequest {
    pub model: String,
    pub input_tokens: u64,
    pub max_output_tokens: Option<u64>,
}

/// `GET /api/v1/usage` group dimensions and grains.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Hour,
    Day,
    Week,
    Month,
    Model,
    Provider,
    User,
    Project,
    Feature,
    Session,
}

/// Query of `GET /api/admin/tenants`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantsParams {
    /// Part of a name or an id.
    pub search: Option<String>,
    /// `true`: only organizations with an active trial.
    #[param(value_type = Option<bool>)]
    pub trialing: Option<String>,
}

/// Query of `GET /api/admin/usage`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminUsageParams {
    #[param(rename = "tenantId")]
    pub tenant_id: Option<String>,
    /// Default `cost`.
    #[param(inline)]
    pub metric: Option<AdminUsageMetric>,
    /// Default `daily`.
    #[param(inline)]
    pub period: Option<AdminUsagePeriod>,
    /// `YYYY-MM-DD` (default 30 days ago).
    #[param(rename = "startDate", value_type = Option<String>, format = Date)]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, included (default today).
    #[param(rename = "endDate", value_type = Option<String>, format = Date)]
    pub end_date: Option<String>,
}

/// Query of `DELETE /api/admin/tenants/{id}/limits`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClearLimitParams {
    #[param(inline)]
    pub metric: tollbooth::plans::Metric,
    #[param(inline)]
    pub period: tollbooth::plans::Period,
}

/// Query of `GET /api/v1/usage`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// RFC 3339 (default `to` − 30 days).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 (default now).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// One or two of the dimensions, comma-separated, at most one time grain (default `day`).
    #[param(pattern = "^(hour|day|week|month|model|provider|user|project|feature|session)(,(hour|day|week|month|model|provider|user|project|feature|session))?$", example = "day,model")]
    pub group_by: Option<String>,
    pub model: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
    /// Rows grouped only by dimensions (default 1,000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// RFC 3339 (default `to` − 30 days).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 (default now).
    #[param(format = DateTime)]
    pub to: Option<String>,
    pub model: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub feature: Option<String>,
    pub session_id: Option<String>,
    #[param(value_type = Option<tollbooth::openapi::EventStatus>)]
    pub status: Option<String>,
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Query of `GET /api/v1/usage/export`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Default `csv`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// RFC 3339.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Query of `GET /api/v1/alerts`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// `true`: only alerts nobody acknowledged.
    pub unacknowledged: Option<bool>,
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/webhooks/deliveries`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesParams {
    /// Default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Query of `GET /api/v1/audit-events`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailParams {
    /// Actor label or id (substring).
    pub actor: Option<String>,
    /// An action, or a prefix ending in `.`.
    pub action: Option<String>,
    #[param(value_type = Option<tollbooth::openapi::AuditResult>)]
    pub result: Option<String>,
    /// `YYYY-MM-DD` in the organization's zone.
    #[param(format = Date)]
    pub from: Option<String>,
    /// `YYYY-MM-DD` in the organization's zone.
    #[param(format = Date)]
    pub to: Option<String>,
    /// `next_before` of the previous page.
    pub before: Option<i64>,
    /// 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}
