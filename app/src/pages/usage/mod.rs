//! The organization's home: this month's cards, then the selected range
//! (`?range=7d|30d|90d|month` or `?from=&to=` dates in the organization's
//! time zone) as charts, a sortable breakdown and the latest events.
//!
//! The range and the activity filter live in the URL: the server renders the
//! page with its data, links are shareable, and in the browser a change is a
//! client-side navigation that refetches the one panel resource.

mod breakdown;
mod charts;
pub(crate) mod limits;
mod recent;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::usage::{usage_panel, PanelQuery, RangeView, Totals, PanelData};
use crate::components::layout::{use_org, use_org_id};
use crate::components::format::{count, format_time, rate_percent, usd_exact_of, usd_of};
use crate::components::Usd;
use tollbooth::metering::projection::{change_text, Projection};
use crate::components::meter::UsagePulse;
use crate::components::ErrorMessage;
use crate::data::data;
use crate::erase::Erase;

/// The panel's query from the URL.
fn use_panel_query() -> Memo<PanelQuery> {
    let q = use_query_map();
    Memo::new(move |_| {
        q.with(|q| PanelQuery {
            range: q.get("range"),
            from: q.get("from"),
            to: q.get("to"),
            model: q.get("model"),
            status: q.get("status"),
            user: q.get("user"),
            project: q.get("project"),
            feature: q.get("feature"),
        })
    })
}

/// Query string that keeps the current range (for the filter form and links).
pub(super) fn range_query(r: &RangeView) -> String {
    if r.key == "custom" { format!("from={}&to={}", r.from_date, r.to_date) } else { format!("range={}", r.key) }
}

/// Where the panel is shown: its path, the query parameter every link and
/// form keeps (the drill-down's `id`, so a change of range stays on the
/// page), and whether the viewer is a member (the CSV download, upgrade
/// and plan links are theirs; a platform admin reads the panel only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelHome {
    path: String,
    keep: Option<(&'static str, String)>,
    pub member: bool,
}

impl PanelHome {
    /// `/o/:org`, the organization's own page.
    pub fn org(org_id: &str) -> Self {
        PanelHome { path: format!("/o/{org_id}"), keep: None, member: true }
    }

    /// `/admin/org?id=…`, the platform admin's read-only drill-down.
    pub fn admin(org_id: &str) -> Self {
        PanelHome { path: "/admin/org".into(), keep: Some(("id", org_id.to_string())), member: false }
    }

    /// The form's action: the path alone (the kept parameter rides along as
    /// a hidden input, see [`PanelHome::hidden`]).
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// The page with `query` (e.g. `range=7d`; may be empty) after the kept parameter.
    pub fn href(&self, query: &str) -> String {
        let kept = self.keep.as_ref().map(|(k, v)| format!("{k}={}", crate::url::encode_query(v)));
        let parts: Vec<String> = kept.into_iter().chain((!query.is_empty()).then(|| query.to_string())).collect();
        if parts.is_empty() { self.path.clone() } else { format!("{}?{}", self.path, parts.join("&")) }
    }

    /// The kept parameter as a hidden input, for the GET forms.
    pub fn hidden(&self) -> impl IntoView {
        self.keep.clone().map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
    }
}

/// `/o/:org`: the organization's usage.
#[component]
pub fn UsagePage() -> impl IntoView {
    let org = use_org().org;
    view! {
        <Title text="Usage · Tollbooth" />
        <h1>"Usage"</h1>
        <p class="muted">{org.name} " · dates in " {org.time_zone}</p>
        <UsagePanel org_id=use_org_id() />
    }
}

