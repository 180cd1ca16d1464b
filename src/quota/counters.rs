//! Usage counters: what each local day of an organization used, per usage
//! metric, kept in the same transaction as the events (so "used" is never
//! behind a committed event, and a crash loses nothing). A month is the sum of
//! its days: days nest in months in every time zone.
//!
//! What an event counts: tokens are input plus output tokens; cost is its
//! exact cost (unpriced events count no cost); requests are its `requests`;
//! images its images; video seconds the duration of calls to video models,
//! each call rounded up to a whole second; chat messages the requests to chat
//! (and responses) models.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use sqlx::AnyConnection;

use super::store::counters as store;
use super::Units;
use crate::calendar::{day_start, local_date, start_of_day, window};
use crate::db::Engine;
use crate::metering::{self, NewEvent, Recorded};
use crate::plans::Period;
use crate::pricing::Mode;
use crate::Result;

/// What one event adds to the usage metrics.
pub fn units_of(e: &NewEvent, cost_nanos: Option<i64>, mode: Option<&Mode>) -> Units {
    let seconds = e.duration_ms.div_ceil(1000) as i64;
    units(mode, (e.input_tokens + e.output_tokens) as i64, cost_nanos.unwrap_or(0), e.requests as i64, e.images as i64, seconds)
}

/// The units of events of one mode from their sums: video seconds count for
/// video models only, chat requests for chat and responses models only.
/// `seconds` is each event's duration in whole seconds, rounded up, summed.
fn units(mode: Option<&Mode>, tokens: i64, cost_nanos: i64, requests: i64, images: i64, seconds: i64) -> Units {
    let video = matches!(mode, Some(Mode::VideoGeneration));
    let chat = matches!(mode, Some(Mode::Chat | Mode::Responses));
    [tokens, cost_nanos, requests, images, if video { seconds } else { 0 }, if chat { requests } else { 0 }]
}

/// A batch's units per local day.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DayUnits(pub BTreeMap<i64, Units>);

impl DayUnits {
    pub fn add(&mut self, tz: Tz, ts_ms: i64, units: Units) {
        let day = self.0.entry(day_start(tz, ts_ms)).or_default();
        for (d, u) in day.iter_mut().zip(units) {
            *d += u;
        }
    }

    /// Adds the sums to the stored counters (days in order, so concurrent
    /// batches lock rows alike).
    pub async fn write(&self, conn: &mut AnyConnection, engine: Engine, org_id: &str) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let days: Vec<(i64, Units)> = self.0.iter().map(|(d, u)| (*d, *u)).collect();
        store::add(conn, engine, org_id, &days).await
    }
}

/// A batch's units per end user and local day: tokens, cost and requests
/// (the per-user limits' metrics, [`super::users`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserDays(pub BTreeMap<(String, i64), Units>);

impl UserDays {
    pub fn add(&mut self, tz: Tz, user_id: &str, ts_ms: i64, units: &Units) {
        let day = self.0.entry((user_id.to_string(), day_start(tz, ts_ms))).or_default();
        for i in 0..3 {
            day[i] += units[i];
        }
    }

    /// Adds the sums to the stored day counters (users and days in order)
    /// and to the users' month totals (months of `tz`, the zone the days
    /// were folded in; months and users in order): two multi-row upserts.
    pub async fn write(&self, conn: &mut AnyConnection, engine: Engine, org_id: &str, tz: Tz) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let rows: Vec<(&str, i64, Units)> = self.0.iter().map(|((u, d), units)| (u.as_str(), *d, *units)).collect();
        super::store::users::add_days(&mut *conn, engine, org_id, &rows).await?;
        let months = self.months(tz);
        let rows: Vec<(&str, i64, Units, i64)> = months.iter().map(|((m, u), (units, last))| (*u, *m, *units, *last)).collect();
        super::store::users::add_months(conn, engine, org_id, &rows).await
    }

    /// The sums per (month start, user), with the user's last day in each.
    fn months(&self, tz: Tz) -> BTreeMap<(i64, &str), (Units, i64)> {
        let mut starts: BTreeMap<i64, i64> = BTreeMap::new();
        let mut months: BTreeMap<(i64, &str), (Units, i64)> = BTreeMap::new();
        for ((user, day), units) in &self.0 {
            let start = *starts.entry(*day).or_insert_with(|| window(tz, Period::Month, *day).start_ms);
            let (sum, last) = months.entry((start, user.as_str())).or_default();
            for (s, u) in sum.iter_mut().zip(units) {
                *s += u;
            }
            *last = (*last).max(*day);
        }
        months
    }
}

