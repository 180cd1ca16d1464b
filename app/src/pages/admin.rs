//! The platform admin area: `/admin`, the dashboard. Its range comes from the
//! URL (`?period=day|week|month`, optional `from`/`to`); the organization
//! list's search from `?q=`.

use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::{Bar, Line};
use charming::Chart;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use tollbooth::admin::{AdminSummary, Consumer, Figure, FlaggedOrg, TenantPage};

use crate::api::admin_dash::{admin_dashboard, admin_tenants, DashboardView, DashQuery, TENANTS_PER_PAGE};
use crate::api::trials::admin_trial_stats;
use crate::components::format::{format_time, readable_time};
use tollbooth::trials::TrialStats;
use crate::components::chart::EChart;
use crate::components::ErrorMessage;
use crate::data::data;
use crate::erase::Erase;
use crate::pages::admin_plans::org_href;
use crate::pages::prices::new_model_href;
use crate::components::format::{usd, usd_exact};
use crate::url::encode_query;

/// A figure's text value as a plotting coordinate (display only; `None`: a gap).
fn plot(v: &Option<String>) -> Option<f64> {
    v.as_deref().and_then(|s| s.trim_start_matches('$').replace(',', "").parse::<f64>().ok())
}

/// A USD amount as a plotting coordinate, rounded as pages show money (so
/// the chart's tooltip reads `$12.35`, not `$12.345678901`).
fn plot_money(v: &Option<String>) -> Option<f64> {
    v.as_deref().and_then(|s| tollbooth::pricing::NanoUsd::parse_usd(s).ok()).map(crate::components::format::plot_usd)
}

/// `1234567` → `1,234,567` (other text unchanged).
pub fn grouped(s: &str) -> String {
    let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

fn series_chart(figures: &[(&str, &Figure)], bar: bool) -> Chart {
    let axis: Vec<String> = figures.first().map(|(_, f)| f.series.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let mut c = Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left(64).right(16).top(16).bottom(if figures.len() > 1 { 52 } else { 28 }))
        .x_axis(Axis::new().type_(AxisType::Category).data(axis))
        .y_axis(Axis::new().type_(AxisType::Value));
    if figures.len() > 1 {
        c = c.legend(Legend::new().bottom(0));
    }
    for (name, f) in figures {
        // A bucket without data (no API calls: no latency, no error rate) is
        // `null`, which ECharts draws as a gap, not as a zero. Counts, tokens
        // and cost always have a value (zero when nothing happened).
        let money = name.ends_with("(USD)");
        let data: Vec<Option<f64>> = f.series.iter().map(|(_, v)| if money { plot_money(v) } else { plot(v) }).collect();
        c = if bar { c.series(Bar::new().name(*name).data(data)) } else { c.series(Line::new().name(*name).data(data)) };
    }
    c
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let dash_query = Memo::new(move |_| {
        let q = query.read();
        DashQuery { period: q.get("period"), from: q.get("from"), to: q.get("to") }
    });
    let search = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let trialing = Memo::new(move |_| query.read().get("trialing").filter(|t| !t.is_empty()));
    let dash = data(move || dash_query.get(), admin_dashboard);
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u32>().ok()).filter(|p| *p >= 1));
    let tenants = data(move || (search.get(), trialing.get(), page.get()), |(s, t, p)| admin_tenants(s, t, p));
    let trial_stats = data(|| (), |_| admin_trial_stats());
    view! {
        <Title text="Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/">"← Back to the app"</a></p>
            <h1>"Platform admin"</h1>
            <nav class="row admin-nav" aria-label="Admin">
                <a href="/admin/prices" class="button-link">"Price book"</a>
                <a href="/admin/plans" class="button-link">"Plans"</a>
                <a href="/admin/credit-packs" class="button-link">"Credit packs"</a>
                <a href="/admin/audit" class="button-link">"Audit log"</a>
                <a href="/admin/outbox" class="button-link">"Mail outbox"</a>
                <a href="/account" class="button-link">"Your account"</a>
            </nav>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match dash.await {
                        Ok(d) => dashboard(d).erase(),
                        Err(e) if e.is_unauthorized() => view! { <Redirect path="/login" /> }.erase(),
                        Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
                    }
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    trial_stats.await.ok().map(trials_section)
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    tenants.await.ok().map(|list| tenant_list(list, search.get_untracked(), trialing.get_untracked().is_some()))
                })}
            </Transition>
        </div>
    }
}

