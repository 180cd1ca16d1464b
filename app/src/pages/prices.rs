//! The price book for platform admins: search (`/admin/prices`), one model
//! with its history and an override form (`/admin/prices/model?name=…`),
//! and a form to add a custom model (`/admin/prices/new?name=…`).
//!
//! Model names contain `/` and `:`, so they travel as a query parameter.
//! Prices are shown and typed exactly: token prices in USD per 1M tokens.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, Redirect};
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use tollbooth::pricing::{Mode, PriceFields, PriceKind};

use crate::api::prices::{admin_price_detail, admin_prices, AdminAddCustomModel, AdminOverridePrice, PriceDetail, PricesPage};
use crate::components::{action_error, ErrorMessage};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;
use crate::url::encode_query;

/// The page of one model.
pub fn model_href(name: &str) -> String {
    format!("/admin/prices/model?name={}", encode_query(name))
}

/// The form adding `name` as a custom model.
pub fn new_model_href(name: &str) -> String {
    format!("/admin/prices/new?name={}", encode_query(name))
}

fn list_href(q: &str, provider: &str, mode: &str, page: i64) -> String {
    format!(
        "/admin/prices?q={}&provider={}&mode={}&page={page}",
        encode_query(q),
        encode_query(provider),
        encode_query(mode)
    )
}

/// An exact decimal as dollars with at least cents: `2.5` → `$2.50`,
/// `0.075` → `$0.075`. String work only: the digits are never rounded.
pub fn dollars(exact: &str) -> String {
    let (int, frac) = exact.split_once('.').unwrap_or((exact, ""));
    format!("${int}.{frac:0<2}")
}

fn cell(v: &Option<String>) -> String {
    v.as_deref().map(dollars).unwrap_or_else(|| "–".into())
}

fn since(ms: i64) -> String {
    if ms == 0 { "the start".into() } else { format_time(ms) }
}

/// What to show when a server function refused: sign in, or the message.
fn refused(e: AppError) -> AnyView {
    if e.is_unauthorized() {
        view! { <Redirect path="/login" /> }.erase()
    } else {
        view! { <ErrorMessage message=e.message /> }.erase()
    }
}

/// The editable prices, named `prices[<key>]` for the server function.
#[component]
fn PriceInputs(fields: PriceFields) -> impl IntoView {
    view! {
        <div class="price-grid">
            {PriceKind::ALL.into_iter().map(|kind| {
                let label = kind.label();
                let label = format!("{}{}", label[..1].to_uppercase(), &label[1..]);
                let unit = kind.unit().trim_start_matches("USD ").to_string();
                view! {
                    <label>
                        <span>{label} " " <span class="muted unit">{format!("($ {unit})")}</span></span>
                        <input name=format!("prices[{}]", kind.key()) value=fields.text(kind).to_string()
                            inputmode="decimal" autocomplete="off" />
                    </label>
                }
            }).collect_view()}
        </div>
    }
}

#[component]
fn EffectiveFrom() -> impl IntoView {
    view! {
        <label class="effective">
            "Effective from (UTC)"
            <input name="effective_from" placeholder="now, or e.g. 2030-01-31 09:00" autocomplete="off" />
            <span class="muted hint">"Empty: now. Past times are refused: costs already charged never change."</span>
        </label>
    }
}

/// `/admin/prices`: search and browse the price book.
#[component]
pub fn PricesPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        (get("q"), get("provider"), get("mode"), get("page").parse::<i64>().unwrap_or(1).max(1))
    });
    let data = data(move || params.get(), |(q, provider, mode, page)| admin_prices(q, provider, mode, page));
    view! {
        <Title text="Price book · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            <div class="title-row">
                <h1>"Price book"</h1>
                <a class="button-link" href="/admin/prices/new">"Add custom model"</a>
            </div>
            <p class="muted">"Prices in force now. Token prices are USD per 1M tokens; changes apply from their effective time and never reprice past events."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let (q, provider, mode, _) = params.get_untracked();
                    match data.await {
                        Ok(page) => price_list(page, q, provider, mode).erase(),
                        Err(e) => refused(e),
                    }
                })}
            </Transition>
        </div>
    }
}

/// Submits the form a changed filter belongs to (an event handler, not an
/// inline `onchange` attribute: the Content-Security-Policy forbids those).
fn submit_own_form(ev: leptos::ev::Event) {
    use wasm_bindgen::JsCast;
    let form = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok()).and_then(|s| s.form());
    if let Some(form) = form {
        let _ = form.request_submit();
    }
}

