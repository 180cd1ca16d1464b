//! End users: `/o/:org/users` lists the people the organization's product
//! serves (the `user_id` of events) with this period's usage against their
//! per-user limits, searchable and sortable, with the default limits and
//! their switch; `/o/:org/user?id=…` is one user's page: its limits, its
//! usage panel and the override form. Everyone in the organization reads
//! them; owners and admins change limits.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use tollbooth::end_users::{DayFigures, EndUserLimits, EndUserRow, EndUserUsage, LimitSettings, LimitValues, UsageFigures};

use crate::api::users::{end_user, list_end_users, SaveUserLimitSettings, SetEndUserLimits, PAGE};
use crate::components::format::{count, usd, usd_exact};
use crate::components::layout::{use_org, use_org_id};
use crate::components::{action_error, Loaded};
use crate::data::data;
use crate::erase::Erase;
use crate::pages::usage::limits::{amounts, Meter};
use crate::url::encode_query;

fn can_manage() -> bool {
    use_org().role >= tollbooth::orgs::Role::Admin
}

fn user_href(org: &str, user: &str) -> String {
    format!("/o/{org}/user?id={}", encode_query(user))
}

/// Money for people, with the exact figure in the tooltip when rounded.
fn money(decimal: &str) -> impl IntoView {
    view! { <span title=usd_exact(decimal)>{usd(decimal)}</span> }
}

/// "Default", "Custom", "Unlimited", "Blocked".
fn mode_label(mode: &str) -> &'static str {
    match mode {
        "custom" => "Custom",
        "unlimited" => "Unlimited",
        "blocked" => "Blocked",
        _ => "Default",
    }
}

/// The limits in a sentence: "10,000 tokens a day · $5.00 a month · 60 requests a minute".
fn describe(v: &LimitValues) -> String {
    let mut parts = Vec::new();
    if let Some(n) = v.tokens_per_day {
        parts.push(format!("{} tokens a day", count(n)));
    }
    if let Some(c) = &v.cost_per_day_usd {
        parts.push(format!("{} a day", usd(c)));
    }
    if let Some(n) = v.tokens_per_month {
        parts.push(format!("{} tokens a month", count(n)));
    }
    if let Some(c) = &v.cost_per_month_usd {
        parts.push(format!("{} a month", usd(c)));
    }
    if let Some(n) = v.requests_per_minute {
        parts.push(format!("{} requests a minute", count(n)));
    }
    if parts.is_empty() { "no limits".to_string() } else { parts.join(" · ") }
}

/// The five limit inputs, prefilled.
#[component]
fn LimitInputs(values: LimitValues) -> impl IntoView {
    let n = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    view! {
        <div class="limit-inputs">
            <label>"Tokens per day" <input name="tokens_per_day" inputmode="numeric" placeholder="no limit" value=n(values.tokens_per_day) /></label>
            <label>"Cost per day (USD)" <input name="cost_per_day" inputmode="decimal" placeholder="no limit" value=values.cost_per_day_usd.clone().unwrap_or_default() /></label>
            <label>"Tokens per month" <input name="tokens_per_month" inputmode="numeric" placeholder="no limit" value=n(values.tokens_per_month) /></label>
            <label>"Cost per month (USD)" <input name="cost_per_month" inputmode="decimal" placeholder="no limit" value=values.cost_per_month_usd.clone().unwrap_or_default() /></label>
            <label>"Requests per minute" <input name="requests_per_minute" inputmode="numeric" placeholder="no limit" value=n(values.requests_per_minute) /></label>
        </div>
    }
}

