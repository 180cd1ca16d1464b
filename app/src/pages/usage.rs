//! The organization's home: usage and cost this month, by model, and the
//! latest events. (Charts and the range picker come next; see the README.)

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::usage::{usage_panel, UsageOverview};
use crate::components::layout::{use_org, use_org_id};
use crate::components::{format_time, ErrorMessage};

/// `0.004000000` → `$0.0040`: amounts under a dollar show 4 decimals, others
/// cents; rounded half up for display only (stored amounts stay exact).
pub fn usd(decimal: &str) -> String {
    let Ok(n) = tollbooth::pricing::NanoUsd::parse_usd(decimal) else { return format!("${decimal}") };
    let nanos = n.nanos();
    let places: u32 = if nanos.abs() >= 1_000_000_000 { 2 } else { 4 };
    let unit = 10i64.pow(9 - places);
    let rounded = (nanos.abs() + unit / 2) / unit;
    let scale = 10i64.pow(places);
    let sign = if nanos < 0 { "-" } else { "" };
    format!("{sign}${}.{:0width$}", rounded / scale, rounded % scale, width = places as usize)
}

/// Thousands separators for counts.
pub fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[component]
fn Card(label: &'static str, value: String, #[prop(optional, into)] note: String) -> impl IntoView {
    view! {
        <div class="stat" data-testid=label>
            <span class="label">{label}</span>
            <span class="value">{value}</span>
            <span class="note">{if note.is_empty() { "no limit".to_string() } else { note }}</span>
        </div>
    }
}

fn panel(org_id: String, u: UsageOverview) -> impl IntoView {
    let csv = format!("/o/{org_id}/usage.csv?from={}", u.month_start);
    let rate = format!("{:.2}%", u.error_rate_month.parse::<f64>().unwrap_or(0.0) * 100.0);
    let unpriced = u.unpriced_month;
    let cost_note = if unpriced > 0 { format!("excludes {unpriced} unpriced events") } else { String::new() };
    view! {
        <div class="stats">
            <Card label="Cost this month" value=usd(&u.cost_month_usd) note=cost_note />
            <Card label="Lifetime cost" value=usd(&u.cost_lifetime_usd) />
            <Card label="Tokens in" value=count(u.input_tokens_month) note=format!("{} cached", count(u.cached_input_tokens_month)) />
            <Card label="Tokens out" value=count(u.output_tokens_month) />
            <Card label="Requests" value=count(u.requests_month) />
            <Card label="Error rate" value=rate note=format!("{} of {} events", count(u.errors_month), count(u.events_month)) />
        </div>
        <h2>"By model this month"</h2>
        {if u.by_model.is_empty() {
            view! { <p class="empty">"No usage this month yet. Send events to POST /api/v1/events."</p> }.into_any()
        } else {
            view! {
                <table class="table" data-testid="by-model">
                    <thead><tr><th>"Model"</th><th class="num">"Events"</th><th class="num">"Input"</th><th class="num">"Cached"</th>
                        <th class="num">"Output"</th><th class="num">"Cost"</th><th class="num">"p95 latency"</th></tr></thead>
                    <tbody>
                        {u.by_model.into_iter().map(|m| view! {
                            <tr>
                                <td>{m.model}</td>
                                <td class="num">{count(m.events)}</td>
                                <td class="num">{count(m.input_tokens)}</td>
                                <td class="num">{count(m.cached_input_tokens)}</td>
                                <td class="num">{count(m.output_tokens)}</td>
                                <td class="num">{if m.unpriced_events > 0 && m.events == m.unpriced_events {
                                    "unpriced".to_string()
                                } else {
                                    usd(&m.cost_usd)
                                }}</td>
                                <td class="num">{m.p95_latency_ms.map(|l| format!("≤ {l} ms")).unwrap_or_else(|| "–".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {(!u.unpriced_models.is_empty()).then(|| view! {
            <section class="card warn" data-testid="unpriced">
                <h2>"Models without a price"</h2>
                <p class="muted">"These events are stored and counted, but their cost is unknown and not included above. \
                    Ask your operator to add the model to the price book."</p>
                <ul>
                    {u.unpriced_models.iter().map(|m| view! {
                        <li><code>{m.model.clone()}</code> " — " {count(m.events)} " events, last " {format_time(m.last_seen_ms)}</li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <h2>"Recent activity"</h2>
        <p><a href=csv download="tollbooth-usage.csv" class="button-link">"Download this month's events (CSV)"</a></p>
        {if u.recent.is_empty() {
            view! { <p class="empty">"No events yet."</p> }.into_any()
        } else {
            view! {
                <table class="table" data-testid="recent">
                    <thead><tr><th>"Time (UTC)"</th><th>"Model"</th><th class="num">"Input"</th><th class="num">"Output"</th>
                        <th class="num">"Cost"</th><th>"Status"</th></tr></thead>
                    <tbody>
                        {u.recent.into_iter().map(|e| view! {
                            <tr>
                                <td>{e.timestamp.replace('T', " ").trim_end_matches('Z').to_string()}</td>
                                <td>{e.model}</td>
                                <td class="num">{count(e.input_tokens)}</td>
                                <td class="num">{count(e.output_tokens)}</td>
                                <td class="num">{e.cost_usd.as_deref().map(usd).unwrap_or_else(|| "unpriced".into())}</td>
                                <td>{e.status}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let org = use_org().org;
    let org_id = use_org_id();
    let data = Resource::new(move || org_id.get(), usage_panel);
    view! {
        <Title text="Usage · Tollbooth" />
        <h1>"Usage"</h1>
        <p class="muted">{org.name} " · this month in " {org.time_zone}</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(u) => panel(org_id.get_untracked(), u).into_any(),
                    Err(e) => view! { <ErrorMessage message=e.message /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::{count, usd};

    #[test]
    fn money_and_counts_read_well() {
        assert_eq!(usd("0.004000000"), "$0.0040");
        assert_eq!(usd("12.345678901"), "$12.35");
        assert_eq!(usd("0.036290000"), "$0.0363");
        assert_eq!(usd("0.000690000"), "$0.0007");
        assert_eq!(usd("0.999990000"), "$1.0000");
        assert_eq!(usd("0.000000000"), "$0.0000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }
}
