//! Sample usage: thirty days of made-up but plausible calls for the demo
//! organization, so that a first start shows a filled usage panel instead of
//! an empty one.
//!
//! The events are drawn from a fixed seed (the same calls every time, placed
//! relative to the moment of seeding) and recorded through the ingest entry
//! point ([`crate::ingest::record_usage`]), in batches of 1,000 (100 in the
//! current month, so each budget alert fires near its threshold), so
//! that rollups, usage counters, budget counters and alerts agree with them
//! as they would with real usage. A monthly organization budget is created
//! first, sized so that the month so far lands between 85% and 95% of it:
//! its 50% and 80% alerts fire on the way, as they would have.
//!
//! Every sample event is marked twice: its id starts with [`ID_PREFIX`] and
//! its metadata is `{"sample":true}`. Whether an organization has sample
//! usage is one primary-key lookup of the first sample id (stored or
//! archived), so the pages' notice costs nothing and is true only while the
//! sample events exist.

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::audit::By;
use crate::budgets::{self, BudgetInput, BudgetPeriod};
use crate::calendar::zone;
use crate::db::Db;
use crate::metering::{self, CallStatus, NewEvent, Outcome, Sender};
use crate::pricing::NanoUsd;
use crate::{Error, Result};

/// How far back the sample usage reaches.
pub const DAYS: i64 = 30;
/// The start of every sample event's id (`tollbooth-sample-00042`).
pub const ID_PREFIX: &str = "tollbooth-sample-";
/// The metadata every sample event carries.
pub const METADATA: &str = r#"{"sample":true}"#;
/// Events per ingest batch.
const BATCH: usize = 1_000;
/// Events per ingest batch in the budget's current period: smaller, so that
/// each alert fires close to its threshold (as steady traffic would make it).
const PERIOD_BATCH: usize = 100;
/// The name of the budget created beside the sample usage.
pub const BUDGET_NAME: &str = "Monthly AI spend (sample)";

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The id of the `n`th sample event (in time order).
pub fn event_id(n: usize) -> String {
    format!("{ID_PREFIX}{n:05}")
}

/// splitmix64: a tiny generator with a fixed seed, so the sample is the
/// same on every first start (no `rand`: its streams may change between
/// versions). The analytics benchmark seeds its data with it too.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// An index drawn by integer weights.
    fn pick(&mut self, weights: &[u64]) -> usize {
        let mut r = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

/// A kind of call a product makes: its project and feature, the models it
/// uses (with weights, drawn once a session), and its sizes.
struct Workload {
    project: &'static str,
    feature: &'static str,
    /// (provider, model, weight).
    models: &'static [(&'static str, &'static str, u64)],
    /// Sessions of this workload per 100 sessions.
    weight: u64,
    /// Events a session, at most (at least 1).
    max_turns: u64,
    input: (u64, u64),
    output: (u64, u64),
    /// Images a call (image generation).
    images: (u64, u64),
    /// Calls come from the team (`dev-…`) rather than end users.
    internal: bool,
}

/// The demo product: a support bot, documentation search (embeddings and
/// answers), a sales assistant, a marketing image tool and an internal code
/// reviewer, over OpenAI, Anthropic and Google models of the price book.
const WORKLOADS: &[Workload] = &[
    Workload {
        project: "support-bot",
        feature: "chat-reply",
        models: &[("openai", "gpt-4o-mini", 65), ("anthropic", "claude-haiku-4-5", 35)],
        weight: 30,
        max_turns: 6,
        input: (600, 3_000),
        output: (80, 600),
        images: (0, 0),
        internal: false,
    },
    Workload {
        project: "support-bot",
        feature: "ticket-summary",
        models: &[("anthropic", "claude-sonnet-4-5", 1)],
        weight: 9,
        max_turns: 1,
        input: (2_000, 9_000),
        output: (150, 700),
        images: (0, 0),
        internal: false,
    },
    Workload {
        project: "docs-search",
        feature: "embed-query",
        models: &[("openai", "text-embedding-3-small", 1)],
        weight: 22,
        max_turns: 3,
        input: (12, 400),
        output: (0, 0),
        images: (0, 0),
        internal: false,
    },
    Workload {
        project: "docs-search",
        feature: "answer",
        models: &[("gemini", "gemini/gemini-2.5-flash", 1)],
        weight: 13,
        max_turns: 3,
        input: (2_500, 12_000),
        output: (150, 900),
        images: (0, 0),
        internal: false,
    },
    Workload {
        project: "sales-assistant",
        feature: "email-draft",
        models: &[("openai", "gpt-4o", 1)],
        weight: 8,
        max_turns: 4,
        input: (900, 4_000),
        output: (250, 1_200),
        images: (0, 0),
        internal: false,
    },
    Workload {
        project: "marketing-studio",
        feature: "banner-image",
        models: &[("gemini", "gemini/imagen-3.0-generate-001", 1)],
        weight: 2,
        max_turns: 2,
        input: (0, 0),
        output: (0, 0),
        images: (1, 4),
        internal: false,
    },
    Workload {
        project: "internal-tools",
        feature: "code-review",
        models: &[("anthropic", "claude-sonnet-4-5", 80), ("openai", "gpt-4o", 20)],
        weight: 5,
        max_turns: 3,
        input: (4_000, 30_000),
        output: (300, 2_500),
        images: (0, 0),
        internal: true,
    },
];

/// The models the sample uses, for checking them against a price book.
pub fn models() -> impl Iterator<Item = &'static str> {
    WORKLOADS.iter().flat_map(|w| w.models.iter().map(|m| m.1))
}

