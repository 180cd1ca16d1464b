//! The breakdown table: one tab per dimension, sortable by any column.
//! Sorting runs in the browser on the loaded rows and compares exact values
//! (nano-USD for money, cross-multiplied integers for ratios). The users'
//! and sessions' rows are not sent with the panel: their tab asks for them
//! when it is opened.

use std::cmp::Ordering;

use leptos::prelude::*;

use crate::components::format::{count, percent, usd_rate};
use crate::components::Usd;
use crate::api::usage::{usage_breakdown, Breakdown, BreakdownRow, Dimension, PanelQuery};
use crate::erase::Erase;

/// Sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Events,
    Input,
    Output,
    Cost,
    CostPer1k,
    OutputRatio,
    CachedShare,
    Errors,
}

fn nanos(usd: &str) -> i64 {
    tollbooth::pricing::NanoUsd::parse_usd(usd).map(|n| n.nanos()).unwrap_or(0)
}

/// `a.0 / a.1` against `b.0 / b.1` without division; a zero denominator
/// (no ratio) sorts below every ratio.
fn cmp_ratio(a: (i64, i64), b: (i64, i64)) -> Ordering {
    match (a.1 == 0, b.1 == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => (i128::from(a.0) * i128::from(b.1)).cmp(&(i128::from(b.0) * i128::from(a.1))),
    }
}

/// Orders two rows by `key`, ascending.
pub fn compare(key: SortKey, a: &BreakdownRow, b: &BreakdownRow) -> Ordering {
    let per_1k = |r: &BreakdownRow| r.cost_per_1k_usd.as_deref().map(nanos);
    match key {
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Events => a.events.cmp(&b.events),
        SortKey::Input => a.input_tokens.cmp(&b.input_tokens),
        SortKey::Output => a.output_tokens.cmp(&b.output_tokens),
        SortKey::Cost => a.cost.cmp(&b.cost),
        SortKey::CostPer1k => per_1k(a).cmp(&per_1k(b)),
        SortKey::OutputRatio => cmp_ratio((a.output_tokens, a.input_tokens), (b.output_tokens, b.input_tokens)),
        SortKey::CachedShare => cmp_ratio((a.cached_input_tokens, a.input_tokens), (b.cached_input_tokens, b.input_tokens)),
        SortKey::Errors => cmp_ratio((a.errors, a.events), (b.errors, b.events)),
    }
}

/// Output tokens per input token, two decimals (display only).
fn output_ratio(r: &BreakdownRow) -> String {
    if r.input_tokens == 0 {
        return "–".into();
    }
    format!("{:.2}", r.output_tokens as f64 / r.input_tokens as f64)
}

/// The chosen tab and sort, kept by the page so that they survive a change
/// of range (which renders the panel anew).
#[derive(Debug, Clone, Copy)]
pub struct TableState {
    pub dim: RwSignal<Dimension>,
    /// Column and descending?
    pub sort: RwSignal<(SortKey, bool)>,
}

impl Default for TableState {
    /// Models, largest cost first (the order the server sends).
    fn default() -> Self {
        TableState { dim: RwSignal::new(Dimension::Model), sort: RwSignal::new((SortKey::Cost, true)) }
    }
}

/// What the selected tab shows.
enum Shown {
    Rows { rows: Vec<BreakdownRow>, more: usize },
    Unavailable(String),
    Loading,
    Failed(String),
}