/// `/o/:org/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let org_id = use_org_id();
    let q = use_query_map();
    let query = Memo::new(move |_| {
        q.with(|q| (q.get("q"), q.get("sort"), q.get("offset").and_then(|o| o.parse::<i64>().ok())))
    });
    let save = ServerAction::<SaveUserLimitSettings>::new();
    let page = data(
        move || (org_id.get(), query.get(), save.version().get()),
        |(org, (search, sort, offset), _)| list_end_users(org, search, sort, offset),
    );
    view! {
        <Title text="End users · Tollbooth" />
        <h1>"End users"</h1>
        <p class="muted">
            "The people your product serves, by the " <code>"user_id"</code> " of events, reservations and gateway calls, "
            "with this month's usage against their limits."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = page.await;
                view! {
                    <Loaded result ok=move |p| {
                        let org = org_id.get_untracked();
                        let (search, sort, offset) = query.get_untracked();
                        let offset = offset.unwrap_or(0);
                        let total = p.total;
                        let search_value = search.clone().unwrap_or_default();
                        let sorted = sort.clone().unwrap_or_else(|| "cost_month".to_string());
                        let searching = !search.as_deref().unwrap_or("").is_empty();
                        view! {
                            <Defaults settings=p.settings.clone() save />
                            <Form method="GET" action="" attr:class="filters" attr:aria-label="Find end users">
                                <div class="filter-fields">
                                    <label>"Search " <input type="search" name="q" placeholder="user id" value=search_value /></label>
                                    <label>"Sort by "
                                        <select name="sort">
                                            {[("cost_month", "Cost this month"), ("tokens_month", "Tokens this month"), ("cost_today", "Cost today"),
                                              ("tokens_today", "Tokens today"), ("requests", "Requests this month"), ("user_id", "User id")]
                                                .into_iter()
                                                .map(|(v, l)| view! { <option value=v selected=sorted == v>{l}</option> })
                                                .collect_view()}
                                        </select>
                                    </label>
                                    <button type="submit" class="small">"Show"</button>
                                </div>
                            </Form>
                            {if p.users.is_empty() {
                                view! {
                                    <section class="card" data-testid="no-end-users">
                                        <p class="empty">{if searching { "No end user matches." } else { "No end users this month yet." }}</p>
                                        <p class="muted">"Send a " <code>"user_id"</code> " with events (or OpenAI's " <code>"user"</code>
                                            ", Anthropic's " <code>"metadata.user_id"</code> " through the gateway) and each user shows here."</p>
                                    </section>
                                }.erase()
                            } else {
                                view! { <UsersTable org=org.clone() users=p.users /> }.erase()
                            }}
                            <Pager total offset search sort />
                        }
                    } />
                }
            })}
        </Transition>
    }
}

#[component]
fn Pager(total: i64, offset: i64, search: Option<String>, sort: Option<String>) -> impl IntoView {
    let link = move |offset: i64| {
        let mut parts = vec![format!("offset={offset}")];
        if let Some(s) = search.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("q={}", encode_query(s)));
        }
        if let Some(s) = sort.as_deref() {
            parts.push(format!("sort={}", encode_query(s)));
        }
        format!("?{}", parts.join("&"))
    };
    (total > PAGE).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {(offset > 0).then(|| view! { <a href=link((offset - PAGE).max(0))>"← Previous"</a> })}
                <span class="muted">{format!("{}–{} of {}", offset + 1, (offset + PAGE).min(total), count(total))}</span>
                {(offset + PAGE < total).then(|| view! { <a href=link(offset + PAGE)>"Next →"</a> })}
            </nav>
        }
    })
}