/// End users of the demo product; the first ones call far more than the last.
const USERS: u64 = 28;
/// Members of the team calling internal tools.
const TEAM: &[&str] = &["dev-amara", "dev-bruno", "dev-chen", "dev-dana"];

/// Share of a weekday's busiest hour, per local hour (percent).
const HOURLY: [u64; 24] = [15, 10, 10, 10, 10, 15, 25, 45, 80, 100, 100, 100, 80, 95, 100, 100, 95, 80, 60, 45, 40, 35, 25, 20];
/// Weekend traffic, percent of a weekday's.
const WEEKEND: u64 = 30;
/// Events in a weekday's busiest hour, on average (about 18,000 in 30 days).
const PEAK_EVENTS: u64 = 58;

/// The sample events for the `DAYS` days up to `now` (UTC milliseconds),
/// shaped by the local hours and weekdays of `tz`, in time order with ids
/// [`event_id`]`(0)`, `(1)`, …; the last one at `now`.
pub fn events(now: i64, tz: Tz) -> Vec<NewEvent> {
    let mut rng = Rng(0x7011_B007_5A3B_1E00);
    let first_hour = (now - DAYS * DAY_MS).div_euclid(HOUR_MS);
    let last_hour = now.div_euclid(HOUR_MS);
    let hours = (last_hour - first_hour + 1) as u64;
    // One afternoon (14:00 to 16:00, 18 days ago) an Anthropic outage makes
    // a third of its calls fail.
    let incident_day = crate::calendar::local_date(tz, now) - chrono::Days::new(18);
    let incident = crate::calendar::start_of_day(tz, incident_day).div_euclid(HOUR_MS) + 14;
    let mut events = Vec::new();
    let mut session = 0u64;
    for (i, hour) in (first_hour..=last_hour).enumerate() {
        let local = tz.timestamp_millis_opt(hour * HOUR_MS).single().expect("a UTC instant has one local time");
        let weekend = local.weekday().number_from_monday() >= 6;
        // Traffic grows by about a third over the month, with ±15% noise an hour.
        let trend = 850 + 300 * i as u64 / hours;
        let noise = rng.between(850, 1150);
        let milli = PEAK_EVENTS * HOURLY[local.hour() as usize] * if weekend { WEEKEND } else { 100 } * trend / 1000 * noise / 1000 / 10;
        // The current hour only so far: fewer calls, all before now.
        let span = (now - hour * HOUR_MS + 1).min(HOUR_MS) as u64;
        let milli = milli * span / HOUR_MS as u64;
        let target = milli / 1000 + u64::from(rng.below(1000) < milli % 1000);
        let mut made = 0;
        while made < target {
            session += 1;
            let w = &WORKLOADS[rng.pick(&WORKLOADS.iter().map(|w| w.weight).collect::<Vec<_>>())];
            let (provider, model, _) = w.models[rng.pick(&w.models.iter().map(|m| m.2).collect::<Vec<_>>())];
            let user = if w.internal {
                TEAM[rng.below(TEAM.len() as u64) as usize].to_string()
            } else {
                // Zipf-like: user k is drawn with weight 1/(k+1).
                let weights: Vec<u64> = (0..USERS).map(|k| 2520 / (k + 1)).collect();
                format!("user-{}", 1001 + rng.pick(&weights))
            };
            let turns = rng.between(1, w.max_turns);
            let mut ts = hour * HOUR_MS + rng.below(span) as i64;
            for turn in 0..turns {
                if ts > now {
                    // A later turn would be in the future: not made, but counted
                    // so that the hour ends.
                    made += 1;
                    continue;
                }
                let in_incident = provider == "anthropic" && (incident..incident + 2).contains(&hour);
                events.push(call(&mut rng, w, provider, model, &user, session, turn, ts, in_incident));
                made += 1;
                ts += rng.between(15_000, 150_000) as i64;
            }
        }
    }
    // A call at the moment of seeding, so that the current month (and day)
    // always has spend, even on the 1st just after midnight.
    let w = &WORKLOADS[0];
    events.push(call(&mut rng, w, w.models[0].0, w.models[0].1, "user-1001", session + 1, 0, now, false));
    events.sort_by_key(|e| e.timestamp_ms);
    for (n, e) in events.iter_mut().enumerate() {
        e.id = Some(event_id(n));
    }
    events
}

