//! The audit log: `/o/:org/audit` (the organization's owners and admins) and
//! `/admin/audit` (platform admins, every organization). Filters come from
//! the URL (`actor`, `action`, `result`, `from`, `to`), so a filtered view can
//! be shared and its CSV link carries the same filter.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use tollbooth::audit::{AuditEntryView, AuditFilter, AuditReport};

use crate::api::audit::{admin_audit, org_audit, AuditPageData, PAGE_ENTRIES};
use crate::components::format::readable_time;
use crate::components::layout::use_org_id;
use crate::components::ErrorMessage;
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;
use crate::url::encode_query;

const FIELDS: [&str; 5] = ["actor", "action", "result", "from", "to"];

/// The filter in the URL.
fn use_filter() -> Memo<AuditFilter> {
    let query = use_query_map();
    Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditFilter { actor: get("actor"), action: get("action"), result: get("result"), from: get("from"), to: get("to") }
    })
}

/// `?actor=…&…` of the non-empty fields, for the CSV link.
pub fn filter_query(f: &AuditFilter) -> String {
    let values = [&f.actor, &f.action, &f.result, &f.from, &f.to];
    let pairs: Vec<String> = FIELDS
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query(v.trim())))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

#[component]
pub fn OrgAuditPage() -> impl IntoView {
    let org_id = use_org_id();
    let filter = use_filter();
    let data = data(move || (org_id.get(), filter.get()), |(org, f)| org_audit(org, f));
    view! {
        <Title text="Audit log · Tollbooth" />
        <h1>"Audit log"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let csv = format!("/o/{}/audit.csv{}", org_id.get_untracked(), filter_query(&filter.get_untracked()));
                match data.await {
                    Ok(d) => audit_view(d, filter.get_untracked(), csv, false).erase(),
                    Err(e) if e.status == 403 => view! {
                        <p class="notice" data-testid="audit-owners-only">
                            "The audit log is for the organization's owners and admins only. Ask an owner if you need an entry from it."
                        </p>
                    }.erase(),
                    Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let filter = use_filter();
    let data = data(move || filter.get(), admin_audit);
    view! {
        <Title text="Audit log · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            <h1>"Audit log: every organization"</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let csv = format!("/admin/audit.csv{}", filter_query(&filter.get_untracked()));
                    match data.await {
                        Ok(d) => audit_view(d, filter.get_untracked(), csv, true).erase(),
                        Err(e) if e.is_unauthorized() => view! { <Redirect path="/login" /> }.erase(),
                        Err(AppError { message, .. }) => view! { <ErrorMessage message /> }.erase(),
                    }
                })}
            </Transition>
        </div>
    }
}