#[component]
fn UsersTable(org: String, users: Vec<EndUserRow>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table end-users" data-testid="end-users">
                <thead><tr>
                    <th>"User"</th>
                    <th class="num">"Tokens today"</th>
                    <th class="num">"Cost today"</th>
                    <th class="num">"Tokens this month"</th>
                    <th class="num">"Cost this month"</th>
                    <th class="num">"Requests"</th>
                    <th>"Nearest limit"</th>
                    <th>"Limits"</th>
                </tr></thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let nearest = u.nearest().cloned();
                        let href = user_href(&org, &u.user_id);
                        let id = u.user_id.clone();
                        view! {
                            <tr data-user=u.user_id.clone()>
                                <td><A href=href>{id}</A>
                                    {u.last_active.clone().map(|d| view! { <span class="sub">"last active " {d}</span> })}</td>
                                <td class="num">{count(u.today.tokens)}</td>
                                <td class="num">{money(&u.today.cost_usd)}</td>
                                <td class="num">{count(u.month.tokens)}</td>
                                <td class="num">{money(&u.month.cost_usd)}</td>
                                <td class="num">{count(u.month.requests)}</td>
                                <td>{match nearest {
                                    Some(l) => view! {
                                        <div class=if l.is_exhausted() { "mini-meter exhausted" } else if l.is_warning() { "mini-meter warning" } else { "mini-meter" }
                                            title=amounts(&l)>
                                            <span class="bar"><span style=format!("width: {}", crate::pages::usage::limits::bar_width(&l))></span></span>
                                            <span class="sub">{amounts(&l)}</span>
                                        </div>
                                    }.erase(),
                                    None => view! { <span class="muted">"—"</span> }.erase(),
                                }}</td>
                                <td><span class=format!("badge mode-{}", u.mode)>{mode_label(&u.mode)}</span>
                                    {(u.status == "free" && u.mode != "unlimited").then(|| view! { <span class="sub">"not limited"</span> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The default limits of every end user and the switch.
#[component]
fn Defaults(settings: LimitSettings, save: ServerAction<SaveUserLimitSettings>) -> impl IntoView {
    let manage = can_manage();
    let org_id = use_org_id();
    // Open while it needs filling in, and after a save (to show the result).
    let open = (settings.enabled && settings.defaults.is_empty()) || save.version().get_untracked() > 0;
    let summary = if settings.enabled {
        format!("On: every end user may use {}, unless overridden.", describe(&settings.defaults))
    } else {
        "Off: no per-user limit applies (overrides included).".to_string()
    };
    view! {
        <section class="card" data-testid="user-limit-defaults">
            <h2>"Per-user limits"</h2>
            <p data-testid="user-limits-summary">{summary}</p>
            <details open=open>
                <summary>{if manage { "Change default limits" } else { "Default limits" }}</summary>
                <p class="muted">"Checked by quota checks, reservations and the gateway like plan limits: a call that would pass a user's limit is refused (429, naming the user's limit). Blank is no limit; cost in USD."</p>
                <ActionForm action=save>
                    <input type="hidden" name="org_id" value=org_id.get_untracked() />
                    <fieldset disabled=!manage>
                        <label class="inline"><input type="checkbox" name="enabled" checked=settings.enabled />"Per-user limits on"</label>
                        <LimitInputs values=settings.defaults.clone() />
                        <button type="submit">"Save per-user limits"</button>
                    </fieldset>
                </ActionForm>
                {(!manage).then(|| view! { <p class="muted">"Only owners and admins can change limits."</p> })}
            </details>
            {action_error(save.value())}
        </section>
    }
}

/// `/o/:org/user?id=…`: one end user.
#[component]
pub fn UserPage() -> impl IntoView {
    let org_id = use_org_id();
    let q = use_query_map();
    let user_id = Memo::new(move |_| q.with(|q| q.get("id")).unwrap_or_default());
    let set = ServerAction::<SetEndUserLimits>::new();
    let data = data(move || (org_id.get(), user_id.get(), set.version().get()), |(org, user, _)| end_user(org, user));
    view! {
        <Title text="End user · Tollbooth" />
        <p><A href=move || format!("/o/{}/users", org_id.get())>"← End users"</A></p>
        <h1 class="user-id">{move || user_id.get()}</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = data.await;
                view! {
                    <Loaded result ok=move |(limits, usage)| view! { <UserDetail limits usage set /> } />
                }
            })}
        </Transition>
    }
}

#[component]
fn UserDetail(limits: EndUserLimits, usage: EndUserUsage, set: ServerAction<SetEndUserLimits>) -> impl IntoView {
    let org = use_org_id().get_untracked();
    let status = match limits.status.as_str() {
        "blocked" => "Blocked: every reservation and gateway call of this user is refused.".to_string(),
        "limited" => format!("Limited: {}.", describe(&limits.effective)),
        _ if !limits.enabled => "Not limited: per-user limits are off for the organization.".to_string(),
        _ => "Not limited.".to_string(),
    };
    let events = format!("/o/{org}?range=30d&user={}", encode_query(&limits.user_id));
    // Type-erased parts: one nested view would overflow the compiler's depth limit.
    let head = view! {
        <p data-testid="user-status"><span class=format!("badge mode-{}", limits.mode)>{mode_label(&limits.mode)}</span> " " {status}</p>
        <div class="cards">
            <Figures title="Today" f=limits.today.clone() />
            <Figures title="This month" f=limits.month.clone() />
        </div>
    }
    .erase();
    let meters = (!limits.lines.is_empty())
        .then(|| {
            view! {
                <section class="card limits">
                    <h2>"Limits"</h2>
                    <ul class="meters">{limits.lines.clone().into_iter().map(|line| view! { <Meter line /> }).collect_view()}</ul>
                </section>
            }
            .erase()
        });
    let form = view! { <OverrideForm limits=limits.clone() set /> }.erase();
    let daily = view! {
        <section class="card">
            <h2>"Last 30 days"</h2>
            <DailyBars days=usage.days.clone() />
            <p><a href=events>"This user's events in the usage panel →"</a></p>
        </section>
    }
    .erase();
    let models = if usage.models.is_empty() {
        view! { <p class="empty">"No usage this month."</p> }.erase()
    } else {
        view! {
            <table class="table" data-testid="user-models">
                <thead><tr><th>"Model"</th><th class="num">"Requests"</th><th class="num">"Errors"</th><th class="num">"Tokens"</th><th class="num">"Cost"</th></tr></thead>
                <tbody>{usage.models.into_iter().map(|m| view! {
                    <tr><td class="model">{m.model}</td><td class="num">{count(m.requests)}</td><td class="num">{count(m.errors)}</td>
                        <td class="num">{count(m.tokens)}</td><td class="num">{money(&m.cost_usd)}</td></tr>
                }).collect_view()}</tbody>
            </table>
        }
        .erase()
    };
    view! {
        {head}
        {meters}
        {form}
        {daily}
        <section class="card">
            <h2>"This month by model"</h2>
            {models}
        </section>
    }
}

#[component]
fn Figures(title: &'static str, f: UsageFigures) -> impl IntoView {
    view! {
        <section class="card figure" data-testid=format!("user-{}", title.to_lowercase().replace(' ', "-"))>
            <h2>{title}</h2>
            <p class="big">{money(&f.cost_usd)}</p>
            <p class="muted">{count(f.tokens)} " tokens · " {count(f.requests)} {if f.requests == 1 { " request" } else { " requests" }}</p>
        </section>
    }
}

/// Daily cost as bars (SVG, exact heights from nano-USD in integers).
#[component]
fn DailyBars(days: Vec<DayFigures>) -> impl IntoView {
    let max = days.iter().map(|d| d.cost_nanos).max().unwrap_or(0).max(1);
    let w = 12;
    let view_box = format!("0 0 {} 60", days.len() * w);
    view! {
        <svg class="daily-bars" viewBox=view_box preserveAspectRatio="none" role="img" aria-label="Daily cost, last 30 days">
            {days.into_iter().enumerate().map(|(i, d)| {
                let h = ((d.cost_nanos as i128 * 56) / max as i128) as i64;
                view! {
                    <rect x=(i * w + 1).to_string() y=(60 - h.max(1)).to_string() width=(w - 2).to_string() height=h.max(1).to_string()>
                        <title>{format!("{}: {} · {} tokens", d.date, usd(&d.cost_usd), count(d.tokens))}</title>
                    </rect>
                }
            }).collect_view()}
        </svg>
    }
}

/// The user's override: the defaults, custom limits, unlimited or blocked.
#[component]
fn OverrideForm(limits: EndUserLimits, set: ServerAction<SetEndUserLimits>) -> impl IntoView {
    let manage = can_manage();
    let org_id = use_org_id();
    let own = limits.own.clone().unwrap_or_default();
    let mode = limits.mode.clone();
    view! {
        <section class="card" data-testid="user-override">
            <h2>"This user's limits"</h2>
            <ActionForm action=set>
                <input type="hidden" name="org_id" value=org_id.get_untracked() />
                <input type="hidden" name="user_id" value=limits.user_id.clone() />
                <fieldset disabled=!manage>
                    <div class="modes">
                        {[("default", "Organization defaults"), ("custom", "Custom limits"), ("unlimited", "Unlimited"), ("blocked", "Blocked")]
                            .into_iter()
                            .map(|(v, l)| view! {
                                <label class="inline"><input type="radio" name="mode" value=v checked=mode == v />{l}</label>
                            })
                            .collect_view()}
                    </div>
                    <p class="muted">"Custom: each limit set here replaces the default; one left blank keeps the default."</p>
                    <LimitInputs values=own />
                    <button type="submit">"Save this user's limits"</button>
                </fieldset>
            </ActionForm>
            {(!manage).then(|| view! { <p class="muted">"Only owners and admins can change limits."</p> })}
            {action_error(set.value())}
            {move || set.value().get().and_then(Result::ok).map(|l| view! {
                <p class="ok" role="status">"Saved: " {mode_label(&l.mode)} "."</p>
            })}
        </section>
    }
}
