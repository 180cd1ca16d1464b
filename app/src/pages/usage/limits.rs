//! The usage panel's "Plan limits": one bar per limit of the plan (with the
//! organization's overrides), a warning from 80%, and a banner once a hard
//! limit is fully used, with the way to upgrade.

use leptos::prelude::*;
use tollbooth::plans::{Metric, Period};
use tollbooth::quota::{QuotaStatus, StatusLine};

use crate::api::plans::org_quota;
use crate::components::Loaded;
use crate::data::data;
use crate::erase::Erase;

/// `2026-12-01T00:00:00+01:00` → `2026-12-01 00:00`: the reset as the
/// organization's local time (the offset is the org's zone, already applied).
pub fn local_time(rfc3339: &str) -> String {
    match rfc3339.get(..16) {
        Some(head) if rfc3339.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => rfc3339.to_string(),
    }
}

/// "100,000 / 100,000 per month": use against the limit, exactly.
pub fn amounts(line: &StatusLine) -> String {
    let m = line.metric;
    let text = format!("{} / {} {}", amount(m, line.used), amount(m, line.limit), line.period.per());
    text.trim_end().to_string()
}

/// An amount of `metric` for people: money by the one rule
/// ([`crate::components::format::usd_nanos`]), counts with separators.
pub fn amount(metric: Metric, v: i64) -> String {
    if metric == Metric::CostUsd {
        crate::components::format::usd_nanos(v)
    } else {
        metric.format_amount(v)
    }
}

/// The bar's width, `0.0%` to `100.0%` (integer arithmetic on per mille).
pub fn bar_width(line: &StatusLine) -> String {
    let pm = line.per_mille().clamp(0, 1000);
    format!("{}.{}%", pm / 10, pm % 10)
}

/// The limit the banner is about: the first hard limit over a window (day,
/// month) that is used up. A standing count at its limit (1 of 1 members on
/// Starter) is a normal state, not an emergency: its bar says so instead.
pub fn banner_line(q: &QuotaStatus) -> Option<&StatusLine> {
    q.lines.iter().find(|l| l.is_exhausted() && l.period != Period::Total)
}

/// The banner for an exhausted hard limit: which limit, and when it resets.
pub fn banner_text(line: &StatusLine) -> String {
    let m = line.metric;
    let mut text = format!(
        "You have reached your {} limit: {} of {} {}.",
        m.label(),
        amount(m, line.used.saturating_add(line.reserved)),
        amount(m, line.limit),
        line.period.per()
    )
    .replace(" .", ".");
    match &line.reset_at {
        Some(reset) => text.push_str(&format!(" It resets on {}.", local_time(reset))),
        None => text.push_str(" Upgrade to add more."),
    }
    text
}

/// The plan, the banner when a hard limit is used up, and the bars.
/// `read_only` (a platform admin's drill-down) leaves out the members'
/// upgrade and plan links.
#[component]
pub fn PlanLimits(org_id: String, #[prop(optional)] read_only: bool) -> impl IntoView {
    let id = org_id.clone();
    // Read again when the shell's pulse says events were recorded.
    let changed = use_context::<crate::components::meter::UsagePulse>().map(|p| p.changed);
    let quota = data(move || (id.clone(), changed.map_or(0, |c| c.get())), |(id, _)| org_quota(id));
    // A Transition: a live refetch keeps the bars on screen until the new ones arrive.
    view! {
        <Transition>
            {move || {
                let org_id = org_id.clone();
                Suspend::new(async move {
                    let result = quota.await;
                    view! {
                        <Loaded result ok=move |value| match value {
                            q => view! { <Limits org_id q read_only /> }.erase(),
                        } />
                    }
                    .erase()
                })
            }}
        </Transition>
    }
}

#[component]
fn Limits(org_id: String, q: QuotaStatus, read_only: bool) -> impl IntoView {
    let billing = format!("/o/{org_id}/billing");
    let plans = format!("/o/{org_id}/plans");
    let banner = banner_line(&q).map(banner_text);
    view! {
        {banner.map(|text| view! {
            <div class="limit-banner" role="alert" data-testid="limit-banner">
                <span>{text}</span>
                {(!read_only).then(|| view! { <a class="button-link primary" href=billing.clone()>"Upgrade"</a> })}
            </div>
        })}
        <section class="card plan-limits" data-testid="plan-limits" aria-label="Plan limits">
            <div class="section-head">
                <h2>"Plan limits"</h2>
                <span>"Plan: " <strong data-testid="plan-name">{q.plan_name.clone()}</strong>
                    {(!read_only).then(|| view! { " · " <a href=plans>"Compare plans"</a> })}</span>
            </div>
            {if q.lines.is_empty() {
                let note = if q.is_demo { "Demo mode: no limits apply; usage is tracked." } else { "No limits on this plan." };
                view! { <p class="muted">{note}</p> }.erase()
            } else {
                view! {
                    <ul class="meters">
                        {q.lines.into_iter().map(|l| view! { <Meter line=l /> }).collect_view()}
                    </ul>
                }.erase()
            }}
        </section>
    }
}