fn audit_view(d: AuditPageData, f: AuditFilter, csv: String, show_org: bool) -> impl IntoView {
    let AuditPageData { entries, report, from, to, time_zone } = d;
    let count = entries.len();
    view! {
        <form method="get" class="filters row" data-testid="audit-filters">
            <label>"Actor" <input name="actor" value=f.actor placeholder="e-mail, key name or id" /></label>
            <label>"Action" <input name="action" value=f.action placeholder="e.g. plan.change or billing." /></label>
            <label>"Result"
                <select name="result">
                    {["", "success", "failure", "denied"].into_iter().map(|r| view! {
                        <option value=r selected=f.result == r>{if r.is_empty() { "any" } else { r }}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="from" value=f.from /></label>
            <label>"To" <input type="date" name="to" value=f.to /></label>
            <button type="submit">"Filter"</button>
            <a class="button-link" href=csv rel="external" download="" data-testid="audit-csv">"Download CSV"</a>
        </form>
        {report_view(report, from, to, time_zone, show_org)}
        <h2>"Entries (" {count} ")"</h2>
        {(count as i64 >= PAGE_ENTRIES).then(|| view! {
            <p class="muted">"Showing the newest " {PAGE_ENTRIES} "; the CSV has every matching entry."</p>
        })}
        {if entries.is_empty() {
            view! { <p class="empty">"No entries match."</p> }.erase()
        } else {
            entry_table(entries, show_org, "audit-entries").erase()
        }}
    }
}

fn entry_table(entries: Vec<AuditEntryView>, show_org: bool, testid: &'static str) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table audit" data-testid=testid>
                <thead><tr>
                    <th>"When"</th>
                    {show_org.then(|| view! { <th>"Organization"</th> })}
                    <th>"Actor"</th><th>"Action"</th><th>"Target"</th><th>"Result"</th><th>"From"</th><th>"Details"</th>
                </tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| {
                        let result_class = format!("badge result-{}", e.result);
                        let details = if e.details == "{}" { String::new() } else { e.details.clone() };
                        view! {
                            <tr>
                                <td class="nowrap">{readable_time(&e.at)}</td>
                                {show_org.then(|| view! { <td>{match e.org_id.clone() {
                                    Some(id) => view! { <a href=format!("/admin/org?id={id}")><code>{id.clone()}</code></a> }.erase(),
                                    None => view! { <span class="muted">"–"</span> }.erase(),
                                }}</td> })}
                                <td>{e.actor_label.clone()} " " <span class="muted">"(" {e.actor_kind.clone()} ")"</span></td>
                                <td><code>{e.action.clone()}</code></td>
                                <td>{e.target.clone().unwrap_or_default()}</td>
                                <td><span class=result_class>{e.result.clone()}</span></td>
                                <td>{e.ip.clone().unwrap_or_default()}</td>
                                <td class="details"><code>{details}</code></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn report_view(r: AuditReport, from: String, to: String, time_zone: String, show_org: bool) -> impl IntoView {
    let rate = r.success_rate.clone().map(|p| format!("{p}%")).unwrap_or_else(|| "–".into());
    let failed_count = r.failed.len();
    view! {
        <section class="card" data-testid="audit-report">
            <h2>"Report " <span class="muted">{from} " → " {to} " (" {time_zone} ")"</span></h2>
            <div class="stats">
                <div class="stat"><span class="label">"Events"</span><span class="value">{r.total}</span></div>
                <div class="stat"><span class="label">"Success rate"</span><span class="value" data-testid="audit-success-rate">{rate}</span></div>
                <div class="stat"><span class="label">"Failed operations"</span><span class="value">{failed_count}</span></div>
                <div class="stat"><span class="label">"Security events"</span><span class="value">{r.security_total}</span></div>
            </div>
            <h3>"Events by type"</h3>
            {if r.by_action.is_empty() {
                view! { <p class="empty">"No events in this range."</p> }.erase()
            } else {
                view! {
                    <table class="table" data-testid="audit-by-action">
                        <thead><tr><th>"Action"</th><th class="num">"Entries"</th><th class="num">"Success"</th><th class="num">"Failure"</th><th class="num">"Denied"</th>
                            <th class="num" title="Refusals are written once per minute and limit with their count">"Occurrences"</th></tr></thead>
                        <tbody>{r.by_action.into_iter().map(|a| view! {
                            <tr><td><code>{a.action}</code></td><td class="num">{a.total}</td><td class="num">{a.success}</td>
                                <td class="num">{a.failure}</td><td class="num">{a.denied}</td><td class="num">{a.occurrences}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.erase()
            }}
            <h3>"Security events"</h3>
            <p class="muted">"Failed sign-ins, refused access and rejected webhooks."</p>
            {if r.security.is_empty() {
                view! { <p class="empty">"None in this range."</p> }.erase()
            } else {
                entry_table(r.security, show_org, "audit-security").erase()
            }}
            <h3>"Failed operations"</h3>
            {if r.failed.is_empty() {
                view! { <p class="empty">"None in this range."</p> }.erase()
            } else {
                entry_table(r.failed, show_org, "audit-failed").erase()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_link_carries_the_filter_encoded() {
        let f = AuditFilter { actor: "a+b@example.com".into(), action: "billing.".into(), ..Default::default() };
        assert_eq!(filter_query(&f), "?actor=a%2Bb%40example.com&action=billing.");
        assert_eq!(filter_query(&AuditFilter::default()), "");
    }
}
