//! An ECharts chart drawn in the browser from options built with charming.
//!
//! The server renders the container (fixed height, from CSS) holding a
//! readable fallback; after hydration an effect replaces it with the chart.
//! ECharts itself (the global `echarts`, 1 MB of script) is loaded only by
//! pages that show a chart: the first chart of a page adds one
//! `<script src>` for it, from the URL the shell names in a `<meta>`
//! (content-hashed by scripts/build.sh), and every chart draws once it
//! has loaded.

use charming::Chart;
use leptos::html::Div;
use leptos::prelude::*;

/// Name of the shell's `<meta>` whose `content` is the URL of ECharts.
pub const ECHARTS_META: &str = "tollbooth-echarts";

/// ECharts' URL when the site has no hash file (a hand-made site root).
const ECHARTS_UNHASHED: &str = "/vendor/echarts.min.js";

/// ECharts' URL on this site: `/vendor/echarts.<hash>.min.js` with the hash
/// that scripts/build.sh wrote to leptos' hash file (`echarts: <hash>`),
/// which leptos resolves the same way for the bundle's own names. Called by
/// the shell, on the server.
pub fn echarts_src(options: &LeptosOptions) -> String {
    let hash = options.hash_files.then(|| {
        let dir = std::env::current_exe().ok().and_then(|p| p.parent().map(std::path::Path::to_path_buf)).unwrap_or_default();
        let text = std::fs::read_to_string(dir.join(options.hash_file.as_ref())).ok()?;
        text.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == "echarts").map(|(_, h)| h.trim().to_string()))
    });
    match hash.flatten() {
        Some(h) => format!("/vendor/echarts.{h}.min.js"),
        None => ECHARTS_UNHASHED.to_string(),
    }
}

/// A chart container. Its children are the fallback shown until (or
/// without) ECharts: the server render and browsers without JavaScript.
#[component]
pub fn EChart(
    /// DOM id of the container (unique on the page); also its `data-testid`.
    id: &'static str,
    /// Accessible name of the chart.
    label: &'static str,
    chart: Chart,
    children: Children,
) -> impl IntoView {
    let node = NodeRef::<Div>::new();
    #[cfg(feature = "hydrate")]
    draw::on_mount(node, id, chart);
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! {
        <div class="chart" id=id data-testid=id role="img" aria-label=label node_ref=node>
            {children()}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod draw {
    use std::cell::OnceCell;

    use charming::{Chart, Echarts, WasmRenderer};
    use leptos::html::Div;
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    #[wasm_bindgen]
    extern "C" {
        /// `echarts.dispose(instance)`: frees the instance and its listeners.
        #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
        fn dispose(instance: &JsValue);
    }

    fn echarts_loaded() -> bool {
        web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("echarts")).unwrap_or(false))
    }

    thread_local! {
        /// The one load of ECharts that every chart of the page waits for.
        static ECHARTS: OnceCell<js_sys::Promise> = const { OnceCell::new() };
    }

    /// Resolves once the global `echarts` exists, rejects if its script
    /// fails to load. The first call adds the `<script src>` (allowed by
    /// the CSP's `script-src 'self'`); its `onload`/`onerror` are the
    /// promise's own functions, set as properties (not inline handlers).
    fn echarts_ready() -> js_sys::Promise {
        ECHARTS.with(|cell| {
            cell.get_or_init(|| {
                js_sys::Promise::new(&mut |resolve, reject| {
                    if echarts_loaded() {
                        let _ = resolve.call0(&JsValue::UNDEFINED);
                        return;
                    }
                    let added = (|| {
                        let doc = web_sys::window()?.document()?;
                        let src = doc
                            .query_selector(&format!("meta[name=\"{}\"]", super::ECHARTS_META))
                            .ok()
                            .flatten()
                            .and_then(|m| m.get_attribute("content"))
                            .unwrap_or_else(|| super::ECHARTS_UNHASHED.to_string());
                        let script: web_sys::HtmlScriptElement = doc.create_element("script").ok()?.unchecked_into();
                        script.set_src(&src);
                        script.set_onload(Some(&resolve));
                        script.set_onerror(Some(&reject));
                        doc.head()?.append_child(&script).ok()
                    })();
                    if added.is_none() {
                        let _ = reject.call0(&JsValue::UNDEFINED);
                    }
                })
            })
            .clone()
        })
    }

    /// Draws once the container is in the document, follows window resizes,
    /// and disposes of the instance when the component goes away.
    pub fn on_mount(node: NodeRef<Div>, id: &'static str, chart: Chart) {
        let instance = StoredValue::new_local(None::<Echarts>);
        Effect::new(move |_| {
            let Some(el) = node.get() else { return };
            if instance.with_value(Option::is_some) {
                return;
            }
            draw_when_attached(el, id, chart.clone(), instance, 0);
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| {
            instance.with_value(|i| {
                if let Some(e) = i {
                    e.resize(JsValue::UNDEFINED);
                }
            })
        });
        on_cleanup(move || {
            resize.remove();
            instance.update_value(|i| {
                if let Some(e) = i.take() {
                    dispose(&e);
                }
            });
        });
    }

    /// Frames to wait for the container to join the document.
    const ATTACH_FRAMES: u32 = 120;

    /// After a client-side navigation the effect can run while the new page
    /// is still detached (ECharts finds containers by id): wait a few frames.
    fn draw_when_attached(
        el: web_sys::HtmlDivElement,
        id: &'static str,
        chart: Chart,
        instance: StoredValue<Option<Echarts>, LocalStorage>,
        frames: u32,
    ) {
        if instance.is_disposed() || instance.with_value(Option::is_some) {
            return;
        }
        if !el.is_connected() {
            if frames < ATTACH_FRAMES {
                request_animation_frame(move || draw_when_attached(el, id, chart, instance, frames + 1));
            } else {
                leptos::logging::warn!("chart {id} not drawn: its container never joined the document");
            }
            return;
        }
        if echarts_loaded() {
            render(el, id, &chart, instance);
            return;
        }
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(echarts_ready()).await {
                Ok(_) => render(el, id, &chart, instance),
                Err(_) => leptos::logging::warn!("chart {id} not drawn: ECharts failed to load"),
            }
        });
    }

    /// Replaces the fallback with the chart, unless the component went away
    /// (or drew already) while ECharts was loading.
    fn render(el: web_sys::HtmlDivElement, id: &'static str, chart: &Chart, instance: StoredValue<Option<Echarts>, LocalStorage>) {
        if instance.is_disposed() || instance.with_value(Option::is_some) || !el.is_connected() {
            return;
        }
        // The fallback makes way for the canvas.
        el.set_inner_html("");
        match WasmRenderer::new_opt(None, None).render(id, chart) {
            Ok(e) => instance.set_value(Some(e)),
            Err(e) => leptos::logging::warn!("chart {id} not drawn: {e:?}"),
        }
    }
}
