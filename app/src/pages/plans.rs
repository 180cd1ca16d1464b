//! `/o/:org/plans`: the plans on offer side by side, the current one marked.
//!
//! Also the wording of limits shared by the usage panel and the admin
//! pages: money amounts by the one rule for people
//! ([`crate::pages::usage::limits::amount`]), overage prices (rates) with all
//! their digits; "Unlimited" is the absence of a limit.

use leptos::prelude::*;
use leptos_meta::Title;
use tollbooth::plans::{Limit, Metric, Period, PlanView};
use tollbooth::pricing::NanoUsd;

use crate::api::plans::list_plans;
use crate::components::layout::use_org_id;
use crate::components::Loaded;
use crate::data::data;
use crate::erase::Erase;

/// The rows every plan comparison starts with, in the order people look for them.
const MAIN_ROWS: [(Metric, Period, &str); 6] = [
    (Metric::Projects, Period::Total, "Projects"),
    (Metric::Documents, Period::Total, "Documents"),
    (Metric::Tokens, Period::Month, "AI credits (tokens per month)"),
    (Metric::Members, Period::Total, "Members"),
    (Metric::Requests, Period::Minute, "Requests per minute"),
    (Metric::Tokens, Period::Minute, "Tokens per minute"),
];

/// What one extra unit of `metric` is called in an overage price.
fn unit(metric: Metric) -> &'static str {
    match metric {
        Metric::Tokens => "token",
        Metric::CostUsd => "USD",
        Metric::Requests => "request",
        Metric::Images => "image",
        Metric::VideoSeconds => "video second",
        Metric::ChatMessages => "chat message",
        Metric::Projects => "project",
        Metric::Documents => "document",
        Metric::Members => "member",
    }
}

/// The overage price of a soft limit as a person reads it: per 1M for
/// tokens (`$2.00 per 1M tokens`), per unit otherwise. Exact digits.
pub fn overage_label(metric: Metric, nanos: i64) -> String {
    if metric == Metric::Tokens {
        if let Some(per_million) = nanos.checked_mul(1_000_000) {
            return format!("${} per 1M tokens", NanoUsd::from_nanos(per_million).to_short_usd_string());
        }
    }
    format!("${} per {}", NanoUsd::from_nanos(nanos).to_short_usd_string(), unit(metric))
}

/// A limit in a comparison cell: `Unlimited`, `100,000`, or for a soft limit
/// `1,000,000, then $2.00 per 1M tokens`.
pub fn limit_cell(limit: Option<&Limit>) -> String {
    let Some(l) = limit else { return "Unlimited".to_string() };
    let value = crate::pages::usage::limits::amount(l.metric, l.value);
    match (l.hard, l.overage_nanos) {
        (true, _) => value,
        (false, Some(o)) => format!("{value}, then {}", overage_label(l.metric, o)),
        (false, None) => format!("{value} (soft)"),
    }
}

/// The comparison table: a label and one cell per plan for each row. The
/// main rows always show; any other limit one of the plans has follows.
pub fn comparison_rows(plans: &[PlanView]) -> Vec<(String, Vec<String>)> {
    let mut rows = vec![("Price".to_string(), plans.iter().map(PlanView::price_label).collect())];
    for (metric, period, label) in MAIN_ROWS {
        rows.push((label.to_string(), plans.iter().map(|p| limit_cell(p.limit(metric, period))).collect()));
    }
    for metric in Metric::ALL {
        for &period in metric.periods() {
            let main = MAIN_ROWS.iter().any(|(m, p, _)| *m == metric && *p == period);
            if main || !plans.iter().any(|p| p.limit(metric, period).is_some()) {
                continue;
            }
            let label = format!("{} {}", metric.label(), period.per()).trim().to_string();
            rows.push((label, plans.iter().map(|p| limit_cell(p.limit(metric, period))).collect()));
        }
    }
    rows
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let org_id = use_org_id();
    let data = data(move || org_id.get(), list_plans);
    view! {
        <Title text="Plans · Tollbooth" />
        <h1>"Plans"</h1>
        <p class="muted">"What each plan includes. Limits reset at the start of each month (or day) in your organization's time zone."</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let result = data.await;
                view! {
                    <Loaded result ok=move |value| match value {
                        choice => {
                            let billing = format!("/o/{}/billing", org_id.get_untracked());
                            comparison(choice.plans, choice.current, billing).erase()
                        }
                    } />
                }
                .erase()
            })}
        </Suspense>
    }
}

