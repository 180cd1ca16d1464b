//! Reusable pieces of UI.

pub mod alerts;
pub mod billing;
pub mod chart;
pub mod confirm;
pub mod layout;

use leptos::prelude::*;

use crate::error::AppError;

/// A readable error message (role="alert" so tests and screen readers find
/// it); a plan limit's refusal also links to where the plan can be upgraded.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String, #[prop(default = None)] upgrade: Option<String>) -> impl IntoView {
    view! {
        <p class="error" role="alert">
            {message}
            {upgrade.map(|href| view! { " " <a href=href class="upgrade">"Upgrade your plan"</a> })}
        </p>
    }
}

/// Shows an action's error, if its last result was one.
pub fn action_error<T: 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorMessage message=e.message upgrade=e.upgrade_path /> }),
        _ => None,
    }
}

/// The page shown by the error boundary.
#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, e)| view! { <li class="error">{e.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <p><a href="/">"Back to the start"</a></p>
        </section>
    }
}

/// Formats UTC milliseconds as `YYYY-MM-DD HH:MM UTC`, identically on server and browser.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_epoch_and_a_leap_day() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_709_210_096_000), "2024-02-29 12:34 UTC");
    }
}