/// The usage panel of one organization: plan limits with their use, this
/// month's cards, and the range from the URL. Members see it on `/o/:org`;
/// platform admins read the same panel in the drill-down (`admin`).
#[component]
pub fn UsagePanel(org_id: Memo<String>, #[prop(optional)] admin: bool) -> impl IntoView {
    let home = move || {
        let id = org_id.get_untracked();
        if admin { PanelHome::admin(&id) } else { PanelHome::org(&id) }
    };
    let query = use_panel_query();
    // Live: the shell's pulse bumps `changed` when events are recorded; the
    // panel reads itself again (keeping the old figures on screen meanwhile,
    // without dimming them as a change of range does).
    let pulse = use_context::<UsagePulse>();
    if let Some(p) = pulse {
        p.watch();
    }
    let changed = move || pulse.map_or(0, |p| p.changed.get());
    let data = data(move || (org_id.get(), query.get(), changed()), |(org, q, _)| usage_panel(org, q));
    let live = RwSignal::new(false);
    Effect::new(move |prev: Option<(PanelQuery, u64)>| {
        let now = (query.get(), changed());
        if let Some((q, _)) = prev {
            live.set(q == now.0);
        }
        now
    });
    let (pending, set_pending) = signal(false);
    // Not read on the server, where the page renders once: there the
    // Transition's isomorphic effect sets `pending` from another Tokio
    // worker while the attributes below are rendered, and a signal read
    // while it is being written panics (leptos reports it as "disposed":
    // `try_get` fails only on a disposed signal, its inner read panics when
    // the lock is taken), which killed the render and left the request
    // unanswered. Busy is false until the browser has the page anyway.
    let pending = move || !cfg!(feature = "ssr") && pending.try_get().unwrap_or(false) && !live.try_get().unwrap_or(false);
    let table = breakdown::TableState::default();
    view! {
        <limits::PlanLimits org_id=org_id.get_untracked() read_only=admin />
        // `try_get`: when a request is abandoned mid-stream the page's owner is
        // disposed while the Transition may still settle; reading a disposed
        // signal would panic the server task.
        <div
            class="usage"
            class:updating=pending
            aria-busy=move || pending().to_string()
        >
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> } set_pending>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(u) => view! { <Panel org_id=org_id.get_untracked() home=home() u table query=query.get_untracked() /> }.erase(),
                        Err(e) => {
                            // E.g. a hand-edited custom range: say why, offer a way back.
                            view! {
                                <ErrorMessage message=e.message />
                                <p><a href=home().href("")>"Show the last 30 days"</a></p>
                            }.erase()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn Panel(org_id: String, home: PanelHome, u: PanelData, table: breakdown::TableState, query: PanelQuery) -> impl IntoView {
    let csv = format!("/o/{org_id}/usage.csv?from={}&to={}", u.range.from, u.range.to);
    let models: Vec<String> = u.breakdowns.first().map(|b| b.rows.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
    view! {
        <MonthCards month=u.month.clone() previous=u.previous_month.clone() lifetime=u.lifetime_cost projection=u.projection.clone() />
        <section class="range-bar" aria-label="Date range">
            <RangePicker home=home.clone() range=u.range.clone() />
            {home.member.then(|| view! {
                <a href=csv download="tollbooth-usage.csv" class="button-link">"Download this range (CSV)"</a>
            })}
        </section>
        <RangeSummary range=u.range.clone() totals=u.totals.clone() days=u.daily.len() />
        {if u.totals.events == 0 {
            let hint = if home.member { "No usage in this range. Pick a longer range, or send events to POST /api/v1/events." } else { "No usage in this range." };
            view! { <p class="empty card">{hint}</p> }.erase()
        } else {
            view! { <charts::Charts daily=u.daily.clone() models=u.breakdowns.first().map(|b| b.rows.clone()).unwrap_or_default() /> }.erase()
        }}
        <breakdown::BreakdownTable breakdowns=u.breakdowns.clone() state=table org_id=org_id.clone() query />
        <UnpricedModels models=u.unpriced_models.clone() />
        <PartlyPricedModels models=u.partly_priced_models.clone() />
        <recent::RecentActivity home range=u.range.clone() events=u.recent.clone() models />
    }
}

#[component]
fn Card(
    label: &'static str,
    value: String,
    /// The exact figure when `value` is a rounded amount (its tooltip).
    #[prop(optional_no_strip)]
    exact: Option<String>,
    #[prop(optional, into)] note: String,
    /// The change against the previous period of equal length.
    #[prop(optional, into)]
    change: Option<String>,
) -> impl IntoView {
    view! {
        <div class="stat" data-testid=label>
            <span class="label">{label}</span>
            <span class="value" title=exact>{value}</span>
            <span class="note">{note}</span>
            {change.map(|c| view! { <span class="note change" title="Against the same length of time just before this month">{c}" vs previous period"</span> })}
        </div>
    }
}

/// This calendar month and lifetime (the plan's limits are under "Plan
/// limits"), each month card with its change against the previous period of
/// equal length, and the month-end projection with its method.
#[component]
fn MonthCards(month: Totals, previous: Totals, lifetime: tollbooth::pricing::NanoUsd, projection: Option<Projection>) -> impl IntoView {
    let cost_note = cost_note(&month);
    let change = |now: i64, before: i64| change_text(now, before);
    view! {
        <div class="stats">
            <Card label="Cost this month" value=usd_of(month.cost) exact=usd_exact_of(month.cost) note=cost_note change=change(month.cost.nanos(), previous.cost.nanos()) />
            {projection.map(|p| view! {
                <div class="stat" data-testid="Projected month-end" title=format!("Method: {}.", p.method)>
                    <span class="label">"Projected month-end"</span>
                    <span class="value" title=usd_exact_of(p.projected)>{usd_of(p.projected)}</span>
                    <span class="note">"Linear from the last 7 days' daily average (" <Usd amount=p.daily_average /> " a day)"</span>
                </div>
            })}
            <Card label="Lifetime cost" value=usd_of(lifetime) exact=usd_exact_of(lifetime) />
            <Card label="Tokens in" value=count(month.input_tokens) note=format!("{} cached · this month", count(month.cached_input_tokens))
                change=change(month.input_tokens, previous.input_tokens) />
            <Card label="Tokens out" value=count(month.output_tokens) note="this month" change=change(month.output_tokens, previous.output_tokens) />
            <Card label="Requests" value=count(month.requests) note="this month" change=change(month.requests, previous.requests) />
            <Card label="Error rate" value=rate_percent(&month.error_rate) note=format!("{} of {} events this month", count(month.errors), count(month.events))
                change=format!("errors {}", change_text(month.errors, previous.errors)) />
        </div>
    }
}

/// Presets as links and a custom date form; both navigate client-side.
#[component]
fn RangePicker(home: PanelHome, range: RangeView) -> impl IntoView {
    let presets = [("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days"), ("month", "This month")];
    view! {
        <nav class="range-picker" aria-label="Presets">
            {presets
                .into_iter()
                .map(|(key, label)| {
                    let current = (range.key == key).then_some("page");
                    view! { <a href=home.href(&format!("range={key}")) aria-current=current>{label}</a> }
                })
                .collect_view()}
        </nav>
        <Form method="GET" action=home.path() attr:class="range-custom" attr:aria-label="Custom range">
            {home.hidden()}
            <label class="inline">"From" <input type="date" name="from" value=range.from_date.clone() required /></label>
            <label class="inline">"to" <input type="date" name="to" value=range.to_date.clone() required /></label>
            <button type="submit" class="small">"Apply"</button>
        </Form>
    }
}

/// The selected range's totals, in one line of figures.
#[component]
fn RangeSummary(range: RangeView, totals: Totals, days: usize) -> impl IntoView {
    let tokens = totals.input_tokens + totals.output_tokens;
    view! {
        <div class="range-summary" data-testid="range-summary">
            <span class="dates">{range.from_date} " – " {range.to_date} " (" {days} " days)"</span>
            <span><b data-testid="range-cost" title=usd_exact_of(totals.cost)>{usd_of(totals.cost)}</b> " cost"</span>
            <span><b data-testid="range-events">{count(totals.events)}</b> " events"</span>
            <span><b data-testid="range-tokens">{count(tokens)}</b> " tokens ("
                {count(totals.input_tokens)} " in, " {count(totals.output_tokens)} " out)"</span>
            <span><b>{rate_percent(&totals.error_rate)}</b> " errors"</span>
            {(totals.unpriced_events > 0 || totals.partial_events > 0).then(|| view! {
                <span class="muted" data-testid="range-cost-note">{cost_note(&totals)}</span>
            })}
        </div>
    }
}

/// What a cost leaves out: unpriced events, and units of partly priced ones.
fn cost_note(t: &Totals) -> String {
    let mut parts = vec![];
    if t.unpriced_events > 0 {
        parts.push(format!("excludes {} unpriced events", t.unpriced_events));
    }
    if t.partial_events > 0 {
        parts.push(format!("{} events only partly priced", t.partial_events));
    }
    parts.join("; ")
}

/// Models whose events carried units their price does not cover.
#[component]
fn PartlyPricedModels(models: Vec<tollbooth::metering::unpriced::PartlyPricedModel>) -> impl IntoView {
    (!models.is_empty()).then(|| view! {
        <section class="card warn" data-testid="partly-priced">
            <h2>"Models priced only in part"</h2>
            <p class="muted">"These events were charged for what their model's price covers; the units named here \
                have no price and are not in the cost above. Ask your operator to add the missing prices."</p>
            <ul>
                {models.into_iter().map(|m| view! {
                    <li><code>{m.model}</code> " — no price for " <b>{m.units.join(", ")}</b> " — "
                        {count(m.events)} " events, last " {format_time(m.last_seen_ms)}</li>
                }).collect_view()}
            </ul>
        </section>
    })
}

#[component]
fn UnpricedModels(models: Vec<tollbooth::metering::unpriced::UnpricedModel>) -> impl IntoView {
    (!models.is_empty()).then(|| view! {
        <section class="card warn" data-testid="unpriced">
            <h2>"Models without a price"</h2>
            <p class="muted">"These events are stored and counted, but their cost is unknown and not included above. \
                Ask your operator to add the model to the price book."</p>
            <ul>
                {models.into_iter().map(|m| view! {
                    <li><code>{m.model}</code> " — " {count(m.events)} " events, last " {format_time(m.last_seen_ms)}</li>
                }).collect_view()}
            </ul>
        </section>
    })
}

#[cfg(test)]
mod tests {
    use super::PanelHome;

    #[test]
    fn links_stay_on_the_page_that_shows_the_panel() {
        let org = PanelHome::org("o1");
        assert_eq!(org.href("range=7d"), "/o/o1?range=7d");
        assert_eq!(org.href(""), "/o/o1");
        assert!(org.member);
        let admin = PanelHome::admin("o 1");
        assert_eq!(admin.href("range=7d"), "/admin/org?id=o%201&range=7d");
        assert_eq!(admin.href(""), "/admin/org?id=o%201");
        assert_eq!(admin.path(), "/admin/org");
        assert!(!admin.member, "a platform admin reads the panel only");
    }

}
