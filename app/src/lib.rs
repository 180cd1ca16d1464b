//! Tollbooth's web UI: pages, components and the server functions they call.
//!
//! Pages render on the server with their data and hydrate in the browser.
//! Organization pages live under `/o/:org`; membership is checked by every
//! server function, so another organization's id is simply "not found".

pub mod api;
pub mod components;
mod data;
mod erase;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod url;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::layout::OrgLayout;
use crate::erase::page;
use crate::pages::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // `/pkg/tollbooth.<hash>.css` when scripts/build.sh hashed the site.
                <HashedStylesheet options=options.clone() />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                // Where ECharts is: only pages with a chart load it (components::chart).
                <meta name=components::chart::ECHARTS_META content=components::chart::echarts_src(&options) />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes and the error boundary around them. Every route
/// renders in `Async` mode: the page is sent whole with its data, so a
/// redirect or a 404 can still set the HTTP status.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Tollbooth" />
        <Router>
            <ErrorBoundary fallback=|errors| {
                view! { <components::ErrorPage errors /> }
            }>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=page(Home) ssr=SsrMode::Async />
                    <Route path=path!("/login") view=page(LoginPage) ssr=SsrMode::Async />
                    <Route path=path!("/signup") view=page(SignupPage) ssr=SsrMode::Async />
                    <Route path=path!("/invite/:token") view=page(InvitePage) ssr=SsrMode::Async />
                    <Route path=path!("/account") view=page(AccountPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=page(AdminPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/audit") view=page(AdminAuditPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/org") view=page(AdminOrgPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/credit-packs") view=page(AdminCreditPacksPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/outbox") view=page(AdminOutboxPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/plans") view=page(AdminPlansPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/plans/:code") view=page(AdminPlanPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/prices") view=page(PricesPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/prices/model") view=page(PriceDetailPage) ssr=SsrMode::Async />
                    <Route path=path!("/admin/prices/new") view=page(NewModelPage) ssr=SsrMode::Async />
                    <ParentRoute path=path!("/o/:org") view=page(OrgLayout) ssr=SsrMode::Async>
                        <Route path=path!("") view=page(UsagePage) ssr=SsrMode::Async />
                        <Route path=path!("alerts") view=page(AlertsPage) ssr=SsrMode::Async />
                        <Route path=path!("alerts/settings") view=page(AlertSettingsPage) ssr=SsrMode::Async />
                        <Route path=path!("audit") view=page(OrgAuditPage) ssr=SsrMode::Async />
                        <Route path=path!("billing") view=page(BillingPage) ssr=SsrMode::Async />
                        <Route path=path!("budgets") view=page(BudgetsPage) ssr=SsrMode::Async />
                        <Route path=path!("budgets/:id") view=page(BudgetPage) ssr=SsrMode::Async />
                        <Route path=path!("connect") view=page(ConnectPage) ssr=SsrMode::Async />
                        <Route path=path!("invoices/:id") view=page(InvoicePage) ssr=SsrMode::Async />
                        <Route path=path!("keys") view=page(KeysPage) ssr=SsrMode::Async />
                        <Route path=path!("members") view=page(MembersPage) ssr=SsrMode::Async />
                        <Route path=path!("plans") view=page(PlansPage) ssr=SsrMode::Async />
                        <Route path=path!("projects") view=page(ProjectsPage) ssr=SsrMode::Async />
                        <Route path=path!("providers") view=page(ProvidersPage) ssr=SsrMode::Async />
                        <Route path=path!("recommendations") view=page(RecommendationsPage) ssr=SsrMode::Async />
                        <Route path=path!("settings") view=page(SettingsPage) ssr=SsrMode::Async />
                        <Route path=path!("users") view=page(UsersPage) ssr=SsrMode::Async />
                        <Route path=path!("user") view=page(UserPage) ssr=SsrMode::Async />
                    </ParentRoute>
                </Routes>
            </ErrorBoundary>
        </Router>
    }
}
