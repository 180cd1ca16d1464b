//! Alerts in the organization shell: the bell with the unread count and the
//! banner of budgets at 80% or more this period; and the small formatting
//! helpers the alert pages share.

use leptos::prelude::*;

use tollbooth::budgets::banner::BudgetBanner;

use crate::api::alerts::AlertSummary;
use crate::components::format::{readable_time, usd, usd_exact};
use crate::data::Data;
use crate::error::AppError;

/// The bell's accessible name: the count in words a screen reader says.
pub fn bell_label(unread: Option<i64>) -> String {
    match unread {
        Some(n) => format!("Alerts ({n} unread)"),
        None => "Alerts".to_string(),
    }
}

/// The badge text: the count, capped so the badge stays small.
pub fn badge_text(unread: i64) -> String {
    if unread > 99 {
        "99+".to_string()
    } else {
        unread.to_string()
    }
}

/// The sentence of a budget banner, its amounts rounded for people.
pub fn banner_text(b: &BudgetBanner) -> String {
    format!("Budget \u{201c}{}\u{201d} is at {}% ({} of {}) this period", b.name, b.percent, usd(&b.spent_usd), usd(&b.amount_usd))
}

/// The banner's exact amounts, for its tooltip when either is rounded.
pub fn banner_exact(b: &BudgetBanner) -> Option<String> {
    (usd_exact(&b.spent_usd).is_some() || usd_exact(&b.amount_usd).is_some())
        .then(|| format!("Exactly ${} of ${}", b.spent_usd, b.amount_usd))
}

/// The bell: links to the alerts page; the badge shows the unread count and
/// is hidden at zero.
#[component]
pub fn Bell(href: String, summary: Data<Result<AlertSummary, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || {
                let href = href.clone();
                Suspend::new(async move {
                    let unread = summary.await.ok().map(|s| s.unread);
                    let label = bell_label(unread);
                    view! {
                        <a class="bell" href=href aria-label=label.clone() title=label data-testid="alerts-bell">
                            <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none"
                                stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
                                <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
                                <path d="M13.73 21a2 2 0 0 1-3.46 0" />
                            </svg>
                            {unread.filter(|n| *n > 0).map(|n| view! {
                                <span class="bell-count" aria-hidden="true" data-testid="alerts-unread">{badge_text(n)}</span>
                            })}
                        </a>
                    }
                })
            }}
        </Transition>
    }
}

/// One banner per budget at 80% or more of its amount this period; danger
/// style once it is spent.
#[component]
pub fn BudgetBanners(budgets_href: String, summary: Data<Result<AlertSummary, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || {
                let href = budgets_href.clone();
                Suspend::new(async move {
                    let banners = summary.await.map(|s| s.banners).unwrap_or_default();
                    banners
                        .into_iter()
                        .map(|b| {
                            let class = if b.exhausted { "budget-banner danger" } else { "budget-banner" };
                            view! {
                                <div class=class role="status" data-testid="budget-banner" data-budget-id=b.budget_id.clone()>
                                    <span title=banner_exact(&b)>
                                        {banner_text(&b)}
                                        <span class="until">"Period ends " {readable_time(&b.period_end)}</span>
                                    </span>
                                    <a href=href.clone() class="button-link">"View budgets"</a>
                                </div>
                            }
                        })
                        .collect_view()
                })
            }}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bell_says_how_many_are_unread() {
        assert_eq!(bell_label(Some(3)), "Alerts (3 unread)");
        assert_eq!(bell_label(None), "Alerts");
        assert_eq!(badge_text(7), "7");
        assert_eq!(badge_text(150), "99+");
    }

    #[test]
    fn a_banner_names_the_budget_and_exact_amounts() {
        let b = BudgetBanner {
            budget_id: "b".into(),
            name: "Org monthly".into(),
            percent: "85.00".into(),
            spent_usd: "0.85".into(),
            amount_usd: "1.00".into(),
            period_end: "2026-12-01T00:00:00Z".into(),
            exhausted: false,
        };
        assert_eq!(banner_text(&b), "Budget \u{201c}Org monthly\u{201d} is at 85.00% ($0.85 of $1.00) this period");
        assert_eq!(banner_exact(&b), None);
        let rounded = BudgetBanner { spent_usd: "42.123456".into(), amount_usd: "50.00".into(), percent: "84.24".into(), ..b };
        assert_eq!(banner_text(&rounded), "Budget \u{201c}Org monthly\u{201d} is at 84.24% ($42.12 of $50.00) this period");
        assert_eq!(banner_exact(&rounded).as_deref(), Some("Exactly $42.123456 of $50.00"));
    }
}