fn price_list(p: PricesPage, q: String, provider: String, mode: String) -> impl IntoView {
    let first = (p.page - 1) * p.per_page;
    let pages = (p.total + p.per_page - 1) / p.per_page;
    let prev = (p.page > 1).then(|| list_href(&q, &provider, &mode, p.page - 1));
    let next = (p.page < pages).then(|| list_href(&q, &provider, &mode, p.page + 1));
    let shown = if p.total == 0 {
        "No models match.".to_string()
    } else {
        format!("{}–{} of {} models", first + 1, first + p.lines.len() as i64, p.total)
    };
    let imports = p.imports.clone();
    view! {
        {last_import(imports)}
        <Form method="GET" action="/admin/prices" attr:class="row filters" attr:role="search">
            <label class="grow">"Search"
                <input type="search" name="q" value=q placeholder="model or provider, e.g. gpt-4o" autocomplete="off" />
            </label>
            <label>"Provider"
                <select name="provider" on:change=submit_own_form>
                    <option value="">"All providers"</option>
                    {p.providers.into_iter().map(|v| {
                        let selected = v == provider;
                        let label = v.clone();
                        view! { <option value=v selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Mode"
                <select name="mode" on:change=submit_own_form>
                    <option value="">"All modes"</option>
                    {p.modes.into_iter().map(|v| {
                        let selected = v == mode;
                        let label = v.replace('_', " ");
                        view! { <option value=v selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit">"Search"</button>
        </Form>
        <p class="muted" data-testid="price-count">{shown}</p>
        {(!p.lines.is_empty()).then(|| view! {
            <div class="table-scroll">
                <table class="table prices" data-testid="prices">
                    <thead><tr>
                        <th>"Model"</th><th>"Provider"</th><th>"Mode"</th>
                        <th class="num">"Input /1M"</th><th class="num">"Output /1M"</th>
                        <th class="num">"Cache read /1M"</th><th class="num">"Cache write /1M"</th>
                        <th class="num">"Per image"</th><th class="num">"Per second"</th>
                        <th>"Source"</th><th>"Effective from"</th>
                    </tr></thead>
                    <tbody>
                        {p.lines.into_iter().map(|l| view! {
                            <tr>
                                <td class="model"><a href=model_href(&l.model)>{l.model.clone()}</a>
                                    {(l.other_prices > 0).then(|| view! {
                                        <span class="more" title="Other prices: reasoning, request, tiers, batch…">{format!("+{} more", l.other_prices)}</span>
                                    })}
                                </td>
                                <td>{l.provider}</td>
                                <td class="nowrap">{l.mode.map(|m| m.replace('_', " ")).unwrap_or_default()}</td>
                                <td class="num">{cell(&l.input)}</td>
                                <td class="num">{cell(&l.output)}</td>
                                <td class="num">{cell(&l.cache_read)}</td>
                                <td class="num">{cell(&l.cache_write)}</td>
                                <td class="num">{cell(&l.per_image)}</td>
                                <td class="num">{cell(&l.per_second)}</td>
                                <td>{l.source.map(|s| view! { <span class=format!("badge {s}")>{s.clone()}</span> })}</td>
                                <td class="nowrap">{l.effective_from.map(since).unwrap_or_else(|| "not yet".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
        {resolved_names(p.resolved_names)}
        {(pages > 1).then(|| view! {
            <nav class="pager" aria-label="Pages">
                {match prev {
                    Some(href) => view! { <a href=href rel="prev">"← Previous"</a> }.erase(),
                    None => view! { <span class="muted">"← Previous"</span> }.erase(),
                }}
                <span>{format!("Page {} of {pages}", p.page)}</span>
                {match next {
                    Some(href) => view! { <a href=href rel="next">"Next →"</a> }.erase(),
                    None => view! { <span class="muted">"Next →"</span> }.erase(),
                }}
            </nav>
        })}
    }
}

/// When and from where the price book was last imported, and the imports before.
fn last_import(imports: Vec<tollbooth::pricing::imports::ImportRecord>) -> impl IntoView {
    use tollbooth::pricing::imports::Trigger;
    let how = |t: Trigger| match t {
        Trigger::Cli => "tollbooth prices import",
        Trigger::Scheduled => "scheduled refresh (TOLLBOOTH_PRICES_URL)",
        Trigger::FirstStart => "first start (shipped catalog)",
    };
    match imports.first().cloned() {
        None => view! { <p class="muted" data-testid="last-import">"No import recorded yet."</p> }.erase(),
        Some(last) => view! {
            <p data-testid="last-import">"Last imported " <b>{format_time(last.imported_at_ms)}</b> " from " <code>{last.source.clone()}</code>
                " by " {how(last.trigger)} ": " {last.added} " added, " {last.changed} " changed, " {last.unchanged}
                " unchanged; changes effective from " {since(last.effective_from_ms)} "."</p>
            {(imports.len() > 1).then(|| view! {
                <details><summary>"Earlier imports"</summary>
                    <ul>{imports.into_iter().skip(1).map(|i| view! {
                        <li>{format_time(i.imported_at_ms)} " — " <code>{i.source.clone()}</code> " (" {how(i.trigger)} "): "
                            {i.added} " added, " {i.changed} " changed"</li>
                    }).collect_view()}</ul>
                </details>
            })}
        }.erase(),
    }
}

/// The names events sent that were priced with another entry (alias
/// resolution: exact, provider + name, without a provider prefix, without
/// a region), so an operator sees which entry prices what.
fn resolved_names(names: Vec<tollbooth::metering::unpriced::ResolvedName>) -> impl IntoView {
    view! {
        <h2>"Names resolved to another entry (" {names.len()} ")"</h2>
        {if names.is_empty() {
            view! { <p class="empty">"Every event so far named its price-book entry exactly."</p> }.erase()
        } else {
            view! {
                <p class="muted">"Tried in this order: the exact name; the event's provider + \"/\" + name; the name without a known \
                    provider prefix; a Bedrock or Vertex region removed. Never another version of a model."</p>
                <div class="table-scroll">
                    <table class="table" data-testid="resolved-names">
                        <thead><tr><th>"Name sent"</th><th>"Provider sent"</th><th>"Priced as"</th>
                            <th class="num">"Events"</th><th class="num">"Organizations"</th><th>"Last seen"</th></tr></thead>
                        <tbody>{names.into_iter().map(|n| view! {
                            <tr>
                                <td><code>{n.model.clone()}</code></td>
                                <td>{n.provider.clone()}</td>
                                <td><a href=model_href(&n.entry)>{n.entry.clone()}</a></td>
                                <td class="num">{n.events}</td>
                                <td class="num">{n.organizations}</td>
                                <td class="nowrap">{since(n.last_seen_ms)}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                </div>
            }.erase()
        }}
    }
}

/// `/admin/prices/model?name=…`: one model's prices over time, and an override.
#[component]
pub fn PriceDetailPage() -> impl IntoView {
    let query = use_query_map();
    let name = Memo::new(move |_| query.read().get("name").unwrap_or_default());
    let save = ServerAction::<AdminOverridePrice>::new();
    let detail = data(move || (name.get(), save.version().get()), |(n, _)| admin_price_detail(n));
    view! {
        <Title text="Model price · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin/prices">"← Price book"</a></p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => model_view(d, save).erase(),
                        Err(e) if e.is_not_found() => view! {
                            <h1>"Model not found"</h1>
                            <p>"No model " <code>{name.get_untracked()}</code> " in the price book. "
                                <a href=new_model_href(&name.get_untracked())>"Add it as a custom model"</a></p>
                        }.erase(),
                        Err(e) => refused(e),
                    }
                })}
            </Transition>
        </div>
    }
}

fn model_view(d: PriceDetail, save: ServerAction<AdminOverridePrice>) -> impl IntoView {
    let others = |f: &PriceFields| {
        [PriceKind::Reasoning, PriceKind::InputPerImage, PriceKind::OutputPerImage, PriceKind::InputPerSecond,
         PriceKind::OutputPerSecond, PriceKind::PerRequest, PriceKind::PerQuery]
            .into_iter()
            .filter(|k| !f.text(*k).is_empty())
            .map(|k| format!("{} {}", k.label().trim_end_matches(" price"), dollars(f.text(k))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <h1 class="model-name">{d.name.clone()}</h1>
        <p class="muted">{d.provider} {d.mode.map(|m| format!(" · {}", m.replace('_', " ")))}</p>
        <h2>"Price history"</h2>
        <div class="table-scroll">
            <table class="table history" data-testid="history">
                <thead><tr>
                    <th>"Effective from"</th><th>"Source"</th><th>"Status"</th>
                    <th class="num">"Input /1M"</th><th class="num">"Output /1M"</th>
                    <th class="num">"Cache read /1M"</th><th class="num">"Cache write /1M"</th><th>"Other"</th>
                </tr></thead>
                <tbody>
                    {d.history.into_iter().map(|h| {
                        let f = &h.prices;
                        let mut other = others(f);
                        if h.other_prices > 0 {
                            if !other.is_empty() { other.push_str("; "); }
                            other.push_str(&format!("+{} tier/batch prices kept", h.other_prices));
                        }
                        let tx = |k: PriceKind| cell(&Some(f.text(k).to_string()).filter(|t| !t.is_empty()));
                        view! {
                            <tr class=if h.status == "in force" { "current" } else { "" }>
                                <td class="nowrap">{since(h.effective_from)}</td>
                                <td><span class=format!("badge {}", h.source)>{h.source.clone()}</span></td>
                                <td>{h.status.clone()}</td>
                                <td class="num">{tx(PriceKind::Input)}</td>
                                <td class="num">{tx(PriceKind::Output)}</td>
                                <td class="num">{tx(PriceKind::CacheRead)}</td>
                                <td class="num">{tx(PriceKind::CacheWrite)}</td>
                                <td class="small">{other}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card">
            <h2>"Override prices"</h2>
            <p class="muted">"Prefilled with the prices in force now. Change what you need; an empty field means not priced. \
                Tiers and batch/priority prices are kept."</p>
            <ActionForm action=save>
                <input type="hidden" name="model" value=d.name />
                <PriceInputs fields=d.form />
                <div class="row">
                    <EffectiveFrom />
                    <button type="submit">"Save override"</button>
                </div>
            </ActionForm>
            {action_error(save.value())}
            {move || save.value().get().and_then(Result::ok).map(|from| view! {
                <p class="ok" role="status">"Override saved: the new prices apply from " {format_time(from)} "."</p>
            })}
        </section>
    }
}

/// `/admin/prices/new?name=…`: add a model the price book does not know.
#[component]
pub fn NewModelPage() -> impl IntoView {
    let query = use_query_map();
    let add = ServerAction::<AdminAddCustomModel>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(name)) = add.value().get() {
            navigate(&model_href(&name), NavigateOptions::default());
        }
    });
    let prefill = query.read_untracked().get("name").unwrap_or_default();
    view! {
        <Title text="Add custom model · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin/prices">"← Price book"</a></p>
            <h1>"Add a custom model"</h1>
            <p class="muted">"For a model the catalog does not list (a fine-tune, a self-hosted model, a negotiated deal). \
                The name must be exactly what your events send as " <code>"model"</code> "."</p>
            <section class="card">
                <ActionForm action=add>
                    <div class="row">
                        <label class="grow">"Model name" <input name="name" required value=prefill placeholder="e.g. acme/llama-3-70b-ft:v2" autocomplete="off" /></label>
                        <label>"Provider" <input name="provider" required placeholder="e.g. self-hosted" autocomplete="off" /></label>
                        <label>"Mode"
                            <select name="mode">
                                <option value="">"(none)"</option>
                                {Mode::known().map(|m| view! { <option value=m selected=m == "chat">{m.replace('_', " ")}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    <PriceInputs fields=PriceFields::default() />
                    <div class="row">
                        <EffectiveFrom />
                        <button type="submit">"Add model"</button>
                    </div>
                </ActionForm>
                {action_error(add.value())}
            </section>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_survive_the_url() {
        assert_eq!(encode_query("bedrock/us.anthropic.claude:0"), "bedrock%2Fus.anthropic.claude%3A0");
        assert_eq!(encode_query("a b+c&d=é"), "a%20b%2Bc%26d%3D%C3%A9");
        assert_eq!(model_href("x/y"), "/admin/prices/model?name=x%2Fy");
    }

    #[test]
    fn dollars_pad_to_cents_and_keep_every_digit() {
        assert_eq!(dollars("2.5"), "$2.50");
        assert_eq!(dollars("10"), "$10.00");
        assert_eq!(dollars("0.075"), "$0.075");
        assert_eq!(dollars("283.3333333333333"), "$283.3333333333333");
    }
}