fn period_picker(d: &DashboardView) -> impl IntoView {
    let link = |p: &'static str, label: &'static str, current: &str| {
        view! { <a href=format!("/admin?period={p}") aria-current=(p == current).then_some("page")>{label}</a> }
    };
    let current = d.period.clone();
    view! {
        <div class="range-bar" data-testid="period-picker">
            <nav class="range-picker" aria-label="Period">
                {link("day", "Day (30 days)", &current)}
                {link("week", "Week (12 weeks)", &current)}
                {link("month", "Month (12 months)", &current)}
            </nav>
            <form method="get" action="/admin" class="range-custom">
                <label>"From" <input type="date" name="from" value=d.from.clone() /></label>
                <label>"To" <input type="date" name="to" value=d.to.clone() /></label>
                <select name="period" aria-label="Group by">
                    {[("day", "by day"), ("week", "by week"), ("month", "by month")].into_iter().map(|(v, l)| view! {
                        <option value=v selected=v == current>{l}</option>
                    }).collect_view()}
                </select>
                <button type="submit" class="small">"Show"</button>
            </form>
        </div>
    }
}

fn tile(label: &'static str, value: Option<String>, testid: &'static str) -> impl IntoView {
    tile_exact(label, value, None, testid)
}

/// [`tile`] of a rounded amount, with its exact figure as the tooltip.
fn tile_exact(label: &'static str, value: Option<String>, exact: Option<String>, testid: &'static str) -> impl IntoView {
    view! {
        <div class="stat" data-testid=testid>
            <span class="label">{label}</span>
            <span class="value" title=exact>{value.unwrap_or_else(|| "–".into())}</span>
        </div>
    }
}

