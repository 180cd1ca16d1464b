//! The drill-down's activity sections (`/admin/org?id=…`, below the plan):
//! members, API keys, invoices, credits with an audited adjustment,
//! alerts and the organization's audit trail.

use leptos::prelude::*;

use crate::api::admin::{admin_org_activity, admin_org_suspension, AdminAdjustCredits, AdminReactivateOrg, AdminSuspendOrg, OrgActivityView};
use crate::components::format::readable_time;
use crate::components::confirm::ConfirmSubmit;
use crate::components::format::{usd_nanos, usd_nanos_exact};
use crate::components::{action_error, Loaded};
use crate::components::format::format_time;
use crate::data::data;
use crate::erase::Erase;

/// Whole cents as `$1,234.56`, exactly.
pub fn cents_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let dollars = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}${grouped}.{:02}", c % 100)
}

/// The invoice's CSV, the same file its members download (platform admins may too).
pub fn invoice_csv_href(org_id: &str, invoice_id: &str) -> String {
    use crate::url::encode_query;
    format!("/o/{}/invoices/{}/csv", encode_query(org_id), encode_query(invoice_id))
}

/// Suspend (with a reason) or reactivate, each behind a confirmation.
#[component]
pub fn OrgStatus(id: Memo<String>, org_name: String) -> impl IntoView {
    let suspend = ServerAction::<AdminSuspendOrg>::new();
    let reactivate = ServerAction::<AdminReactivateOrg>::new();
    let status = data(move || (id.get(), suspend.version().get(), reactivate.version().get()), |(id, ..)| admin_org_suspension(id));
    view! {
        <section class="card" data-testid="org-status">
            <h2>"Status"</h2>
            {action_error(suspend.value())}
            {action_error(reactivate.value())}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let name = org_name.clone();
                    Suspend::new(async move {
                        let result = status.await;
                        view! {
                            <Loaded result ok=move |value| match value {
                                Some(s) => {
                                    let describe = Callback::new(move |_| format!("Reactivate {name}? Its members and API keys work again at once."));
                                    view! {
                                        <p><span class="badge status-suspended">"suspended"</span> " since " {readable_time(&s.since)} ": " <strong>{s.reason}</strong></p>
                                        <ActionForm action=reactivate attr:class="row">
                                            <input type="hidden" name="org_id" value=id.get_untracked() />
                                            <ConfirmSubmit label="Reactivate" describe />
                                        </ActionForm>
                                    }.erase()
                                }
                                None => {
                                    let reason = NodeRef::<leptos::html::Input>::new();
                                    let describe = Callback::new(move |_| {
                                        let r = reason.get().map(|i| i.value()).unwrap_or_default();
                                        format!("Suspend {name} (reason: \u{201c}{}\u{201d})? Its members see a suspended page and its API keys are refused.", r.trim())
                                    });
                                    view! {
                                        <p><span class="badge status-active">"active"</span></p>
                                        <ActionForm action=suspend attr:class="row">
                                            <input type="hidden" name="org_id" value=id.get_untracked() />
                                            <label>"Reason" <input name="reason" node_ref=reason required placeholder="unpaid invoices" /></label>
                                            <ConfirmSubmit label="Suspend" class="danger" describe />
                                        </ActionForm>
                                    }.erase()
                                }
                            } />
                        }
                        .erase()
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
pub fn OrgActivity(id: Memo<String>, org_name: String) -> impl IntoView {
    let adjust = ServerAction::<AdminAdjustCredits>::new();
    let data = data(move || (id.get(), adjust.version().get()), |(id, _)| admin_org_activity(id));
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let org_name = org_name.clone();
                Suspend::new(async move {
                    let result = data.await;
                    view! {
                        <Loaded result ok=move |value| match value {
                            d => activity_view(d, id.get_untracked(), org_name, adjust).erase(),
                        } />
                    }
                    .erase()
                })
            }}
        </Transition>
    }
}

fn activity_view(d: OrgActivityView, org_id: String, org_name: String, adjust: ServerAction<AdminAdjustCredits>) -> impl IntoView {
    let OrgActivityView { members, keys, invoices, credit_balance_nanos, credits, alerts, audit } = d;
    let invoices: Vec<_> = invoices.into_iter().map(|i| { let csv = invoice_csv_href(&org_id, &i.id); (i, csv) }).collect();
    let amount = NodeRef::<leptos::html::Input>::new();
    let reason = NodeRef::<leptos::html::Input>::new();
    let describe = Callback::new(move |_| {
        let a = amount.get().map(|i| i.value()).unwrap_or_default();
        let r = reason.get().map(|i| i.value()).unwrap_or_default();
        let a = a.trim().to_string();
        let verb = if a.starts_with('-') { format!("Remove ${} of credit from", a.trim_start_matches('-')) } else { format!("Add ${a} of credit to") };
        format!("{verb} {org_name} (reason: \u{201c}{}\u{201d})?", r.trim())
    });
    view! {
        <section class="card" data-testid="org-members">
            <h2>"Members (" {members.len()} ")"</h2>
            <table class="table">
                <thead><tr><th>"E-mail"</th><th>"Role"</th><th>"Joined"</th></tr></thead>
                <tbody>{members.into_iter().map(|m| view! {
                    <tr><td>{m.email}</td><td>{m.role.as_str()}</td><td>{format_time(m.joined_at)}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </section>
        <section class="card" data-testid="org-keys">
            <h2>"API keys (" {keys.len()} ")"</h2>
            {if keys.is_empty() { view! { <p class="empty">"No keys."</p> }.erase() } else { view! {
                <table class="table">
                    <thead><tr><th>"Name"</th><th>"Prefix"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th></tr></thead>
                    <tbody>{keys.into_iter().map(|k| view! {
                        <tr>
                            <td>{k.name}</td><td><code>{k.prefix}"…"</code></td><td>{format_time(k.created_at)}</td>
                            <td>{k.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                            <td>{if k.revoked_at.is_some() { "revoked" } else { "active" }}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase() }}
        </section>
        <section class="card" data-testid="org-credits">
            <h2>"Credits: " <span data-testid="credit-balance" title=usd_nanos_exact(credit_balance_nanos)>{usd_nanos(credit_balance_nanos)}</span></h2>
            <ActionForm action=adjust attr:class="row">
                <input type="hidden" name="org_id" value=org_id.clone() />
                <label>"Amount (USD, negative to remove)" <input name="amount_usd" node_ref=amount placeholder="25.00" inputmode="decimal" required /></label>
                <label>"Reason" <input name="reason" node_ref=reason placeholder="goodwill for the outage" required /></label>
                <ConfirmSubmit label="Adjust credits" describe />
            </ActionForm>
            {action_error(adjust.value())}
            {if credits.is_empty() { view! { <p class="empty">"No credit entries."</p> }.erase() } else { view! {
                <table class="table">
                    <thead><tr><th>"When"</th><th>"Kind"</th><th class="num">"Amount"</th><th>"Description"</th><th>"Expires"</th></tr></thead>
                    <tbody>{credits.into_iter().map(|c| view! {
                        <tr>
                            <td>{readable_time(&c.created_at)}</td><td>{c.kind}</td>
                            <td class="num" title=usd_nanos_exact(c.amount_nanos)>{usd_nanos(c.amount_nanos)}</td>
                            <td>{c.description}</td><td>{c.expires_at.as_deref().map(readable_time).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase() }}
        </section>
        <section class="card" data-testid="org-invoices">
            <h2>"Invoices (" {invoices.len()} ")"</h2>
            {if invoices.is_empty() { view! { <p class="empty">"No invoices yet."</p> }.erase() } else { view! {
                <table class="table">
                    <thead><tr><th>"Number"</th><th>"Period"</th><th>"Plan"</th><th>"Status"</th><th class="num">"Total"</th><th></th></tr></thead>
                    <tbody>{invoices.into_iter().map(|(i, csv)| {
                        let file = format!("{}.csv", i.number);
                        view! {
                            <tr data-invoice=i.id>
                                <td><code>{i.number}</code></td><td>{i.period_label}</td><td>{i.plan_name}</td><td>{i.status}</td>
                                <td class="num">{cents_text(i.total_cents)}</td>
                                <td><a href=csv download=file>"CSV"</a></td>
                            </tr>
                        }
                    }).collect_view()}</tbody>
                </table>
            }.erase() }}
        </section>
        <section class="card" data-testid="org-alerts">
            <h2>"Alerts (latest " {alerts.len()} ")"</h2>
            {if alerts.is_empty() { view! { <p class="empty">"No alerts."</p> }.erase() } else { view! {
                <table class="table">
                    <thead><tr><th>"When"</th><th>"Kind"</th><th>"Message"</th><th>"Acknowledged"</th></tr></thead>
                    <tbody>{alerts.into_iter().map(|a| view! {
                        <tr>
                            <td>{readable_time(&a.created_at)}</td><td>{a.kind.label()}</td><td>{a.message}</td>
                            <td>{a.acknowledged_at.as_deref().map(readable_time).unwrap_or_else(|| "no".into())}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase() }}
        </section>
        <section class="card" data-testid="org-audit">
            <h2>"Audit trail (latest " {audit.len()} ")"</h2>
            {if audit.is_empty() { view! { <p class="empty">"No entries."</p> }.erase() } else { view! {
                <table class="table audit">
                    <thead><tr><th>"When"</th><th>"Actor"</th><th>"Action"</th><th>"Result"</th><th>"Details"</th></tr></thead>
                    <tbody>{audit.into_iter().map(|e| view! {
                        <tr>
                            <td class="nowrap">{readable_time(&e.at)}</td><td>{e.actor_label}</td><td><code>{e.action}</code></td>
                            <td><span class=format!("badge result-{}", e.result)>{e.result.clone()}</span></td>
                            <td class="details"><code>{e.details}</code></td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }.erase() }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{cents_text, invoice_csv_href};

    #[test]
    fn the_invoice_csv_link_names_the_organization_and_invoice() {
        assert_eq!(invoice_csv_href("o1", "inv-2"), "/o/o1/invoices/inv-2/csv");
    }

    #[test]
    fn cents_read_as_exact_dollars() {
        assert_eq!(cents_text(123_456), "$1,234.56");
        assert_eq!(cents_text(-5), "-$0.05");
        assert_eq!(cents_text(100_000_000), "$1,000,000.00");
    }
}
