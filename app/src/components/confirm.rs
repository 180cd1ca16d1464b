//! A submit button behind an explicit second step: the first click says what
//! will happen and offers Confirm and Cancel; only Confirm submits the form.

use leptos::prelude::*;

/// Goes inside a form. `describe` is called at the first click (so it can
/// read what was typed) and returns the sentence shown before confirming.
#[component]
pub fn ConfirmSubmit(
    /// The first button's text, e.g. "Set override".
    #[prop(into)]
    label: String,
    describe: Callback<(), String>,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    let pending = RwSignal::new(None::<String>);
    let first = move || {
        let (label, class) = (label.clone(), class.clone());
        view! {
            <button type="button" class=class on:click=move |_| pending.set(Some(describe.run(())))>{label}</button>
        }
    };
    view! {
        <Show when=move || pending.with(Option::is_some) fallback=first>
            <span class="confirm" role="alertdialog" aria-label="Confirm">
                <span class="confirm-text" data-testid="confirm-text">{move || pending.get().unwrap_or_default()}</span>
                " "
                <button type="submit" class="small" on:click=move |_| {
                    // Let the submit go out first, then fold the step away.
                    request_animation_frame(move || pending.set(None));
                }>"Confirm"</button>
                " "
                <button type="button" class="link" on:click=move |_| pending.set(None)>"Cancel"</button>
            </span>
        </Show>
    }
}