fn dashboard(d: DashboardView) -> impl IntoView {
    let picker = period_picker(&d);
    let DashboardView { summary, from, to, .. } = d;
    let AdminSummary {
        organizations, active_organizations, api_calls, tokens, cost_usd, avg_latency_ms, p95_latency_ms,
        error_rate_percent, top_by_tokens, top_by_cost, over_quota, over_budget, unpriced_models, partly_priced_models,
        recent_failures, ..
    } = summary;
    let all_priced = unpriced_models.is_empty() && partly_priced_models.is_empty();
    let ms = |v: &Option<String>| v.as_ref().map(|v| format!("{v} ms"));
    let tiles = view! {
        <div class="stats" data-testid="admin-tiles">
            {tile("Organizations", organizations.total.as_deref().map(grouped), "tile-orgs")}
            {tile("Active organizations", active_organizations.total.as_deref().map(grouped), "tile-active")}
            {tile("API calls", api_calls.total.as_deref().map(grouped), "tile-calls")}
            {tile("Tokens", tokens.total.as_deref().map(grouped), "tile-tokens")}
            {tile_exact("Cost", cost_usd.total.as_deref().map(usd), cost_usd.total.as_deref().and_then(usd_exact), "tile-cost")}
            {tile("Avg latency", ms(&avg_latency_ms.total), "tile-avg-latency")}
            {tile("p95 latency", ms(&p95_latency_ms.total), "tile-p95-latency")}
            {tile("Error rate", error_rate_percent.total.as_ref().map(|v| format!("{v}%")), "tile-error-rate")}
        </div>
    };
    let orgs_chart = series_chart(&[("Organizations", &organizations), ("Active", &active_organizations)], false);
    let calls_chart = series_chart(&[("API calls", &api_calls)], true);
    let tokens_chart = series_chart(&[("Tokens", &tokens)], true);
    let cost_chart = series_chart(&[("Cost (USD)", &cost_usd)], true);
    let latency_chart = series_chart(&[("Average", &avg_latency_ms), ("p95", &p95_latency_ms)], false);
    let errors_chart = series_chart(&[("Error rate (%)", &error_rate_percent)], false);
    let buckets = organizations.series.len();
    view! {
        {picker}
        <p class="muted">"From " {from.clone()} " to " {to.clone()} " (UTC), both included."</p>
        {tiles}
        <div class="charts">
            <figure class="chart-card"><figcaption>"Organizations"</figcaption><EChart id="admin-orgs-chart" label="Organizations and active organizations over time" chart=orgs_chart>{format!("{buckets} buckets")}</EChart></figure>
            <figure class="chart-card"><figcaption>"API calls"</figcaption><EChart id="admin-calls-chart" label="API calls over time" chart=calls_chart>{format!("{buckets} buckets")}</EChart></figure>
            <figure class="chart-card"><figcaption>"Tokens"</figcaption><EChart id="admin-tokens-chart" label="Tokens over time" chart=tokens_chart>{format!("{buckets} buckets")}</EChart></figure>
            <figure class="chart-card"><figcaption>"Cost (USD)"</figcaption><EChart id="admin-cost-chart" label="Cost over time" chart=cost_chart>{format!("{buckets} buckets")}</EChart></figure>
            <figure class="chart-card"><figcaption>"Latency (ms)"</figcaption><EChart id="admin-latency-chart" label="Average and p95 latency over time" chart=latency_chart>{format!("{buckets} buckets")}</EChart></figure>
            <figure class="chart-card"><figcaption>"Error rate (%)"</figcaption><EChart id="admin-errors-chart" label="Error rate over time" chart=errors_chart>{format!("{buckets} buckets")}</EChart></figure>
        </div>
        <div class="two-col">
            <section>
                <h2>"Top consumers by tokens"</h2>
                {consumers(top_by_tokens, "top-by-tokens")}
            </section>
            <section>
                <h2>"Top consumers by cost"</h2>
                {consumers(top_by_cost, "top-by-cost")}
            </section>
        </div>
        <div class="two-col">
            <section>
                <h2>"Over a quota"</h2>
                {flagged(over_quota, "over-quota")}
            </section>
            <section>
                <h2>"Over budget"</h2>
                {flagged(over_budget, "over-budget")}
            </section>
        </div>
        <h2>"Unpriced models seen (" {unpriced_models.len()} ")"</h2>
        {if unpriced_models.is_empty() {
            let msg = if all_priced { "Every event in this range was priced in full." } else { "Every model seen in this range had a price (some only in part, below)." };
            view! { <p class="empty">{msg}</p> }.erase()
        } else {
            view! {
                <table class="table" data-testid="unpriced-models">
                    <thead><tr><th>"Model"</th><th class="num">"Events"</th><th class="num">"Organizations"</th><th>"Last seen"</th><th></th></tr></thead>
                    <tbody>{unpriced_models.into_iter().map(|m| view! {
                        <tr>
                            <td><code>{m.model.clone()}</code></td>
                            <td class="num">{grouped(&m.events.to_string())}</td>
                            <td class="num">{m.organizations}</td>
                            <td>{readable_time(&m.last_seen)}</td>
                            <td><a href=new_model_href(&m.model)>"Add as custom model"</a></td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase()
        }}
        <h2>"Partly priced models seen (" {partly_priced_models.len()} ")"</h2>
        {if partly_priced_models.is_empty() {
            view! { <p class="empty">"No event in this range carried a unit without a price."</p> }.erase()
        } else {
            view! {
                <table class="table" data-testid="partly-priced-models">
                    <thead><tr><th>"Model"</th><th>"Units without a price"</th><th class="num">"Events"</th><th class="num">"Organizations"</th><th>"Last seen"</th></tr></thead>
                    <tbody>{partly_priced_models.into_iter().map(|m| view! {
                        <tr>
                            <td><code>{m.model.clone()}</code></td>
                            <td>{m.units.join(", ")}</td>
                            <td class="num">{grouped(&m.events.to_string())}</td>
                            <td class="num">{m.organizations}</td>
                            <td>{format_time(m.last_seen_ms)}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase()
        }}
        <h2>"Recent failed operations"</h2>
        {if recent_failures.is_empty() {
            view! { <p class="empty">"None."</p> }.erase()
        } else {
            view! {
                <table class="table audit" data-testid="recent-failures">
                    <thead><tr><th>"When"</th><th>"Organization"</th><th>"Actor"</th><th>"Action"</th><th>"Result"</th><th>"Details"</th></tr></thead>
                    <tbody>{recent_failures.into_iter().map(|e| view! {
                        <tr>
                            <td class="nowrap">{readable_time(&e.at)}</td>
                            <td>{e.org_id.clone().map(|id| view! { <a href=org_href(&id)><code>{id.clone()}</code></a> })}</td>
                            <td>{e.actor_label.clone()}</td>
                            <td><code>{e.action.clone()}</code></td>
                            <td><span class=format!("badge result-{}", e.result)>{e.result.clone()}</span></td>
                            <td class="details"><code>{e.details.clone()}</code></td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase()
        }}
    }
}

fn consumers(list: Vec<Consumer>, testid: &'static str) -> AnyView {
    if list.is_empty() {
        return view! { <p class="empty">"No usage in this range."</p> }.erase();
    }
    view! {
        <table class="table" data-testid=testid>
            <thead><tr><th>"#"</th><th>"Organization"</th><th class="num">"Tokens"</th><th class="num">"Cost"</th></tr></thead>
            <tbody>{list.into_iter().enumerate().map(|(i, c)| view! {
                <tr>
                    <td>{i + 1}</td>
                    <td><a href=org_href(&c.org_id)>{c.org_name.clone()}</a></td>
                    <td class="num">{grouped(&c.tokens.to_string())}</td>
                    <td class="num" title=usd_exact(&c.cost_usd)>{usd(&c.cost_usd)}</td>
                </tr>
            }).collect_view()}</tbody>
        </table>
    }
    .erase()
}

fn flagged(list: Vec<FlaggedOrg>, testid: &'static str) -> AnyView {
    if list.is_empty() {
        return view! { <p class="empty">"None."</p> }.erase();
    }
    view! {
        <table class="table" data-testid=testid>
            <thead><tr><th>"Organization"</th><th class="num">"Alerts"</th><th>"Last"</th></tr></thead>
            <tbody>{list.into_iter().map(|f| view! {
                <tr>
                    <td><a href=org_href(&f.org_id)>{f.org_name.clone()}</a></td>
                    <td class="num">{f.alerts}</td>
                    <td>{readable_time(&f.last_at)}</td>
                </tr>
            }).collect_view()}</tbody>
        </table>
    }
    .erase()
}

/// Trials: ending in the next 7 days, and per month started / converted /
/// expired with the conversion rate of those that ended.
fn trials_section(t: TrialStats) -> impl IntoView {
    view! {
        <section data-testid="admin-trials">
            <h2>"Trials"</h2>
            <div class="stats">
                {tile("Active trials", Some(t.active.to_string()), "tile-trials-active")}
                {tile("Conversion (12 months)", t.conversion_rate.clone(), "tile-trials-conversion")}
            </div>
            <div class="two-col">
                <section>
                    <h3>"Ending in the next 7 days"</h3>
                    {if t.ending_soon.is_empty() {
                        view! { <p class="empty">"None."</p> }.erase()
                    } else {
                        view! {
                            <table class="table" data-testid="trials-ending">
                                <thead><tr><th>"Organization"</th><th>"Plan"</th><th>"Ends"</th><th class="num">"Days left"</th></tr></thead>
                                <tbody>{t.ending_soon.into_iter().map(|e| view! {
                                    <tr>
                                        <td><a href=org_href(&e.org_id)>{e.org_name.clone()}</a></td>
                                        <td>{e.plan_name.clone()}</td>
                                        <td>{readable_time(&e.ends_at)}</td>
                                        <td class="num">{e.days_left}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table>
                        }.erase()
                    }}
                </section>
                <section>
                    <h3>"Per month (UTC)"</h3>
                    <table class="table" data-testid="trials-months">
                        <thead><tr><th>"Month"</th><th class="num">"Started"</th><th class="num">"Converted"</th><th class="num">"Expired"</th><th class="num">"Canceled"</th></tr></thead>
                        <tbody>{t.months.into_iter().filter(|m| m.started + m.converted + m.expired + m.canceled > 0).map(|m| view! {
                            <tr>
                                <td>{m.month.clone()}</td>
                                <td class="num">{m.started}</td>
                                <td class="num">{m.converted}</td>
                                <td class="num">{m.expired}</td>
                                <td class="num">{m.canceled}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                </section>
            </div>
        </section>
    }
}

/// The tenant list's URL for a page, keeping the search.
fn tenants_href(search: &str, trialing: bool, page: i64) -> String {
    let mut q = vec![];
    if !search.is_empty() {
        q.push(format!("q={}", encode_query(search)));
    }
    if trialing {
        q.push("trialing=1".to_string());
    }
    if page > 1 {
        q.push(format!("page={page}"));
    }
    if q.is_empty() { "/admin#organizations".into() } else { format!("/admin?{}#organizations", q.join("&")) }
}

fn tenant_list(list: TenantPage, search: String, trialing: bool) -> impl IntoView {
    let page = list.offset / TENANTS_PER_PAGE + 1;
    let pages = ((list.total + TENANTS_PER_PAGE - 1) / TENANTS_PER_PAGE).max(1);
    let shown = if list.rows.is_empty() {
        String::new()
    } else {
        format!("{}–{} of {}", grouped(&(list.offset + 1).to_string()), grouped(&(list.offset + list.rows.len() as i64).to_string()), grouped(&list.total.to_string()))
    };
    let pager = (pages > 1).then(|| {
        let (s1, s2) = (search.clone(), search.clone());
        view! {
            <nav class="pager" aria-label="Pages of organizations" data-testid="admin-orgs-pager">
                {(page > 1).then(|| view! { <a href=tenants_href(&s1, trialing, page - 1) rel="prev">"← Newer"</a> })}
                <span class="muted">{format!("Page {page} of {pages}")}</span>
                {(page < pages).then(|| view! { <a href=tenants_href(&s2, trialing, page + 1) rel="next">"Older →"</a> })}
            </nav>
        }
    });
    view! {
        <h2 id="organizations">"Organizations (" {grouped(&list.total.to_string())} ")"</h2>
        <form method="get" action="/admin" class="row" role="search">
            <input type="search" name="q" value=search placeholder="Name or id" aria-label="Search organizations" />
            <label class="inline"><input type="checkbox" name="trialing" value="1" checked=trialing data-testid="filter-trialing" />" Trialing only"</label>
            <button type="submit" class="small">"Search"</button>
            <span class="muted" data-testid="admin-orgs-shown">{shown}</span>
        </form>
        <table class="table" data-testid="admin-orgs">
            <thead><tr><th>"Name"</th><th>"Plan"</th><th>"Status"</th><th>"Trial ends"</th><th class="num">"This month"</th><th class="num">"Members"</th><th>"Created"</th><th>"Id"</th></tr></thead>
            <tbody>{list.rows.into_iter().map(|o| {
                let status_class = format!("badge status-{}", o.status);
                view! {
                    <tr>
                        <td><a href=org_href(&o.id)>{o.name.clone()}</a></td>
                        <td><code>{o.plan.clone()}</code></td>
                        <td><span class=status_class title=o.suspended_reason.clone().unwrap_or_default()>{o.status.clone()}</span></td>
                        <td>{o.trial_ends_at.as_deref().map(readable_time)}</td>
                        <td class="num" title=usd_exact(&o.month_cost_usd)>{usd(&o.month_cost_usd)}</td>
                        <td class="num">{o.members}</td>
                        <td>{readable_time(&o.created_at)}</td>
                        <td><code>{o.id.clone()}</code></td>
                    </tr>
                }
            }).collect_view()}</tbody>
        </table>
        {pager}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped("123456"), "123,456");
        assert_eq!(grouped("-1000"), "-1,000");
        assert_eq!(grouped("12.5"), "12.5");
    }

    #[test]
    fn buckets_without_calls_are_gaps_in_latency_but_zeros_in_counts() {
        let series = |vals: &[Option<&str>]| Figure {
            total: None,
            series: vals.iter().enumerate().map(|(i, v)| (format!("2026-03-0{}", i + 1), v.map(str::to_string))).collect(),
        };
        let json = |c: Chart| serde_json::to_value(&c).unwrap();
        let latency = json(series_chart(&[("Average", &series(&[Some("120"), None, Some("80")]))], false));
        assert_eq!(latency["series"][0]["data"], serde_json::json!([120.0, null, 80.0]));
        let errors = json(series_chart(&[("Error rate (%)", &series(&[None, Some("2.50")]))], false));
        assert_eq!(errors["series"][0]["data"], serde_json::json!([null, 2.5]));
        let calls = json(series_chart(&[("API calls", &series(&[Some("3"), Some("0"), Some("1,200")]))], true));
        assert_eq!(calls["series"][0]["data"], serde_json::json!([3.0, 0.0, 1200.0]));
        let cost = json(series_chart(&[("Cost (USD)", &series(&[Some("0.000000000"), Some("1.250000000"), Some("3.456789")]))], true));
        assert_eq!(cost["series"][0]["data"], serde_json::json!([0.0, 1.25, 3.46]), "rounded as the page shows money");
    }
}
