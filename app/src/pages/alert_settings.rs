//! Alert settings (`/o/:org/alerts/settings`): who gets mail, spike and
//! error-rate rules, outgoing webhooks with their delivery log.

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::alerts::{AlertSettings, DeliveryView, EndpointView, ExtraRecipient, RecipientState, WebhookEventType};

use crate::api::alerts::{
    get_alert_settings, list_webhooks, CreateWebhook, DeleteWebhook, EnableWebhook, SetWebhookEventTypes, UpdateAlertSettings,
};
use crate::components::format::readable_time;
use crate::components::layout::{use_org, use_org_id};
use crate::components::{ErrorMessage, Loaded};
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;

/// The form's label for a field the core names in its refusals.
fn field_label(field: &str) -> Option<&'static str> {
    Some(match field {
        "spike_percent" => "Spike threshold",
        "spike_min_usd" => "Spike minimum",
        "error_rate_percent" => "Error rate",
        "error_min_requests" => "Minimum requests",
        "latency_p95_ms" => "p95 latency",
        "extra_recipients" => "Extra addresses",
        "url" => "Endpoint URL",
        "event_types" => "Events",
        _ => return None,
    })
}

/// A core refusal (`spike_percent: must be …`) with the field named as the
/// form labels it (`Spike threshold: must be …`).
pub fn readable_error(message: &str) -> String {
    match message.split_once(": ") {
        Some((field, rest)) => match field_label(field) {
            Some(label) => format!("{label}: {rest}"),
            None => message.to_string(),
        },
        None => message.to_string(),
    }
}

/// An action's error, with field names as the form labels them.
fn form_error<T: 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorMessage message=readable_error(&e.message) /> }),
        _ => None,
    }
}

#[component]
pub fn AlertSettingsPage() -> impl IntoView {
    let org_id = use_org_id();
    let can_manage = use_org().role.can_manage();
    let settings = data(move || org_id.get(), get_alert_settings);
    view! {
        <Title text="Alert settings · Tollbooth" />
        <p><a href=move || format!("/o/{}/alerts", org_id.get())>"← Alerts"</a></p>
        <h1>"Alert settings"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = settings.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        s => view! { <SettingsForm settings=s can_manage /> }.erase(),
                    } />
                }
                .erase()
            })}
        </Suspense>
        {if can_manage {
            view! { <Webhooks /> }.erase()
        } else {
            view! {
                <section class="card">
                    <h2>"Webhooks"</h2>
                    <p class="muted">"Only owners and admins can see and change webhook endpoints."</p>
                </section>
            }.erase()
        }}
    }
}

/// Each extra address with whether it confirmed: a new address is sent a
/// link and gets alert mail only once it is followed.
#[component]
fn RecipientStates(states: Vec<ExtraRecipient>) -> impl IntoView {
    if states.is_empty() {
        return None;
    }
    let rows = states
        .into_iter()
        .map(|r| {
            let class = if r.state == RecipientState::Confirmed { "ok" } else { "muted" };
            view! { <li>{r.email}" — "<span class=class>{r.state.label()}</span></li> }
        })
        .collect_view();
    Some(view! {
        <div data-testid="extra-recipient-states">
            <p class="muted">"New addresses are sent a confirmation link; they get alert mail once they follow it."</p>
            <ul class="recipient-states">{rows}</ul>
        </div>
    })
}

