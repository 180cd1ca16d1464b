//! The latest events of the range and their filter. The filter is a GET
//! form, so a filtered view is a URL like any other.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use super::PanelHome;
use crate::components::format::count;
use crate::components::Usd;
use crate::api::usage::{RangeView, RecentEvent, RECENT_EVENTS};
use crate::erase::Erase;

const STATUSES: [&str; 3] = ["success", "error", "rate_limited"];

/// A select of `options` named `name`, preselected from the URL.
#[component]
fn FilterSelect(name: &'static str, label: &'static str, options: Vec<String>) -> impl IntoView {
    let query = use_query_map();
    let current = query.with_untracked(|q| q.get(name)).unwrap_or_default();
    view! {
        <label>
            {label}
            <select name=name>
                <option value="" selected=current.is_empty()>"any"</option>
                {options
                    .into_iter()
                    .map(|o| {
                        let selected = o == current;
                        let text = o.clone();
                        view! { <option value=o selected=selected>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// A text box named `name`, filled from the URL.
#[component]
fn FilterText(name: &'static str, label: &'static str) -> impl IntoView {
    let current = use_query_map().with_untracked(|q| q.get(name)).unwrap_or_default();
    view! { <label>{label} <input type="text" name=name value=current placeholder="any" /></label> }
}

#[component]
pub fn RecentActivity(home: PanelHome, range: RangeView, events: Vec<RecentEvent>, models: Vec<String>) -> impl IntoView {
    let filtered = use_query_map().with_untracked(|q| {
        ["model", "status", "user", "project", "feature"].iter().any(|k| q.get(k).is_some_and(|v| !v.is_empty()))
    });
    let clear = home.href(&super::range_query(&range));
    let (range_name, range_value, to_value) = if range.key == "custom" {
        ("from", range.from_date.clone(), Some(range.to_date.clone()))
    } else {
        ("range", range.key.clone(), None)
    };
    view! {
        <section class="recent" data-testid="recent-activity">
            <h2>"Recent activity"</h2>
            <Form method="GET" action=home.path() attr:class="filters" attr:aria-label="Filter events">
                {home.hidden()}
                <input type="hidden" name=range_name value=range_value />
                {to_value.map(|t| view! { <input type="hidden" name="to" value=t /> })}
                <FilterSelect name="model" label="Model" options=models />
                <FilterSelect name="status" label="Status" options=STATUSES.iter().map(|s| s.to_string()).collect() />
                <FilterText name="user" label="User" />
                <FilterText name="project" label="Project" />
                <FilterText name="feature" label="Feature" />
                <button type="submit" class="small">"Filter"</button>
                {filtered.then(|| view! { <a href=clear class="clear">"Clear"</a> })}
            </Form>
            {if events.is_empty() {
                let msg = if filtered { "No events match this filter in the range." } else { "No events in this range." };
                view! { <p class="empty">{msg}</p> }.erase()
            } else {
                view! {
                    <p class="muted">{format!("Latest {} events of the range, newest first.", RECENT_EVENTS)}</p>
                    <table class="table" data-testid="recent">
                        <thead><tr><th>"Time (UTC)"</th><th>"Model"</th><th>"User"</th><th>"Project"</th><th>"Feature"</th>
                            <th class="num">"Input"</th><th class="num">"Output"</th><th class="num">"Cost"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {events.into_iter().map(|e| view! {
                                <tr>
                                    <td class="nowrap">{e.timestamp.get(..19).unwrap_or(&e.timestamp).replace('T', " ")}</td>
                                    <td>{e.model}
                                        {e.gateway.map(|g| view! { <span class="sub gateway" data-testid="gateway-call" title="Recorded by the gateway">{g.describe()}</span> })}
                                    </td>
                                    <td>{e.user_id.unwrap_or_default()}</td>
                                    <td>{e.project_id.unwrap_or_default()}</td>
                                    <td>{e.feature.unwrap_or_default()}</td>
                                    <td class="num">{count(e.input_tokens)}
                                        {(e.cached_input_tokens > 0).then(|| view! { <span class="sub">{format!("{} cached", count(e.cached_input_tokens))}</span> })}
                                    </td>
                                    <td class="num">{count(e.output_tokens)}</td>
                                    <td class="num">{match e.cost { Some(c) => view! { <Usd amount=c /> }.erase(), None => "unpriced".erase() }}
                                        {(!e.unpriced_units.is_empty()).then(|| view! {
                                            <span class="sub partial" data-testid="partial" title="These units have no price and are not in the cost">
                                                {format!("partial: no price for {}", e.unpriced_units.join(", "))}
                                            </span>
                                        })}
                                    </td>
                                    <td><span class=format!("status-{}", e.status)>{e.status.clone()}</span></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.erase()
            }}
        </section>
    }
}
