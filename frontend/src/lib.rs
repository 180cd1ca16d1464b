//! Hydrates the server-rendered page in the browser.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the script leptos injects into every page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(tollbooth_app::App);
    // Marks the page interactive (end-to-end tests wait for it).
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