fn comparison(plans: Vec<PlanView>, current: String, billing: String) -> impl IntoView {
    let rows = comparison_rows(&plans);
    let is_current: Vec<bool> = plans.iter().map(|p| p.code == current).collect();
    let cls = move |i: usize| if is_current[i] { "plan current" } else { "plan" };
    view! {
        <div class="table-scroll">
            <table class="table plans" data-testid="plans">
                <thead>
                    <tr>
                        <th></th>
                        {plans.iter().enumerate().map(|(i, p)| view! {
                            <th class=cls(i) data-plan=p.code.clone() scope="col">
                                <span class="plan-name">{p.name.clone()}</span>
                                {(p.code == current).then(|| view! { <span class="badge current">"Current plan"</span> })}
                                <span class="sub">{p.description.clone()}</span>
                            </th>
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|(label, cells)| view! {
                        <tr>
                            <th scope="row">{label}</th>
                            {cells.into_iter().enumerate().map(|(i, c)| view! { <td class=cls(i)>{c}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                    <tr>
                        <th scope="row"></th>
                        {plans.iter().map(|p| {
                            let here = p.code == current;
                            let billing = billing.clone();
                            view! {
                                <td class=if here { "plan current" } else { "plan" }>
                                    {if here {
                                        view! { <span class="muted">"Your plan"</span> }.erase()
                                    } else {
                                        view! { <a class="button-link" href=billing>"Choose " {p.name.clone()}</a> }.erase()
                                    }}
                                </td>
                            }
                        }).collect_view()}
                    </tr>
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(metric: Metric, period: Period, value: i64, hard: bool, overage: Option<i64>) -> Limit {
        Limit { metric, period, value, hard, overage_nanos: overage }
    }

    fn plan(code: &str, price: i64, limits: Vec<Limit>) -> PlanView {
        PlanView {
            code: code.into(),
            name: code.into(),
            description: String::new(),
            monthly_price_nanos: price,
            is_public: true,
            sort_order: 0,
            archived_at: None,
            limits,
            stripe_price_id: None,
            retention_months: tollbooth::plans::DEFAULT_RETENTION_MONTHS,
            trial_days: 0,
            organizations: 0,
        }
    }

    #[test]
    fn cells_say_unlimited_or_the_exact_amount() {
        assert_eq!(limit_cell(None), "Unlimited");
        assert_eq!(limit_cell(Some(&limit(Metric::Tokens, Period::Month, 100_000, true, None))), "100,000");
        assert_eq!(
            limit_cell(Some(&limit(Metric::Tokens, Period::Month, 1_000_000, false, Some(2_000)))),
            "1,000,000, then $2.00 per 1M tokens"
        );
        assert_eq!(limit_cell(Some(&limit(Metric::Images, Period::Day, 50, false, None))), "50 (soft)");
        assert_eq!(overage_label(Metric::Images, 40_000_000), "$0.04 per image");
        assert_eq!(limit_cell(Some(&limit(Metric::CostUsd, Period::Month, 12_500_000_000, true, None))), "$12.50");
    }

    #[test]
    fn the_comparison_has_the_main_rows_then_other_limits() {
        let starter = plan("starter", 0, vec![limit(Metric::Projects, Period::Total, 3, true, None)]);
        let pro = plan("pro", 29_000_000_000, vec![limit(Metric::Images, Period::Day, 100, true, None)]);
        let rows = comparison_rows(&[starter, pro]);
        let labels: Vec<&str> = rows.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Price",
                "Projects",
                "Documents",
                "AI credits (tokens per month)",
                "Members",
                "Requests per minute",
                "Tokens per minute",
                "Images per day"
            ]
        );
        assert_eq!(rows[0].1, ["Free", "$29/month"]);
        assert_eq!(rows[1].1, ["3", "Unlimited"]);
        assert_eq!(rows[7].1, ["Unlimited", "100"]);
    }
}
