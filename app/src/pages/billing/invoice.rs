//! Invoices: the current period's preview, the list of closed ones, and one
//! invoice's printable page with its CSV.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tollbooth::billing::{InvoiceLineView, InvoiceView, LineKind};
use tollbooth::plans::group_thousands;

use crate::api::billing::billing_invoice;
use crate::components::format::{date_label, usd_cents, usd_price};
use crate::components::layout::use_org_id;
use crate::components::ErrorMessage;
use crate::data::data;
use crate::erase::Erase;
use crate::pages::NotFound;

/// An overage line's "1,234,567 × $0.000002" (the unit price is a rate,
/// kept with all its digits; the line's amount is in cents); empty for
/// other lines.
pub fn quantity_text(l: &InvoiceLineView) -> String {
    match (l.quantity, l.unit_price_nanos) {
        (Some(q), Some(u)) => format!("{} × {}", group_thousands(q), usd_price(u)),
        (Some(q), None) => group_thousands(q),
        _ => String::new(),
    }
}

/// The invoice's page.
pub fn invoice_href(org_id: &str, id: &str) -> String {
    format!("/o/{org_id}/invoices/{id}")
}

/// "1 Nov 2026 – 1 Dec 2026".
fn period_range(inv: &InvoiceView) -> String {
    format!("{} – {}", date_label(&inv.period_start), date_label(&inv.period_end))
}

#[component]
fn LinesTable(lines: Vec<InvoiceLineView>, total_cents: i64, #[prop(into)] testid: String) -> AnyView {
    view! {
        <table class="table invoice-lines" data-testid=testid>
            <thead><tr><th>"Description"</th><th class="num">"Quantity × unit price"</th><th class="num">"Amount"</th></tr></thead>
            <tbody>
                {lines.is_empty().then(|| view! { <tr><td colspan="3" class="empty">"Nothing billed so far."</td></tr> })}
                {lines.into_iter().map(|l| {
                    let class = if l.kind == LineKind::CreditsApplied { "credits" } else { "" };
                    view! {
                        <tr class=class data-kind=l.kind.as_str()>
                            <td>{l.description.clone()}</td>
                            <td class="num">{quantity_text(&l)}</td>
                            <td class="num">{usd_cents(l.amount_cents)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
            <tfoot>
                <tr class="total"><th scope="row" colspan="2">"Total"</th><td class="num" data-testid="invoice-total">{usd_cents(total_cents)}</td></tr>
            </tfoot>
        </table>
    }
    .erase()
}

/// The current period's invoice as it stands.
#[component]
pub fn NextInvoice(preview: InvoiceView, balance_nanos: i64) -> AnyView {
    let credits_line = preview.lines.iter().any(|l| l.kind == LineKind::CreditsApplied);
    view! {
        <section class="card">
            <h2>"Next invoice preview"</h2>
            <p class="muted">{format!("{} · {}, so far", preview.number, preview.period_label)}</p>
            <LinesTable lines=preview.lines total_cents=preview.total_cents testid="invoice-preview" />
            {(!credits_line && balance_nanos > 0).then(|| view! {
                <p class="muted small">"Your prepaid credits pay usage charges when the invoice closes."</p>
            })}
        </section>
    }
    .erase()
}

#[component]
pub fn InvoiceList(org_id: String, invoices: Vec<InvoiceView>) -> AnyView {
    view! {
        <section class="card">
            <h2>"Invoices"</h2>
            {if invoices.is_empty() {
                view! { <p class="empty">"No invoices yet: the first one closes at the end of this period."</p> }.erase()
            } else {
                view! {
                    <table class="table" data-testid="invoices">
                        <thead><tr><th>"Number"</th><th>"Period"</th><th>"Plan"</th><th class="num">"Total"</th><th></th></tr></thead>
                        <tbody>
                            {invoices.into_iter().map(|inv| view! {
                                <tr>
                                    <td><a href=invoice_href(&org_id, &inv.id)>{inv.number.clone()}</a></td>
                                    <td>{inv.period_label.clone()}</td>
                                    <td>{inv.plan_name.clone()}</td>
                                    <td class="num">{usd_cents(inv.total_cents)}</td>
                                    <td><a href=format!("{}/csv", invoice_href(&org_id, &inv.id)) rel="external" download="">"CSV"</a></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.erase()
            }}
        </section>
    }
    .erase()
}

/// `/o/:org/invoices/:id`: one closed invoice, printable.
#[component]
pub fn InvoicePage() -> impl IntoView {
    let org_id = use_org_id();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let invoice = data(move || (org_id.get(), id.get()), |(org, id)| billing_invoice(org, id));
    view! {
        <Title text="Invoice · Tollbooth" />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match invoice.await {
                    Ok(inv) => view! { <Invoice inv /> }.erase(),
                    Err(e) if e.is_not_found() => view! { <NotFound /> }.erase(),
                    Err(e) => view! { <ErrorMessage message=e.message /> }.erase(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Invoice(inv: InvoiceView) -> AnyView {
    let back = format!("/o/{}/billing", inv.org_id);
    let csv = format!("{}/csv", invoice_href(&inv.org_id, &inv.id));
    let print = |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.print();
        }
    };
    view! {
        <p class="no-print"><a href=back>"← Billing"</a></p>
        <article class="card invoice" data-testid="invoice">
            <header class="invoice-head">
                <div>
                    <h1>"Invoice " <span data-testid="invoice-number">{inv.number.clone()}</span></h1>
                    <p class="org-name">{inv.org_name.clone()}</p>
                </div>
                <dl class="invoice-facts">
                    <dt>"Period"</dt><dd>{inv.period_label.clone()} " (" {period_range(&inv)} ")"</dd>
                    <dt>"Plan"</dt><dd>{inv.plan_name.clone()}</dd>
                    <dt>"Status"</dt><dd>{if inv.status == "final" { "Final" } else { "Draft" }}</dd>
                    {inv.closed_at.clone().map(|t| view! { <dt>"Closed"</dt><dd>{date_label(&t)}</dd> })}
                </dl>
            </header>
            <LinesTable lines=inv.lines total_cents=inv.total_cents testid="invoice-lines" />
            <div class="form-actions no-print">
                <a class="button-link" href=csv rel="external" download="">"Download CSV"</a>
                <button type="button" class="secondary" on:click=print>"Print"</button>
            </div>
        </article>
    }
    .erase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overage_lines_show_quantity_times_unit_price() {
        let l = InvoiceLineView {
            kind: LineKind::Overage,
            description: "AI credits (tokens)".into(),
            quantity: Some(1_234_567),
            unit_price_nanos: Some(2_000),
            amount_cents: 247,
        };
        assert_eq!(quantity_text(&l), "1,234,567 × $0.000002");
        assert_eq!(quantity_text(&InvoiceLineView { quantity: None, unit_price_nanos: None, ..l }), "");
        assert_eq!(invoice_href("o", "i"), "/o/o/invoices/i");
    }
}
