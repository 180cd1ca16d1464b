//! Alerts (`/o/:org/alerts`): newest first, acknowledge one or all, show
//! only the unacknowledged (`?show=unacknowledged`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tollbooth::alerts::AlertView;

use crate::api::alerts::{list_alerts, AcknowledgeAlert, AcknowledgeAllAlerts};
use crate::components::format::readable_time;
use crate::components::layout::{use_org_id, AlertsChanged};
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;

/// Who or what an alert is about, as a person reads it.
pub fn scope_text(scope: &str, scope_id: Option<&str>) -> String {
    let name = match scope {
        "organization" => "Organization",
        "project" => "Project",
        "user" => "User",
        "api_key" => "API key",
        other => other,
    };
    match scope_id {
        Some(id) => format!("{name} {id}"),
        None => name.to_string(),
    }
}

/// The period an alert is about, `start → end` in the organization's zone.
pub fn period_text(start: Option<&str>, end: Option<&str>) -> Option<String> {
    match (start, end) {
        (Some(s), Some(e)) => Some(format!("{} \u{2192} {}", readable_time(s), readable_time(e))),
        (Some(s), None) => Some(format!("from {}", readable_time(s))),
        (None, Some(e)) => Some(format!("until {}", readable_time(e))),
        (None, None) => None,
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let org_id = use_org_id();
    let query = use_query_map();
    let only_open = Memo::new(move |_| query.read().get("show").as_deref() == Some("unacknowledged"));
    let ack = ServerAction::<AcknowledgeAlert>::new();
    let ack_all = ServerAction::<AcknowledgeAllAlerts>::new();
    let alerts = data(
        move || (org_id.get(), only_open.get(), ack.version().get(), ack_all.version().get()),
        |(org, open, ..)| list_alerts(org, open),
    );
    // The bell in the shell counts unread alerts: refresh it after each acknowledgement.
    let changed = expect_context::<AlertsChanged>();
    Effect::watch(move || (ack.version().get(), ack_all.version().get()), move |_, _, _| changed.bump(), false);

    let base = move || format!("/o/{}/alerts", org_id.get());
    view! {
        <Title text="Alerts · Tollbooth" />
        <div class="title-row">
            <h1>"Alerts"</h1>
            <a href=move || format!("{}/settings", base()) class="button-link">"Alert settings"</a>
        </div>
        <p class="muted">
            "Budget thresholds, spend spikes, error rates and latency. Alerts are also e-mailed and sent \
            to your webhooks as the alert settings say."
        </p>
        <div class="range-bar">
            <nav class="range-picker" aria-label="Which alerts">
                <a href=base aria-current=move || (!only_open.get()).then_some("page")>"All"</a>
                <a href=move || format!("{}?show=unacknowledged", base()) aria-current=move || only_open.get().then_some("page")>
                    "Unacknowledged only"
                </a>
            </nav>
            <ActionForm action=ack_all>
                <input type="hidden" name="org_id" value=move || org_id.get() />
                <button type="submit" class="small">"Acknowledge all"</button>
            </ActionForm>
            {move || ack_all.value().get().and_then(Result::ok).map(|n| view! {
                <span class="ok" role="status">
                    {match n { 0 => "Nothing was open.".to_string(), 1 => "1 alert acknowledged.".to_string(), n => format!("{n} alerts acknowledged.") }}
                </span>
            })}
        </div>
        {action_error(ack.value())}
        {action_error(ack_all.value())}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let open = only_open.get_untracked();
                let result = alerts.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        list if list.is_empty() => {
                            let text = if open {
                                "No unacknowledged alerts."
                            } else {
                                "No alerts yet. They appear here when a budget reaches one of its thresholds, when spend \
                                 spikes, or when the error rate or latency passes the limits in the alert settings."
                            };
                            view! { <p class="empty" data-testid="alerts-empty">{text}</p> }.erase()
                        }
                        list => view! {
                            <ul class="alerts" data-testid="alerts">
                                {list.into_iter().map(|a| view! { <AlertItem alert=a org_id=org_id.get_untracked() ack /> }).collect_view()}
                            </ul>
                        }.erase(),
                    } />
                }
                .erase()
            })}
        </Transition>
    }
}

#[component]
fn AlertItem(alert: AlertView, org_id: String, ack: ServerAction<AcknowledgeAlert>) -> impl IntoView {
    let a = alert;
    let open = a.acknowledged_at.is_none();
    let period = period_text(a.period_start.as_deref(), a.period_end.as_deref());
    let scope = scope_text(&a.scope, a.scope_id.as_deref());
    view! {
        <li class=if open { "alert-item open" } else { "alert-item" } data-testid="alert" data-kind=a.kind.as_str()>
            <div class="alert-head">
                <span class=format!("badge kind {}", a.kind.as_str())>{a.kind.label()}</span>
                <time datetime=a.created_at.clone()>{readable_time(&a.created_at)}</time>
            </div>
            <p class="alert-message">{a.message.clone()}</p>
            <dl class="alert-facts">
                <div><dt>"Observed"</dt><dd>{a.observed.clone()}</dd></div>
                <div><dt>"Threshold"</dt><dd>{a.threshold.clone()}</dd></div>
                <div><dt>"Scope"</dt><dd>{scope}</dd></div>
                {period.map(|p| view! { <div><dt>"Period"</dt><dd>{p}</dd></div> })}
            </dl>
            <div class="alert-ack">
                {match (a.acknowledged_by.clone(), a.acknowledged_at.clone()) {
                    (by, Some(at)) => view! {
                        <span class="muted">
                            "Acknowledged by " {by.unwrap_or_else(|| "someone".into())} " at " {readable_time(&at)}
                        </span>
                    }.erase(),
                    (_, None) => view! {
                        <ActionForm action=ack>
                            <input type="hidden" name="org_id" value=org_id />
                            <input type="hidden" name="alert_id" value=a.id.clone() />
                            <button type="submit" class="small">"Acknowledge"</button>
                        </ActionForm>
                    }.erase(),
                }}
            </div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_periods_read_as_words() {
        assert_eq!(scope_text("organization", None), "Organization");
        assert_eq!(scope_text("api_key", Some("k1")), "API key k1");
        assert_eq!(
            period_text(Some("2026-11-01T00:00:00+01:00"), Some("2026-12-01T00:00:00+01:00")).as_deref(),
            Some("2026-11-01 00:00 +01:00 \u{2192} 2026-12-01 00:00 +01:00")
        );
        assert_eq!(period_text(None, None), None);
    }
}