/// One call of a session.
#[allow(clippy::too_many_arguments)]
fn call(rng: &mut Rng, w: &Workload, provider: &str, model: &str, user: &str, session: u64, turn: u64, ts: i64, incident: bool) -> NewEvent {
    let mut e = NewEvent::blank();
    e.timestamp_ms = ts;
    e.user_id = Some(user.to_string());
    e.project_id = Some(w.project.to_string());
    e.feature = Some(w.feature.to_string());
    e.session_id = (w.max_turns > 1).then(|| format!("sess-{session:05}"));
    e.provider = Some(provider.to_string());
    e.model = model.to_string();
    e.metadata = Some(METADATA.to_string());
    let roll = rng.below(1000);
    let (status, error) = if incident && roll < 350 {
        (CallStatus::Error, "529 overloaded_error: Overloaded")
    } else if roll < 7 {
        (CallStatus::RateLimited, "429 rate_limit_exceeded: too many requests, retry after 20s")
    } else if roll < 13 {
        (CallStatus::Error, "504 upstream timed out after 60s")
    } else if roll < 16 && w.input.1 > 0 {
        (CallStatus::Error, "400 context_length_exceeded: the prompt is longer than the model's context window")
    } else {
        (CallStatus::Success, "")
    };
    e.status = status;
    if status != CallStatus::Success {
        // A failed call is not billed: no tokens, a short answer.
        e.error = Some(error.to_string());
        e.latency_ms = Some(rng.between(60, 900));
        return e;
    }
    if w.input.1 > 0 {
        e.input_tokens = rng.between(w.input.0, w.input.1);
        // Later turns of a conversation reuse a cached prompt prefix.
        if turn > 0 && w.output.1 > 0 {
            e.cached_input_tokens = e.input_tokens * rng.between(30, 70) / 100;
        }
    }
    if w.output.1 > 0 {
        e.output_tokens = rng.between(w.output.0, w.output.1);
    }
    e.images = if w.images.1 > 0 { rng.between(w.images.0, w.images.1) } else { 0 };
    let base = if w.images.1 > 0 { 4_500 } else if w.output.1 == 0 { 40 } else { 250 };
    let per_output = if model.contains("mini") || model.contains("haiku") || model.contains("flash") { 6 } else { 14 };
    let mut latency = base + e.output_tokens * per_output + e.images * 2_000 + rng.below(base);
    if rng.chance(20) {
        latency *= 3; // the slow tail
    }
    e.latency_ms = Some(latency);
    e
}

/// What [`record_sample_usage`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub events: usize,
    pub cost: NanoUsd,
    /// The sample budget's id.
    pub budget_id: String,
}

/// Records the sample usage for `org_id` as of `now`: first the monthly
/// budget (amount: the month's sample spend over 0.85, rounded down to two
/// significant figures, so the month lands at 85–95% of it), then the events
/// through the ingest path, oldest first, then the backfilled rollups are
/// folded so that every page sees them at once.
pub async fn record_sample_usage(db: &Db, org_id: &str, now: i64, by: &By) -> Result<Seeded> {
    let tz_name = {
        let mut conn = db.reader().acquire().await?;
        crate::orgs::store::existing_time_zone(&mut conn, org_id).await?
    };
    let tz = zone(&tz_name);
    let events = events(now, tz);
    let month = budgets::period_window(tz, BudgetPeriod::Monthly, now);
    let mut month_cost = 0i64;
    for e in events.iter().filter(|e| e.timestamp_ms >= month.start_ms) {
        month_cost += metering::quote(db, e).await?.map(NanoUsd::nanos).unwrap_or(0);
    }
    let input = BudgetInput {
        name: BUDGET_NAME.into(),
        scope: "organization".into(),
        scope_id: None,
        period: "monthly".into(),
        amount_usd: budget_amount(month_cost).to_short_usd_string(),
        thresholds: Some(vec![50, 80, 100]),
        action: Some("notify".into()),
    };
    let budget = budgets::create(db, org_id, &input, by).await?;
    let sender = Sender { org_id: org_id.to_string(), api_key_id: None };
    let count = events.len();
    let mut cost = 0i64;
    let mut events = events.into_iter().peekable();
    while let Some(first) = events.peek() {
        let size = if first.timestamp_ms >= month.start_ms { PERIOD_BATCH } else { BATCH };
        let batch: Vec<metering::ParsedEvent> = events.by_ref().take(size).map(Ok).collect();
        for r in crate::ingest::record_usage(db, &sender, batch).await? {
            if r.status == Outcome::Rejected {
                return Err(Error::Internal(format!("a sample event was refused: {}", r.error.unwrap_or_default())));
            }
            cost += r.cost_usd.as_deref().and_then(|c| NanoUsd::parse_usd(c).ok()).map(NanoUsd::nanos).unwrap_or(0);
        }
    }
    metering::analytics::pending::fold_all(db, 20_000).await?;
    Ok(Seeded { events: count, cost: NanoUsd::from_nanos(cost), budget_id: budget.id })
}