/// What a recorded batch added to the counters, for the in-memory ledger.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counted {
    pub days: DayUnits,
    pub users: UserDays,
}

/// Step 2 of the ingest order ([`crate::ingest`]): adds a recorded batch's
/// units to the counters of the local days (in `tz`) its events fall on,
/// the organization's and each end user's, and to each end user's month
/// totals (the End users list's rows), in the batch's transaction.
/// Returns them for the in-memory ledger.
pub async fn on_recorded(conn: &mut AnyConnection, engine: Engine, recorded: &Recorded<'_>, tz: Tz) -> Result<Counted> {
    let mut counted = Counted::default();
    for e in &recorded.events {
        let units = units_of(e.event, e.cost_nano, e.price.and_then(|p| p.price.mode.as_ref()));
        counted.days.add(tz, e.event.timestamp_ms, units);
        if let Some(user) = e.event.user_id.as_deref() {
            counted.users.add(tz, user, e.event.timestamp_ms, &units);
        }
    }
    counted.days.write(&mut *conn, engine, recorded.org_id).await?;
    counted.users.write(conn, engine, recorded.org_id, tz).await?;
    Ok(counted)
}

/// The organization's stored use in the day and the month containing `now_ms`.
pub async fn current(conn: &mut AnyConnection, org_id: &str, tz: Tz, now_ms: i64) -> Result<(Units, Units)> {
    let month = window(tz, Period::Month, now_ms);
    let today = day_start(tz, now_ms);
    let (mut day, mut total) = (Units::default(), Units::default());
    for (start, units) in store::days(conn, org_id, month).await? {
        for (i, v) in units.into_iter().enumerate() {
            total[i] += v;
            if start == today {
                day[i] += v;
            }
        }
    }
    Ok((day, total))
}

/// Recomputes the counters of the current month from the events themselves
/// and replaces the stored ones; returns whether they differed. Run at start
/// (to verify what the ledger will trust) and when the time zone changes
/// (the days move).
pub async fn rebuild_month(conn: &mut AnyConnection, engine: Engine, org_id: &str, tz: Tz, now_ms: i64) -> Result<bool> {
    let month = window(tz, Period::Month, now_ms);
    // The events are summed per local day and mode in SQL, and each sum
    // counted as `units_of` counts an event.
    let starts = day_starts(tz, month);
    let mut fresh = DayUnits::default();
    for r in metering::store::counted_days(&mut *conn, org_id, month, &starts).await? {
        let mode = r.mode.map(Mode::from);
        fresh.add(tz, r.day, units(mode.as_ref(), r.tokens, r.cost_nano, r.requests, r.images, r.seconds));
    }
    let mut old = DayUnits::default();
    for (start, u) in store::days_in_order(&mut *conn, org_id, month).await? {
        if u != Units::default() {
            old.0.insert(start, u);
        }
    }
    if old == fresh {
        return Ok(false);
    }
    store::delete_days(&mut *conn, org_id, month).await?;
    // The days of the edge of the month in another alignment (after a time
    // zone change) are replaced as well.
    fresh.write(conn, engine, org_id).await?;
    Ok(true)
}

/// The local day starts of a month.
fn day_starts(tz: Tz, month: crate::calendar::Window) -> Vec<i64> {
    let mut starts = vec![month.start_ms];
    let mut date = local_date(tz, month.start_ms);
    loop {
        date = date.succ_opt().unwrap_or(date);
        let next = start_of_day(tz, date);
        if next >= month.end_ms || next <= *starts.last().unwrap_or(&i64::MAX) {
            break;
        }
        starts.push(next);
    }
    starts
}

