//! The sidebar meter and the pulse behind it: every organization page polls
//! the organization's [`Pulse`] (events recorded, this month's spend, the
//! nearest hard limit) and shows it in the sidebar; the usage panel reads
//! itself again when the pulse says events were recorded.
//!
//! Polling, not server-sent events: one small server function answered from
//! the running totals, the month's rollup and the quota counters, through
//! the same session check as every other call, with no long-lived
//! connection for proxies to cut or the server to hold per tab. The poll
//! runs every [`FAST_MS`] while a usage panel is open (its figures change
//! within a second of an ingest) and every [`SLOW_MS`] elsewhere.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::usage::{usage_pulse, Pulse};
use crate::components::format::{usd_exact_of, usd_of};
use crate::erase::Erase;
use crate::pages::usage::limits::{amounts, bar_width};

/// Poll interval while a usage panel is open, in ms.
pub const FAST_MS: u64 = 500;
/// Poll interval elsewhere, in ms (a multiple of [`FAST_MS`]).
pub const SLOW_MS: u64 = 3000;

/// The shell's pulse, shared with the pages (provided by the layout).
#[derive(Debug, Clone, Copy)]
pub struct UsagePulse {
    /// The latest answer (`None` until the first arrives).
    pub latest: RwSignal<Option<Pulse>>,
    /// Bumped each time the recorded events change after the first answer:
    /// what the panel refetches on.
    pub changed: RwSignal<u64>,
    /// Open usage panels: while any, the poll runs every [`FAST_MS`].
    pub watchers: RwSignal<u32>,
}

impl UsagePulse {
    pub fn new() -> Self {
        UsagePulse { latest: RwSignal::new(None), changed: RwSignal::new(0), watchers: RwSignal::new(0) }
    }

    /// Asks for fast polling until the calling component is cleaned up.
    pub fn watch(self) {
        self.watchers.update(|n| *n += 1);
        on_cleanup(move || {
            let _ = self.watchers.try_update(|n| *n = n.saturating_sub(1));
        });
    }

    /// Starts polling `org_id` (in the browser only: effects do not run on
    /// the server); stops when the owner is cleaned up. One call at a time.
    pub fn poll(self, org_id: String) {
        Effect::new(move |_| {
            let busy = StoredValue::new(false);
            let tick = StoredValue::new(0u64);
            let org_id = org_id.clone();
            let fetch = move || {
                if busy.get_value() {
                    return;
                }
                busy.set_value(true);
                let org_id = org_id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(p) = usage_pulse(org_id).await {
                        let before = self.latest.try_get_untracked().flatten().map(|b| b.events);
                        if before.is_some_and(|b| b != p.events) {
                            let _ = self.changed.try_update(|n| *n += 1);
                        }
                        let _ = self.latest.try_set(Some(p));
                    }
                    busy.try_set_value(false);
                });
            };
            fetch();
            let handle = set_interval_with_handle(
                move || {
                    let n = tick.get_value() + 1;
                    tick.set_value(n);
                    let fast = self.watchers.try_get_untracked().unwrap_or(0) > 0;
                    if fast || n % (SLOW_MS / FAST_MS) == 0 {
                        fetch();
                    }
                },
                Duration::from_millis(FAST_MS),
            );
            if let Ok(h) = handle {
                on_cleanup(move || h.clear());
            }
        });
    }
}

impl Default for UsagePulse {
    fn default() -> Self {
        Self::new()
    }
}

/// This month's spend and the nearest hard limit as a bar.
#[component]
pub fn SidebarMeter(pulse: UsagePulse) -> impl IntoView {
    view! {
        <div class="sidebar-meter" data-testid="sidebar-meter" aria-live="polite">
            {move || match pulse.latest.get() {
                None => view! { <span class="sm-label">"This month"</span><span class="sm-spend">"…"</span> }.erase(),
                Some(p) => {
                    let limit = p.nearest.map(|l| {
                        let label = format!("{} · {}", l.metric.label(), amounts(&l));
                        let class = if l.is_exhausted() { "sm-bar over" } else if l.is_warning() { "sm-bar warn" } else { "sm-bar" };
                        view! {
                            <div class=class role="progressbar" aria-label=label.clone() aria-valuemin="0" aria-valuemax=l.limit
                                aria-valuenow=l.used.saturating_add(l.reserved) data-testid="sidebar-limit">
                                <span style=format!("width: {}", bar_width(&l))></span>
                            </div>
                            <span class="sm-note">{label}</span>
                        }
                    });
                    view! {
                        <span class="sm-label">"This month"</span>
                        <span class="sm-spend" data-testid="sidebar-spend" title=usd_exact_of(p.month_cost)>{usd_of(p.month_cost)}</span>
                        {limit}
                    }.erase()
                }
            }}
        </div>
    }
}