#[component]
pub(crate) fn Meter(line: StatusLine) -> impl IntoView {
    let class = if line.is_exhausted() && line.period != Period::Total {
        "meter warning exhausted"
    } else if line.is_warning() {
        "meter warning"
    } else {
        "meter"
    };
    let testid = format!("limit-{}-{}", line.metric.as_str(), line.period.as_str());
    let reserved = (line.reserved > 0).then(|| format!(" (+{} reserved)", amount(line.metric, line.reserved)));
    view! {
        <li class=class data-testid=testid>
            <div class="meter-head">
                <span class="meter-label">{line.metric.label()}
                    {line.overridden.then(|| view! { " " <span class="badge override" title="Set for your organization">"(custom)"</span> })}
                </span>
                <span class="meter-amount">{amounts(&line)}{reserved}</span>
            </div>
            <div class="bar" role="progressbar" aria-label=line.metric.label()
                aria-valuemin="0" aria-valuemax=line.limit aria-valuenow=line.used.saturating_add(line.reserved)>
                <span style=format!("width: {}", bar_width(&line))></span>
            </div>
            <div class="meter-foot muted">
                <span>{match (line.hard, line.is_exhausted(), line.period) {
                    (true, true, Period::Total) => "at the limit: upgrade to add more",
                    (true, true, _) => "limit reached: further use is refused",
                    (true, false, _) => "hard limit",
                    (false, ..) => "soft limit: use beyond it is billed",
                }}</span>
                {line.reset_at.as_deref().map(|r| view! { <span>"resets " {local_time(r)}</span> })}
            </div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollbooth::plans::{Metric, Period};

    fn line(metric: Metric, period: Period, used: i64, limit: i64) -> StatusLine {
        StatusLine {
            metric,
            period,
            limit,
            hard: true,
            used,
            reserved: 0,
            reset_at: (period != Period::Total).then(|| "2026-12-01T00:00:00+01:00".to_string()),
            overridden: false,
        }
    }

    #[test]
    fn amounts_and_widths_are_exact() {
        let l = line(Metric::Tokens, Period::Month, 100_000, 100_000);
        assert_eq!(amounts(&l), "100,000 / 100,000 per month");
        assert_eq!(bar_width(&l), "100.0%");
        assert_eq!(bar_width(&line(Metric::Tokens, Period::Month, 12_345, 100_000)), "12.3%");
        assert_eq!(bar_width(&line(Metric::Tokens, Period::Month, 250_000, 100_000)), "100.0%", "overshoot stays in the bar");
        assert_eq!(amounts(&line(Metric::Projects, Period::Total, 2, 3)), "2 / 3");
        assert_eq!(amounts(&line(Metric::CostUsd, Period::Day, 1_500_000_000, 10_000_000_000)), "$1.50 / $10.00 per day");
        assert_eq!(amounts(&line(Metric::CostUsd, Period::Month, 1_234_567_890, 10_000_000_000)), "$1.23 / $10.00 per month");
    }

    #[test]
    fn the_banner_names_the_limit_and_its_reset() {
        assert_eq!(
            banner_text(&line(Metric::Tokens, Period::Month, 100_000, 100_000)),
            "You have reached your AI credits (tokens) limit: 100,000 of 100,000 per month. It resets on 2026-12-01 00:00."
        );
        assert_eq!(
            banner_text(&line(Metric::Projects, Period::Total, 3, 3)),
            "You have reached your Projects limit: 3 of 3. Upgrade to add more."
        );
        assert_eq!(local_time("2026-12-01T00:00:00+01:00"), "2026-12-01 00:00");
        assert_eq!(local_time("soon"), "soon");
    }

    #[test]
    fn only_a_used_up_window_raises_the_banner() {
        let status = |lines| QuotaStatus { plan_code: "starter".into(), plan_name: "Starter".into(), is_demo: false, lines };
        let members_full = line(Metric::Members, Period::Total, 1, 1);
        let tokens_full = line(Metric::Tokens, Period::Month, 100_000, 100_000);
        assert_eq!(banner_line(&status(vec![members_full.clone()])), None, "1 of 1 members is normal on Starter");
        let q = status(vec![members_full, line(Metric::Tokens, Period::Day, 5, 10), tokens_full.clone()]);
        assert_eq!(banner_line(&q), Some(&tokens_full));
        let soft = StatusLine { hard: false, ..tokens_full };
        assert_eq!(banner_line(&status(vec![soft])), None, "a soft limit bills the overage instead");
    }
}