#[component]
pub fn BreakdownTable(breakdowns: Vec<Breakdown>, state: TableState, org_id: String, query: PanelQuery) -> impl IntoView {
    let TableState { dim, sort } = state;
    let breakdowns = StoredValue::new(breakdowns);
    let deferred = move |d: Dimension| breakdowns.with_value(|all| all.iter().any(|b| b.dimension == d && b.deferred));
    // The rows of a deferred tab, asked for when it is selected (in the
    // browser only: the server renders the first tab, models).
    let asked = LocalResource::new(move || {
        let d = dim.get();
        let ask = deferred(d).then(|| (org_id.clone(), query.clone(), d));
        async move {
            match ask {
                Some((org, q, d)) => Some(usage_breakdown(org, q, d).await.map_err(|e| e.message)),
                None => None,
            }
        }
    });
    let header = move |key: SortKey, label: &'static str, num: bool| {
        let aria = move || match sort.get() {
            (k, true) if k == key => "descending",
            (k, false) if k == key => "ascending",
            _ => "none",
        };
        let arrow = move || match sort.get() {
            (k, true) if k == key => " ▼",
            (k, false) if k == key => " ▲",
            _ => "",
        };
        let click = move |_| {
            sort.update(|(k, desc)| {
                if *k == key {
                    *desc = !*desc;
                } else {
                    // Names read best A→Z, figures largest first.
                    *k = key;
                    *desc = key != SortKey::Name;
                }
            })
        };
        view! {
            <th class:num=num aria-sort=aria>
                <button type="button" class="sort" on:click=click>{label}{arrow}</button>
            </th>
        }
    };
    let shown = move || {
        let d = dim.get();
        let (key, desc) = sort.get();
        let b = if deferred(d) {
            match asked.get().flatten() {
                Some(Ok(b)) if b.dimension == d => b,
                Some(Err(message)) => return Shown::Failed(message),
                _ => return Shown::Loading,
            }
        } else {
            match breakdowns.with_value(|all| all.iter().find(|b| b.dimension == d).cloned()) {
                Some(b) => b,
                None => return Shown::Rows { rows: vec![], more: 0 },
            }
        };
        if let Some(why) = b.unavailable {
            return Shown::Unavailable(why);
        }
        let mut rows = b.rows;
        rows.sort_by(|a, b| {
            let o = compare(key, a, b);
            if desc { o.reverse() } else { o }
        });
        Shown::Rows { rows, more: b.more }
    };
    view! {
        <section class="breakdown" data-testid="breakdown">
            <div class="section-head">
                <h2>"Breakdown"</h2>
                <div class="tabs" role="tablist" aria-label="Group by">
                    {Dimension::ALL
                        .into_iter()
                        .map(|d| view! {
                            <button type="button" role="tab" aria-selected=move || (dim.get() == d).to_string()
                                on:click=move |_| dim.set(d)>{d.label()}</button>
                        })
                        .collect_view()}
                </div>
            </div>
            {move || {
                let d = dim.get();
                let (rows, more) = match shown() {
                    Shown::Rows { rows, more } => (rows, more),
                    Shown::Unavailable(why) => return view! { <p class="empty" data-testid="breakdown-unavailable">{why}</p> }.erase(),
                    Shown::Loading => return view! { <p class="loading" data-testid="breakdown-loading">"Loading…"</p> }.erase(),
                    Shown::Failed(message) => return view! { <p class="error" role="alert">{message}</p> }.erase(),
                };
                if rows.is_empty() {
                    return view! { <p class="empty">"No usage in this range."</p> }.erase();
                }
                let is_model = d == Dimension::Model;
                view! {
                    <table class="table" data-testid="breakdown-table">
                        <thead><tr>
                            {header(SortKey::Name, d.label(), false)}
                            {header(SortKey::Events, "Events", true)}
                            {header(SortKey::Input, "Input", true)}
                            {header(SortKey::Output, "Output", true)}
                            {header(SortKey::Cost, "Cost", true)}
                            {header(SortKey::CostPer1k, "$ / 1k tokens", true)}
                            {header(SortKey::OutputRatio, "Out / in", true)}
                            {header(SortKey::CachedShare, "Cached input", true)}
                            {header(SortKey::Errors, "Errors", true)}
                            {is_model.then(|| view! { <th class="num">"p95 latency"</th> })}
                        </tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| {
                                let all_unpriced = r.unpriced_events > 0 && r.events == r.unpriced_events;
                                view! {
                                    <tr>
                                        <td>{if r.name.is_empty() { view! { <span class="muted">"(none)"</span> }.erase() } else { r.name.clone().erase() }}</td>
                                        <td class="num">{count(r.events)}</td>
                                        <td class="num">{count(r.input_tokens)}</td>
                                        <td class="num">{count(r.output_tokens)}</td>
                                        <td class="num">{if all_unpriced { "unpriced".erase() } else { view! { <Usd amount=r.cost /> }.erase() }}
                                            {(r.partial_events > 0).then(|| view! {
                                                <span class="sub partial" title="Some units of these events have no price">{format!("{} partly priced", count(r.partial_events))}</span>
                                            })}
                                        </td>
                                        <td class="num">{r.cost_per_1k_usd.as_deref().map(usd_rate).unwrap_or_else(|| "–".into())}</td>
                                        <td class="num">{output_ratio(&r)}</td>
                                        <td class="num">{percent(r.cached_input_tokens, r.input_tokens)}</td>
                                        <td class="num">{percent(r.errors, r.events)}</td>
                                        {is_model.then(|| view! {
                                            <td class="num">{r.p95_latency_ms.map(|l| format!("≤ {l} ms")).unwrap_or_else(|| "–".into())}</td>
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {(more > 0).then(|| view! { <p class="muted">{format!("{more} more with smaller cost not shown.")}</p> })}
                }.erase()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cost: &str, input: i64, output: i64) -> BreakdownRow {
        BreakdownRow {
            name: name.into(),
            events: 1,
            requests: 1,
            errors: 0,
            input_tokens: input,
            cached_input_tokens: 0,
            output_tokens: output,
            cost: tollbooth::pricing::NanoUsd::parse_usd(cost).unwrap(),
            unpriced_events: 0,
            partial_events: 0,
            cost_per_1k_usd: None,
            p95_latency_ms: None,
        }
    }

    #[test]
    fn money_sorts_exactly_and_ratios_without_division() {
        // 0.1 + 0.2 style amounts that f64 would blur are distinct nanos.
        let a = row("a", "0.300000001", 10, 1);
        let b = row("b", "0.300000000", 3, 1);
        assert_eq!(compare(SortKey::Cost, &a, &b), Ordering::Greater);
        assert_eq!(compare(SortKey::OutputRatio, &a, &b), Ordering::Less);
        let none = row("c", "0", 0, 5);
        assert_eq!(compare(SortKey::OutputRatio, &none, &a), Ordering::Less);
        assert_eq!(compare(SortKey::Name, &row("B", "0", 0, 0), &row("a", "0", 0, 0)), Ordering::Greater);
    }
}
