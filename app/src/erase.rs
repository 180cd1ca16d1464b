//! Type erasure of views without the asynchronous hydration copy.
//!
//! `into_any()` stores, beside a view's build, rebuild and hydration
//! functions, a `hydrate_async` function, which leptos' lazy routes use to
//! hydrate while their code loads. Instantiating it compiles a second, async
//! copy of the hydration code of the whole view tree below it: for this app
//! 18% of the wasm bundle's code, although the browser never calls it (the
//! app hydrates with `hydrate_body`, synchronously, and has no lazy routes).
//!
//! [`Erase::erase`] is `into_any()` on a wrapper whose `hydrate_async` is
//! the trait's default, a synchronous `hydrate`: everything else passes
//! through unchanged, on the server and in the browser.

use leptos::prelude::*;
use leptos::tachys::html::attribute::any_attribute::AnyAttribute;
use leptos::tachys::html::attribute::Attribute;
use leptos::tachys::hydration::Cursor;
use leptos::tachys::ssr::StreamBuilder;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::{Position, PositionState, Render, RenderHtml};

/// `into_any()` for the app's views (see the module's documentation).
pub trait Erase {
    /// Erases the view's type, hydrating synchronously only.
    fn erase(self) -> AnyView;
}

impl<T: RenderHtml + Send> Erase for T {
    fn erase(self) -> AnyView {
        SyncHydrate(self).into_any()
    }
}

/// A route's view, erased: `view=page(UsagePage)` instead of `view=UsagePage`
/// (the router erases each page with `into_any()` otherwise).
pub fn page<V: IntoView + 'static>(view: fn() -> V) -> impl Fn() -> AnyView + Clone + Send + Sync + 'static {
    move || view().erase()
}

/// A view that hydrates synchronously even when asked to hydrate
/// asynchronously.
struct SyncHydrate<T>(T);

impl<T: Render> Render for SyncHydrate<T> {
    type State = T::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state)
    }
}

impl<T: AddAnyAttr> AddAnyAttr for SyncHydrate<T> {
    type Output<SomeNewAttr: Attribute> = SyncHydrate<T::Output<SomeNewAttr>>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        SyncHydrate(self.0.add_any_attr(attr))
    }
}

impl<T: RenderHtml> RenderHtml for SyncHydrate<T> {
    type AsyncOutput = SyncHydrate<T::AsyncOutput>;
    type Owned = SyncHydrate<T::Owned>;

    const MIN_LENGTH: usize = T::MIN_LENGTH;
    const EXISTS: bool = T::EXISTS;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve();
    }

    async fn resolve(self) -> Self::AsyncOutput {
        SyncHydrate(self.0.resolve().await)
    }

    fn html_len(&self) -> usize {
        self.0.html_len()
    }

    fn to_html_with_buf(self, buf: &mut String, position: &mut Position, escape: bool, mark_branches: bool, extra_attrs: Vec<AnyAttribute>) {
        self.0.to_html_with_buf(buf, position, escape, mark_branches, extra_attrs);
    }

    fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
        self,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) where
        Self: Sized,
    {
        self.0.to_html_async_with_buf::<OUT_OF_ORDER>(buf, position, escape, mark_branches, extra_attrs);
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    // `hydrate_async` is the trait's default: `hydrate::<true>`.

    fn into_owned(self) -> Self::Owned {
        SyncHydrate(self.0.into_owned())
    }
}