#[component]
fn SettingsForm(settings: AlertSettings, can_manage: bool) -> impl IntoView {
    let org_id = use_org_id();
    let update = ServerAction::<UpdateAlertSettings>::new();
    let s = settings;
    view! {
        <section class="card">
            <ActionForm action=update attr:class="alert-settings" attr:data-testid="alert-settings">
                <input type="hidden" name="org_id" value=org_id.get_untracked() />
                <fieldset disabled=!can_manage>
                    <fieldset class="group">
                        <legend>"E-mail"</legend>
                        <label class="inline">
                            <input type="checkbox" name="email_enabled" checked=s.email_enabled /> "Send alert e-mail"
                        </label>
                        <label class="inline">
                            <input type="checkbox" name="notify_owners" checked=s.notify_owners /> "to the organization's owners"
                        </label>
                        <label class="inline">
                            <input type="checkbox" name="notify_admins" checked=s.notify_admins /> "to its admins"
                        </label>
                        <label>
                            "Extra addresses (comma-separated)"
                            <input name="extra_recipients" value=s.extra_recipients.join(", ") autocomplete="off"
                                placeholder="e.g. oncall@example.com, finance@example.com" />
                        </label>
                        <RecipientStates states=s.extra_recipient_states.clone() />
                    </fieldset>
                    <fieldset class="group">
                        <legend>"Spend spikes"</legend>
                        <label class="inline">
                            <input type="checkbox" name="spike_enabled" checked=s.spike_enabled /> "Alert when spend spikes"
                        </label>
                        <div class="row">
                            <label>
                                "Spike threshold (% of the hourly average of the previous 7 days)"
                                <input name="spike_percent" inputmode="numeric" required value=s.spike_percent.to_string() />
                            </label>
                            <label>
                                "Spike minimum (USD spent in the last hour)"
                                <input name="spike_min_usd" inputmode="decimal" required value=s.spike_min_usd.clone() />
                            </label>
                        </div>
                    </fieldset>
                    <fieldset class="group">
                        <legend>"Errors and latency (over 15 minutes)"</legend>
                        <div class="row">
                            <label>
                                "Error rate (% of requests failed)"
                                <input name="error_rate_percent" inputmode="numeric" required value=s.error_rate_percent.to_string() />
                            </label>
                            <label>
                                "Minimum requests"
                                <input name="error_min_requests" inputmode="numeric" required value=s.error_min_requests.to_string() />
                            </label>
                            <label>
                                "p95 latency (ms)"
                                <input name="latency_p95_ms" inputmode="numeric" placeholder="empty: off"
                                    value=s.latency_p95_ms.map(|v| v.to_string()).unwrap_or_default() />
                            </label>
                        </div>
                    </fieldset>
                    <div><button type="submit">"Save alert settings"</button></div>
                </fieldset>
            </ActionForm>
            {(!can_manage).then(|| view! { <p class="muted">"Only owners and admins can change alert settings."</p> })}
            {form_error(update.value())}
            {move || update.value().get().and_then(Result::ok).map(|_| view! {
                <p class="ok" role="status">"Alert settings saved."</p>
            })}
        </section>
    }
}

#[component]
fn Webhooks() -> impl IntoView {
    let org_id = use_org_id();
    let create = ServerAction::<CreateWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let enable = ServerAction::<EnableWebhook>::new();
    let subscribe = ServerAction::<SetWebhookEventTypes>::new();
    let hooks = data(
        move || (org_id.get(), create.version().get(), delete.version().get(), enable.version().get(), subscribe.version().get()),
        |(org, ..)| list_webhooks(org),
    );
    let org = move || org_id.get_untracked();
    view! {
        <section class="card">
            <h2>"Webhooks"</h2>
            <p class="muted">
                "Each event an endpoint subscribes to is POSTed to it as JSON, signed in the header "
                <code>"Tollbooth-Signature: t=<unix seconds>,v1=<hex>"</code>
                " (HMAC-SHA256 of " <code>"t.body"</code> " under the endpoint's secret), with its delivery id in "
                <code>"Tollbooth-Delivery"</code> " and the body's " <code>"id"</code> ". Usage events come in batches of at most \
                1,000, a few seconds apart. Failed deliveries are retried with backoff (same delivery id); an endpoint that \
                keeps failing is disabled."
            </p>
            <ActionForm action=create attr:class="row">
                <input type="hidden" name="org_id" value=org() />
                <label class="grow">
                    "Endpoint URL"
                    <input name="url" type="url" required maxlength="2000" placeholder="https://example.com/hooks/tollbooth" />
                </label>
                <EventTypeBoxes checked=vec![WebhookEventType::AlertCreated] />
                <button type="submit">"Add endpoint"</button>
            </ActionForm>
            {form_error(create.value())}
            {move || create.value().get().and_then(Result::ok).map(|c| view! {
                <div class="secret" role="status">
                    <p>
                        <strong>"Copy this signing secret now. It will not be shown again."</strong>
                        " Endpoint: " <code>{c.endpoint.url}</code>
                    </p>
                    <code class="key" data-testid="webhook-secret">{c.secret}</code>
                </div>
            })}
            {form_error(delete.value())}
            {form_error(enable.value())}
            {form_error(subscribe.value())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let result = hooks.await;
                    view! {
                        <Loaded result ok=move |value| match value {
                            w => view! {
                                {w.endpoints.iter().filter(|e| !e.enabled).cloned().map(|e| view! {
                                    <DisabledNotice endpoint=e org_id=org() enable />
                                }).collect_view()}
                                <EndpointTable endpoints=w.endpoints org_id=org() delete enable subscribe />
                                <h2>"Delivery log"</h2>
                                <DeliveryLog deliveries=w.deliveries />
                            }.erase(),
                        } />
                    }
                    .erase()
                })}
            </Transition>
        </section>
    }
}

