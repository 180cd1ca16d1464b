//! An ECharts chart drawn in the browser from options built with charming.
//!
//! The server renders the container (fixed height, from CSS) holding a
//! readable fallback; after hydration an effect replaces it with the chart.
//! ECharts itself is the global `echarts` from `/vendor/echarts.min.js`,
//! loaded by the shell before the wasm bundle.

use charming::Chart;
use leptos::html::Div;
use leptos::prelude::*;

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
    use charming::{Chart, Echarts, WasmRenderer};
    use leptos::html::Div;
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `echarts.dispose(instance)`: frees the instance and its listeners.
        #[wasm_bindgen(js_namespace = echarts, js_name = dispose)]
        fn dispose(instance: &JsValue);
    }

    fn echarts_loaded() -> bool {
        web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("echarts")).unwrap_or(false))
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
        if !echarts_loaded() {
            leptos::logging::warn!("chart {id} not drawn: /vendor/echarts.min.js is not loaded");
            return;
        }
        // The fallback makes way for the canvas.
        el.set_inner_html("");
        match WasmRenderer::new_opt(None, None).render(id, &chart) {
            Ok(e) => instance.set_value(Some(e)),
            Err(e) => leptos::logging::warn!("chart {id} not drawn: {e:?}"),
        }
    }
}
