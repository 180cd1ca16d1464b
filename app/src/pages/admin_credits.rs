//! Platform admin: prepaid credit packs (`/admin/credit-packs`, a pack to
//! edit chosen with `?code=…`) and the "Adjust credits" form of the admin
//! organization page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use tollbooth::billing::{cents_to_usd, CreditPackView};

use crate::api::billing::{admin_credit_packs, AdminSaveCreditPack};
use crate::components::format::{usd_cents, usd_nanos, usd_nanos_exact};
use crate::components::{action_error, ErrorMessage};
use crate::data::data;
use crate::erase::Erase;
use crate::error::AppError;
use crate::url::encode_query;

fn refused(e: AppError) -> AnyView {
    if e.is_unauthorized() {
        view! { <Redirect path="/login" /> }.erase()
    } else {
        view! { <ErrorMessage message=e.message /> }.erase()
    }
}

/// The editor of one pack.
pub fn pack_href(code: &str) -> String {
    format!("/admin/credit-packs?code={}", encode_query(code))
}

#[component]
pub fn AdminCreditPacksPage() -> impl IntoView {
    let save = ServerAction::<AdminSaveCreditPack>::new();
    let packs = data(move || save.version().get(), |_| admin_credit_packs());
    let query = use_query_map();
    let editing = Memo::new(move |_| query.read().get("code").unwrap_or_default());
    view! {
        <Title text="Credit packs · Admin · Tollbooth" />
        <div class="content standalone wide">
            <p><a href="/admin">"← Platform admin"</a></p>
            <h1>"Credit packs"</h1>
            <p class="muted">"Packs organizations buy through Stripe Checkout. A Stripe price from STRIPE_CREDIT_PACK_PRICES \
                wins over the one set here. Inactive packs are not on sale."</p>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match packs.await {
                        Ok(list) => {
                            let code = editing.get();
                            let current = list.iter().find(|p| p.code == code).cloned();
                            view! {
                                {pack_table(list)}
                                <PackForm pack=current save />
                            }.erase()
                        }
                        Err(e) => refused(e),
                    }
                })}
            </Transition>
        </div>
    }
}

fn pack_table(list: Vec<CreditPackView>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty">"No credit packs yet."</p> }.erase();
    }
    view! {
        <table class="table" data-testid="admin-credit-packs">
            <thead><tr>
                <th>"Pack"</th><th>"Code"</th><th class="num">"Price"</th><th class="num">"Bonus"</th><th class="num">"Credit"</th>
                <th class="num">"Valid (days)"</th><th>"Stripe price"</th><th>"Status"</th><th class="num">"Order"</th><th></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|p| view! {
                    <tr class=if p.active { "" } else { "archived" } data-pack=p.code.clone()>
                        <td>{p.name.clone()}</td>
                        <td><code>{p.code.clone()}</code></td>
                        <td class="num">{usd_cents(p.price_cents)}</td>
                        <td class="num">{format!("{}%", p.bonus_percent)}</td>
                        <td class="num" title=usd_nanos_exact(p.credit_nanos)>{usd_nanos(p.credit_nanos)}</td>
                        <td class="num">{p.valid_days}</td>
                        <td>{p.stripe_price_id.clone().map(|s| view! { <code>{s}</code> }.erase()).unwrap_or_else(|| view! { <span class="muted">"–"</span> }.erase())}</td>
                        <td>{if p.active { "on sale" } else { "inactive" }}</td>
                        <td class="num">{p.sort_order}</td>
                        <td><a href=pack_href(&p.code)>"Edit"</a></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .erase()
}

/// Add a pack (empty) or edit one (prefilled). Saving the same code
/// replaces that pack.
#[component]
fn PackForm(pack: Option<CreditPackView>, save: ServerAction<AdminSaveCreditPack>) -> impl IntoView {
    let editing = pack.is_some();
    let p = pack.unwrap_or(CreditPackView {
        code: String::new(),
        name: String::new(),
        price_cents: 0,
        bonus_percent: 0,
        credit_nanos: 0,
        valid_days: 365,
        stripe_price_id: None,
        active: true,
        sort_order: 50,
    });
    let price = if editing { cents_to_usd(p.price_cents) } else { String::new() };
    view! {
        <section class="card" data-testid="credit-pack-form">
            <h2>{if editing { format!("Edit {}", p.name) } else { "Add a pack".to_string() }}</h2>
            {editing.then(|| view! { <p><a href="/admin/credit-packs">"Add a new pack instead"</a></p> })}
            <ActionForm action=save>
                <div class="row">
                    <label>"Code" <input name="pack[code]" required value=p.code.clone() readonly=editing placeholder="e.g. credits-25" autocomplete="off" /></label>
                    <label>"Name" <input name="pack[name]" required value=p.name.clone() placeholder="e.g. $25 pack" /></label>
                    <label>"Price (USD)" <input name="pack[price_usd]" required value=price inputmode="decimal" placeholder="25" /></label>
                    <label>"Bonus (%)" <input name="pack[bonus_percent]" required value=p.bonus_percent.to_string() inputmode="numeric" /></label>
                    <label>"Valid for (days)" <input name="pack[valid_days]" required value=p.valid_days.to_string() inputmode="numeric" /></label>
                    <label class="grow">"Stripe price" <input name="pack[stripe_price_id]" value=p.stripe_price_id.clone().unwrap_or_default() placeholder="price_…" autocomplete="off" /></label>
                    <label>"Status"
                        <select name="pack[active]">
                            <option value="true" selected=p.active>"On sale"</option>
                            <option value="false" selected=!p.active>"Inactive"</option>
                        </select>
                    </label>
                    <label>"Sort order" <input name="pack[sort_order]" type="number" required value=p.sort_order.to_string() /></label>
                </div>
                <div class="form-actions"><button type="submit">{if editing { "Save pack" } else { "Add pack" }}</button></div>
            </ActionForm>
            {action_error(save.value())}
            {move || save.value().get().and_then(Result::ok).map(|p| view! {
                <p class="ok" role="status">"Saved " <strong>{p.name}</strong> ": " {usd_nanos(p.credit_nanos)} " of credit for " {usd_cents(p.price_cents)} "."</p>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_is_edited_by_its_code() {
        assert_eq!(pack_href("credits-10"), "/admin/credit-packs?code=credits-10");
    }
}