/// A disabled endpoint, said loudly, with the way to turn it back on.
#[component]
fn DisabledNotice(endpoint: EndpointView, org_id: String, enable: ServerAction<EnableWebhook>) -> impl IntoView {
    let e = endpoint;
    view! {
        <div class="notice danger" role="alert" data-testid="webhook-disabled">
            <p>
                <strong>"Webhook disabled: "</strong> <code>{e.url.clone()}</code> <br />
                {e.disabled_reason.clone().unwrap_or_else(|| "It failed too many times in a row.".into())}
            </p>
            <ActionForm action=enable>
                <input type="hidden" name="org_id" value=org_id />
                <input type="hidden" name="endpoint_id" value=e.id.clone() />
                <button type="submit" class="small">"Re-enable"</button>
            </ActionForm>
        </div>
    }
}

/// One checkbox per event type, named as the server functions read them
/// (`event_types[i]`; the unticked ones are not sent).
#[component]
fn EventTypeBoxes(checked: Vec<WebhookEventType>) -> impl IntoView {
    view! {
        <fieldset class="event-types" data-testid="event-types">
            <legend>"Events"</legend>
            {WebhookEventType::ALL.into_iter().enumerate().map(|(i, t)| view! {
                <label class="inline">
                    <input type="checkbox" name=format!("event_types[{i}]") value=t.as_str() checked=checked.contains(&t) />
                    {t.label()} " " <code>{t.as_str()}</code>
                </label>
            }).collect_view()}
        </fieldset>
    }
}