/// [`rebuild_month`] of the end users' counters; returns whether they differed.
async fn rebuild_user_month(
    conn: &mut AnyConnection,
    engine: Engine,
    org_id: &str,
    tz: Tz,
    month: crate::calendar::Window,
    starts: &[i64],
) -> Result<bool> {
    let mut fresh = UserDays::default();
    for (user, day, units) in metering::store::counted_user_days(&mut *conn, org_id, month, starts).await? {
        fresh.add(tz, &user, day, &units);
    }
    let mut old = UserDays::default();
    for (user, day, u) in super::store::users::days(&mut *conn, org_id, month).await? {
        if u != Units::default() {
            old.0.insert((user, day), u);
        }
    }
    fresh.0.retain(|_, u| *u != Units::default());
    if old == fresh {
        return Ok(false);
    }
    // The month's totals go with its days (in any alignment) and are
    // written again from the fresh days.
    super::store::users::delete_days(&mut *conn, org_id, month).await?;
    fresh.write(conn, engine, org_id, tz).await?;
    Ok(true)
}

/// Recomputes the end users' counters of the current month from the events
/// and replaces them when they differ (after a time zone change, and for an
/// organization that has none: a database from before them); returns
/// whether they differed.
pub async fn rebuild_user_days(conn: &mut AnyConnection, engine: Engine, org_id: &str, tz: Tz, now_ms: i64) -> Result<bool> {
    let month = window(tz, Period::Month, now_ms);
    rebuild_user_month(conn, engine, org_id, tz, month, &day_starts(tz, month)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_counts_tokens_cost_and_feature_units() {
        let e = NewEvent { input_tokens: 100, output_tokens: 20, requests: 1, images: 2, duration_ms: 4_001, ..NewEvent::blank() };
        assert_eq!(units_of(&e, Some(7), Some(&Mode::Chat)), [120, 7, 1, 2, 0, 1]);
        assert_eq!(units_of(&e, None, Some(&Mode::VideoGeneration)), [120, 0, 1, 2, 5, 0]);
        assert_eq!(units_of(&e, None, None), [120, 0, 1, 2, 0, 0]);
    }

    #[test]
    fn units_fold_by_local_day() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let mut d = DayUnits::default();
        // 22:30 and 23:30 UTC on Jan 31 fall on two Paris days.
        d.add(tz, 1_769_898_600_000, [1, 0, 0, 0, 0, 0]);
        d.add(tz, 1_769_902_200_000, [2, 0, 0, 0, 0, 0]);
        d.add(tz, 1_769_902_300_000, [3, 0, 0, 0, 0, 0]);
        assert_eq!(d.0.values().map(|u| u[0]).collect::<Vec<_>>(), vec![1, 5]);
    }

    #[test]
    fn users_days_fold_into_the_months_of_the_zone() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let mut d = UserDays::default();
        // 22:30 UTC on Jan 31 is still January in Paris, 23:30 is February.
        d.add(tz, "a", 1_769_898_600_000, &[1, 10, 1, 0, 0, 0]);
        d.add(tz, "a", 1_769_902_200_000, &[2, 20, 1, 0, 0, 0]);
        d.add(tz, "a", 1_769_902_300_000, &[3, 30, 1, 0, 0, 0]);
        d.add(tz, "b", 1_769_902_300_000, &[4, 40, 1, 0, 0, 0]);
        let jan = window(tz, Period::Month, 1_769_898_600_000).start_ms;
        let feb = window(tz, Period::Month, 1_769_902_200_000).start_ms;
        let feb_1 = day_start(tz, 1_769_902_200_000);
        let months: Vec<_> = d.months(tz).into_iter().collect();
        assert_eq!(
            months,
            vec![
                ((jan, "a"), ([1, 10, 1, 0, 0, 0], day_start(tz, 1_769_898_600_000))),
                ((feb, "a"), ([5, 50, 2, 0, 0, 0], feb_1)),
                ((feb, "b"), ([4, 40, 1, 0, 0, 0], feb_1)),
            ]
        );
    }
}
