//! Billing in the organization shell: the dunning banner (the formatters
//! the billing pages share are in [`super::format`]).

use leptos::prelude::*;

use super::format::date_label;

/// The sentence of the dunning banner.
pub fn dunning_text(grace_until: &str) -> String {
    format!(
        "Payment failed. Update your payment method by {} or this organization moves to Starter.",
        date_label(grace_until)
    )
}

/// Shown on every organization page while a failed payment's grace period runs.
#[component]
pub fn DunningBanner(grace_until: Option<String>, billing_href: String) -> impl IntoView {
    grace_until.map(|until| {
        view! {
            <div class="budget-banner danger dunning-banner" role="alert" data-testid="dunning-banner">
                <span>{dunning_text(&until)}</span>
                <a href=billing_href class="button-link">"Go to billing"</a>
            </div>
        }
    })
}

/// Shown on every organization page while a trial runs ("Pro trial: 9
/// days left", a warning in its last 3 days) and for a week after it
/// expired, with the way to pay.
#[component]
pub fn TrialBanner(trial: Option<tollbooth::trials::TrialNotice>, billing_href: String) -> impl IntoView {
    trial.map(|n| {
        let class = match n.kind.as_str() {
            "active" => "budget-banner trial-banner info",
            "ending" => "budget-banner trial-banner",
            _ => "budget-banner trial-banner danger",
        };
        let text = tollbooth::trials::notice_text(&n);
        let until = (n.kind != "expired").then(|| format!("Ends {}", date_label(&n.ends_at)));
        view! {
            <div class=class role="status" data-testid="trial-banner" data-kind=n.kind.clone()>
                <span>{text}{until.map(|u| view! { <span class="until">{u}</span> })}</span>
                <a href=billing_href class="button-link">"Upgrade"</a>
            </div>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dunning_banner_names_the_day() {
        assert_eq!(
            dunning_text("2026-11-30T14:00:00+01:00"),
            "Payment failed. Update your payment method by 30 Nov 2026 or this organization moves to Starter."
        );
    }
}