/// The sample budget's amount for a month that has spent `spent` nano-USD:
/// `spent / 0.85` rounded down to two significant figures of cents (at least
/// a cent), so `spent` is 85% to 95% of it.
fn budget_amount(spent: i64) -> NanoUsd {
    const CENT: i64 = 10_000_000;
    let cents = (spent as i128 * 100 / 85 / CENT as i128) as i64;
    let digits = cents.max(1).to_string().len() as u32;
    let unit = 10i64.pow(digits.saturating_sub(2));
    NanoUsd::from_nanos((cents / unit * unit).max(1) * CENT)
}

/// Whether the organization has sample usage: its first sample event is
/// stored or archived (two primary-key lookups).
pub async fn has_sample_usage(db: &Db, org_id: &str) -> Result<bool> {
    metering::store::has_event(&mut *db.reader().acquire().await?, org_id, &event_id(0)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T10:00:00Z, a Monday.
    const NOW: i64 = 1_796_637_600_000;

    #[test]
    fn the_sample_is_the_same_every_time_and_valid() {
        let a = events(NOW, chrono_tz::UTC);
        let b = events(NOW, chrono_tz::UTC);
        assert_eq!(a, b);
        assert!((10_000..=30_000).contains(&a.len()), "{} events", a.len());
        assert_eq!(a[0].id.as_deref(), Some("tollbooth-sample-00000"));
        assert!(a.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms), "in time order");
        assert_eq!(a.last().unwrap().timestamp_ms, NOW);
        assert!(a[0].timestamp_ms >= NOW - DAYS * DAY_MS - HOUR_MS);
        for e in &a {
            e.usage(false).validate().unwrap();
            assert_eq!(e.metadata.as_deref(), Some(METADATA));
        }
    }

    #[test]
    fn the_sample_has_the_shape_of_real_usage() {
        let a = events(NOW, chrono_tz::UTC);
        let count = |f: &dyn Fn(&NewEvent) -> bool| a.iter().filter(|e| f(e)).count();
        let hour = |e: &NewEvent| e.timestamp_ms.rem_euclid(DAY_MS) / HOUR_MS;
        assert!(count(&|e| hour(e) == 14) > 4 * count(&|e| hour(e) == 3), "busier by day than at night");
        let errors = count(&|e| e.status != CallStatus::Success);
        assert!(errors > 100 && errors < a.len() / 20, "{errors} failed calls");
        let distinct = |f: &dyn Fn(&NewEvent) -> Option<String>| a.iter().filter_map(f).collect::<std::collections::BTreeSet<_>>().len();
        assert!(distinct(&|e| Some(e.model.clone())) >= 6);
        assert!(distinct(&|e| e.provider.clone()) >= 3);
        assert!(distinct(&|e| e.user_id.clone()) >= 20);
        assert!(distinct(&|e| e.project_id.clone()) >= 4);
    }

    #[test]
    fn the_budget_is_sized_so_the_month_lands_between_85_and_95_percent() {
        for spent in [1, 9_999, 123_456_789, 47_300_000_000, 1_000_000_000_000] {
            let amount = budget_amount(spent).nanos();
            assert!(amount > spent, "{spent}: under 100%");
            if spent >= 100_000_000 {
                assert!(spent * 100 >= amount * 85 && spent * 100 < amount * 95, "{spent} of {amount}");
            }
        }
        assert_eq!(budget_amount(47_300_000_000).to_short_usd_string(), "55.00");
    }
}