#[component]
fn EndpointTable(
    endpoints: Vec<EndpointView>,
    org_id: String,
    delete: ServerAction<DeleteWebhook>,
    enable: ServerAction<EnableWebhook>,
    subscribe: ServerAction<SetWebhookEventTypes>,
) -> impl IntoView {
    if endpoints.is_empty() {
        return view! { <p class="empty">"No webhook endpoints yet."</p> }.erase();
    }
    view! {
        <table class="table" data-testid="webhook-endpoints">
            <thead><tr><th>"URL"</th><th>"Events"</th><th>"Status"</th><th class="num">"Failures in a row"</th><th>"Added"</th><th></th></tr></thead>
            <tbody>
                {endpoints.into_iter().map(|e| {
                    let org = org_id.clone();
                    let (org_for_enable, id_for_enable) = (org.clone(), e.id.clone());
                    let (org_for_events, id_for_events, types) = (org.clone(), e.id.clone(), e.event_types.clone());
                    let reenable = (!e.enabled).then(move || view! {
                        <ActionForm action=enable>
                            <input type="hidden" name="org_id" value=org_for_enable />
                            <input type="hidden" name="endpoint_id" value=id_for_enable />
                            <button type="submit" class="small">"Re-enable"</button>
                        </ActionForm>
                    });
                    view! {
                        <tr>
                            <td class="url"><code>{e.url.clone()}</code></td>
                            <td>
                                <ActionForm action=subscribe attr:data-testid="endpoint-events">
                                    <input type="hidden" name="org_id" value=org_for_events />
                                    <input type="hidden" name="endpoint_id" value=id_for_events />
                                    <EventTypeBoxes checked=types />
                                    <button type="submit" class="small">"Save events"</button>
                                </ActionForm>
                            </td>
                            <td>
                                {if e.enabled {
                                    view! { <span class="badge ok">"active"</span> }.erase()
                                } else {
                                    view! { <span class="badge danger">"disabled"</span> }.erase()
                                }}
                            </td>
                            <td class="num">{e.consecutive_failures}</td>
                            <td class="nowrap">{readable_time(&e.created_at)}</td>
                            <td>
                                <div class="actions">
                                    {reenable}
                                    <ActionForm action=delete>
                                        <input type="hidden" name="org_id" value=org.clone() />
                                        <input type="hidden" name="endpoint_id" value=e.id.clone() />
                                        <button type="submit" class="danger small">"Delete"</button>
                                    </ActionForm>
                                </div>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .erase()
}

/// The delivery's outcome: the HTTP status, or the error when there was none.
pub fn delivery_result(d: &DeliveryView) -> String {
    match (d.status_code, d.error.as_deref()) {
        (Some(code), None) => format!("HTTP {code}"),
        (Some(code), Some(err)) => format!("HTTP {code}: {err}"),
        (None, Some(err)) => err.to_string(),
        (None, None) => "no response".to_string(),
    }
}

#[component]
fn DeliveryLog(deliveries: Vec<DeliveryView>) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="empty">"No deliveries yet. Each event sent to an endpoint is logged here."</p> }.erase();
    }
    view! {
        <div class="table-scroll">
            <table class="table deliveries" data-testid="webhook-deliveries">
                <thead><tr>
                    <th>"Time"</th><th>"Endpoint"</th><th>"Subject"</th><th class="num">"Attempt"</th>
                    <th>"Result"</th><th class="num">"Duration"</th><th>"State"</th>
                </tr></thead>
                <tbody>
                    {deliveries.into_iter().map(|d| {
                        let failed = !(d.error.is_none() && d.status_code.is_some_and(|c| (200..300).contains(&c)));
                        view! {
                            <tr>
                                <td class="nowrap">{readable_time(&d.at)}</td>
                                <td class="url"><code>{d.url.clone()}</code></td>
                                <td>{d.subject.clone()}</td>
                                <td class="num">{d.attempt}</td>
                                <td class=if failed { "result failed" } else { "result" }>{delivery_result(&d)}</td>
                                <td class="num">{format!("{} ms", d.duration_ms)}</td>
                                <td><span class=format!("badge state {}", d.state)>{d.state.clone()}</span></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_fields_as_the_form_does() {
        assert_eq!(
            readable_error("spike_percent: must be between 101 and 100000 (percent of the hourly average)"),
            "Spike threshold: must be between 101 and 100000 (percent of the hourly average)"
        );
        assert_eq!(readable_error("url: \"ftp://x\" is not an http:// or https:// URL"), "Endpoint URL: \"ftp://x\" is not an http:// or https:// URL");
        assert_eq!(readable_error("webhook endpoint not found"), "webhook endpoint not found");
        assert_eq!(readable_error("limit: too big"), "limit: too big");
    }

    #[test]
    fn a_delivery_reads_as_its_status_or_error() {
        let d = DeliveryView {
            id: "d".into(),
            endpoint_id: "e".into(),
            url: "https://x".into(),
            notification_id: "n".into(),
            subject: "s".into(),
            attempt: 1,
            status_code: Some(204),
            error: None,
            duration_ms: 12,
            at: "2026-11-23T10:00:00Z".into(),
            state: "sent".into(),
        };
        assert_eq!(delivery_result(&d), "HTTP 204");
        assert_eq!(delivery_result(&DeliveryView { status_code: None, error: Some("connection refused".into()), ..d }), "connection refused");
    }
}
