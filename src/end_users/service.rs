//! End-user services, every one scoped to an organization id.

use serde_json::json;

use super::{EndUserLimits, EndUserRow, EndUsersPage, LimitOverride, LimitSettings, LimitValues, UsageFigures, SORTS};
use crate::audit::{self, By};
use crate::calendar::{local_date, window, zone};
use crate::clock::now_ms;
use crate::db::Db;
use crate::plans::{Metric, Period};
use crate::pricing::NanoUsd;
use crate::quota::store::users::{self as store, Sort, UserRow};
use crate::quota::users::{effective, Effective, Override, UserLimitSettings, UserLimits, MAX_USER_ID};
use crate::quota::{self, StatusLine, Units};
use crate::{Error, Result};

/// Most end users one page lists.
pub const MAX_PAGE: i64 = 200;
/// The highest requests-per-minute limit (the rate limiter's range).
pub const MAX_PER_MINUTE: i64 = 1_000_000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub search: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl LimitValues {
    /// The limits these values set, each checked (named by its field).
    pub fn parse(&self) -> Result<UserLimits> {
        let count = |field: &'static str, v: Option<i64>, max: i64| -> Result<Option<i64>> {
            match v {
                Some(n) if n < 0 => Err(Error::invalid(field, "must not be negative")),
                Some(n) if n > max => Err(Error::invalid(field, format!("must be at most {}", crate::plans::group_thousands(max)))),
                v => Ok(v),
            }
        };
        let cost = |field: &'static str, v: &Option<String>| -> Result<Option<i64>> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) => {
                    let n = Metric::CostUsd.parse_amount(field, t)?;
                    if n > quota::rules::MAX_ASK {
                        return Err(Error::invalid(field, "is too large: at most $1,000,000"));
                    }
                    Ok(Some(n))
                }
            }
        };
        let per_minute = match self.requests_per_minute {
            Some(n) if !(1..=MAX_PER_MINUTE).contains(&n) => {
                return Err(Error::invalid("requests_per_minute", format!("must be between 1 and {}", crate::plans::group_thousands(MAX_PER_MINUTE))));
            }
            v => v,
        };
        Ok(UserLimits {
            tokens_per_day: count("tokens_per_day", self.tokens_per_day, quota::rules::MAX_ASK)?,
            cost_per_day: cost("cost_per_day_usd", &self.cost_per_day_usd)?,
            tokens_per_month: count("tokens_per_month", self.tokens_per_month, quota::rules::MAX_ASK)?,
            cost_per_month: cost("cost_per_month_usd", &self.cost_per_month_usd)?,
            requests_per_minute: per_minute,
        })
    }

    /// Values as typed in a form (blank: no limit; tokens may have commas).
    pub fn from_text(tokens_per_day: &str, cost_per_day: &str, tokens_per_month: &str, cost_per_month: &str, per_minute: &str) -> Result<Self> {
        let whole = |field: &'static str, t: &str| -> Result<Option<i64>> {
            match t.trim() {
                "" => Ok(None),
                t => Metric::Tokens.parse_amount(field, t).map(Some),
            }
        };
        let text = |t: &str| (!t.trim().is_empty()).then(|| t.trim().trim_start_matches('$').to_string());
        let values = LimitValues {
            tokens_per_day: whole("tokens_per_day", tokens_per_day)?,
            cost_per_day_usd: text(cost_per_day),
            tokens_per_month: whole("tokens_per_month", tokens_per_month)?,
            cost_per_month_usd: text(cost_per_month),
            requests_per_minute: whole("requests_per_minute", per_minute)?,
        };
        values.parse()?;
        Ok(values)
    }

    fn of(l: &UserLimits) -> Self {
        let usd = |v: Option<i64>| v.map(|n| NanoUsd::from_nanos(n).to_short_usd_string());
        LimitValues {
            tokens_per_day: l.tokens_per_day,
            cost_per_day_usd: usd(l.cost_per_day),
            tokens_per_month: l.tokens_per_month,
            cost_per_month_usd: usd(l.cost_per_month),
            requests_per_minute: l.requests_per_minute,
        }
    }
}

fn settings_view(s: &UserLimitSettings) -> LimitSettings {
    LimitSettings { enabled: s.enabled, defaults: LimitValues::of(&s.defaults) }
}

/// A `user_id` from a path: as events accept it.
fn check_user_id(user_id: &str) -> Result<()> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID || user_id.chars().any(char::is_control) {
        return Err(Error::invalid("user_id", format!("must be 1 to {MAX_USER_ID} characters without control characters")));
    }
    Ok(())
}

/// The organization's per-user limit settings.
pub async fn settings(db: &Db, org_id: &str) -> Result<LimitSettings> {
    Ok(settings_view(&store::settings(&mut *db.reader().acquire().await?, org_id).await?))
}

/// Saves the organization's settings (audited as `user_limits.settings_change`).
pub async fn save_settings(db: &Db, org_id: &str, input: &LimitSettings, by: &By) -> Result<LimitSettings> {
    let new = UserLimitSettings { enabled: input.enabled, defaults: input.defaults.parse()? };
    let mut tx = db.begin().await?;
    let before = store::settings(&mut tx, org_id).await?;
    if before != new {
        store::put_settings(&mut tx, org_id, &new, now_ms()).await?;
        let details = json!({ "before": settings_view(&before), "after": settings_view(&new) });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "user_limits.settings_change", Some(org_id)).details(details)).await?;
    }
    tx.commit().await?;
    quota::limits_changed(db);
    Ok(settings_view(&new))
}

fn mode_of(o: Option<&Override>) -> &'static str {
    o.map_or("default", Override::mode)
}

fn status_of(e: &Effective) -> &'static str {
    match e {
        Effective::Free => "free",
        Effective::Blocked => "blocked",
        Effective::Limited(_) => "limited",
    }
}

fn figures(u: &Units) -> UsageFigures {
    UsageFigures { tokens: u[0], cost_usd: NanoUsd::from_nanos(u[1]).to_short_usd_string(), requests: u[2] }
}

/// The user's windowed limits in force with what it used and holds.
fn lines(e: &Effective, day: &Units, month: &Units, held: &Units, tz: chrono_tz::Tz, now: i64) -> Vec<StatusLine> {
    let Effective::Limited(l) = e else { return Vec::new() };
    l.windowed()
        .into_iter()
        .map(|limit| {
            let i = quota::index(limit.metric).unwrap_or(0);
            let used = if limit.period == Period::Day { day[i] } else { month[i] };
            StatusLine {
                metric: limit.metric,
                period: limit.period,
                limit: limit.value,
                hard: true,
                used,
                reserved: held[i],
                reset_at: Some(crate::calendar::to_local_rfc3339(tz, window(tz, limit.period, now).end_ms)),
                overridden: false,
            }
        })
        .collect()
}

/// The organization's end users with this month's use (or an override),
/// searched, sorted and paged.
pub async fn list(db: &Db, org_id: &str, q: &ListQuery) -> Result<EndUsersPage> {
    let sort = match q.sort.as_deref().map(str::trim) {
        None | Some("") | Some("cost_month") => Sort::CostMonth,
        Some("tokens_month") => Sort::TokensMonth,
        Some("cost_today") => Sort::CostDay,
        Some("tokens_today") => Sort::TokensDay,
        Some("requests") => Sort::Requests,
        Some("user_id") => Sort::User,
        Some(s) => return Err(Error::invalid("sort", format!("{s:?} is not a sort; use one of {}", SORTS.join(", ")))),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    let search = q.search.as_deref().unwrap_or("").trim();
    if search.len() > MAX_USER_ID {
        return Err(Error::invalid("search", format!("must be at most {MAX_USER_ID} characters")));
    }
    let now = now_ms();
    let mut conn = db.reader().acquire().await?;
    let tz_name = crate::orgs::store::time_zone(&mut conn, org_id).await?.ok_or(Error::NotFound("organization"))?;
    let tz = zone(&tz_name);
    let month = window(tz, Period::Month, now);
    let today = window(tz, Period::Day, now).start_ms;
    let settings = store::settings(&mut conn, org_id).await?;
    let (rows, total) = store::list(&mut conn, org_id, month, today, search, sort, limit, offset).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    // The page's users' overrides only (shown even with the switch off).
    let overrides = store::overrides_of(&mut conn, org_id, &ids).await?;
    let users = rows
        .into_iter()
        .map(|UserRow { user_id, day, month, last_day }| {
            let over = overrides.get(&user_id);
            let eff = effective(&settings, over);
            EndUserRow {
                lines: lines(&eff, &day, &month, &Units::default(), tz, now),
                today: figures(&day),
                month: figures(&month),
                last_active: (last_day > 0).then(|| local_date(tz, last_day).format("%Y-%m-%d").to_string()),
                mode: mode_of(over).to_string(),
                status: status_of(&eff).to_string(),
                user_id,
            }
        })
        .collect();
    Ok(EndUsersPage { settings: settings_view(&settings), users, total, time_zone: tz_name })
}

/// One end user's limits (defaults merged with its override) and use.
pub async fn limits(db: &Db, org_id: &str, user_id: &str) -> Result<EndUserLimits> {
    check_user_id(user_id)?;
    quota::flush(db).await?;
    let now = now_ms();
    let mut conn = db.reader().acquire().await?;
    let tz_name = crate::orgs::store::time_zone(&mut conn, org_id).await?.ok_or(Error::NotFound("organization"))?;
    let tz = zone(&tz_name);
    let settings = store::settings(&mut conn, org_id).await?;
    let over = store::get_override(&mut conn, org_id, user_id).await?;
    let used = store::user_use(&mut conn, org_id, user_id, window(tz, Period::Month, now), window(tz, Period::Day, now).start_ms, now).await?;
    let eff = effective(&settings, over.as_ref());
    Ok(EndUserLimits {
        user_id: user_id.to_string(),
        enabled: settings.enabled,
        mode: mode_of(over.as_ref()).to_string(),
        own: match over {
            Some(Override::Custom(l)) => Some(LimitValues::of(&l)),
            _ => None,
        },
        effective: match eff {
            Effective::Limited(l) => LimitValues::of(&l),
            _ => LimitValues::default(),
        },
        status: status_of(&eff).to_string(),
        lines: lines(&eff, &used.day, &used.month, &used.held, tz, now),
        today: figures(&used.day),
        month: figures(&used.month),
    })
}

/// Sets one end user's override (audited as `user_limits.override_set`).
pub async fn set_limits(db: &Db, org_id: &str, user_id: &str, input: &LimitOverride, by: &By) -> Result<EndUserLimits> {
    check_user_id(user_id)?;
    let over = match input.mode.trim() {
        "custom" => {
            let l = input.limits.parse()?;
            if l.is_empty() {
                return Err(Error::invalid("mode", "custom needs at least one limit; use \"unlimited\" for none, or delete the override to use the defaults"));
            }
            Override::Custom(l)
        }
        "unlimited" if input.limits.is_empty() => Override::Unlimited,
        "blocked" if input.limits.is_empty() => Override::Blocked,
        "unlimited" | "blocked" => return Err(Error::invalid("mode", format!("{} takes no limits", input.mode.trim()))),
        m => return Err(Error::invalid("mode", format!("{m:?} is not a mode; use custom, unlimited or blocked"))),
    };
    let mut tx = db.begin().await?;
    store::put_override(&mut tx, org_id, user_id, &over, now_ms()).await?;
    let details = json!({ "user_id": user_id, "mode": over.mode(), "limits": input.limits });
    audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "user_limits.override_set", Some(user_id)).details(details)).await?;
    tx.commit().await?;
    quota::limits_changed(db);
    limits(db, org_id, user_id).await
}

/// Deletes one end user's override (the defaults apply again); whether it
/// had one (audited as `user_limits.override_delete`).
pub async fn delete_limits(db: &Db, org_id: &str, user_id: &str, by: &By) -> Result<bool> {
    check_user_id(user_id)?;
    let mut tx = db.begin().await?;
    let deleted = store::delete_override(&mut tx, org_id, user_id).await?;
    if deleted {
        let details = json!({ "user_id": user_id });
        audit::record_in(&mut tx, db.engine, &by.entry(Some(org_id), "user_limits.override_delete", Some(user_id)).details(details)).await?;
    }
    tx.commit().await?;
    quota::limits_changed(db);
    Ok(deleted)
}

/// One end user's usage panel: its last [`USAGE_DAYS`](super::USAGE_DAYS)
/// days and this month by model, from the rollups (one `GROUP BY` each).
pub async fn usage(db: &Db, org_id: &str, user_id: &str) -> Result<super::EndUserUsage> {
    use crate::metering::usage::{self as report, month_start_ms, GroupBy, UsageQuery};
    check_user_id(user_id)?;
    let now = now_ms();
    let tz_name = crate::orgs::store::time_zone(&mut *db.reader().acquire().await?, org_id).await?.ok_or(Error::NotFound("organization"))?;
    let days = crate::date_range::DateRange::parse(Some("30d"), None, None, &tz_name, now)?;
    let query = |from_ms: i64, to_ms: i64, group_by: Vec<GroupBy>| UsageQuery { from_ms, to_ms, group_by, user_id: Some(user_id.to_string()), ..Default::default() };
    let by_day = query(days.start_ms(), days.end_ms(), vec![GroupBy::Day]);
    let by_model = query(month_start_ms(&tz_name, now), now + 3_600_000, vec![GroupBy::Model]);
    let (daily, models) = tokio::try_join!(report::report(db, org_id, &tz_name, &by_day), report::report(db, org_id, &tz_name, &by_model))?;
    let mut found: std::collections::HashMap<String, crate::metering::usage::UsageRow> =
        daily.rows.into_iter().map(|r| (r.group.get("day").map(|d| d.chars().take(10).collect()).unwrap_or_default(), r)).collect();
    let days = days
        .days()
        .map(|d| {
            let date = d.format("%Y-%m-%d").to_string();
            let r = found.remove(&date);
            let nanos = r.as_ref().map_or(0, |r| r.cost_nanos);
            super::DayFigures {
                tokens: r.as_ref().map_or(0, |r| r.input_tokens.saturating_add(r.output_tokens)),
                requests: r.as_ref().map_or(0, |r| r.requests),
                cost_usd: NanoUsd::from_nanos(nanos).to_short_usd_string(),
                cost_nanos: nanos,
                date,
            }
        })
        .collect();
    let models = models
        .rows
        .into_iter()
        .map(|r| super::ModelFigures {
            model: r.group.get("model").cloned().unwrap_or_default(),
            tokens: r.input_tokens.saturating_add(r.output_tokens),
            cost_usd: r.cost_usd,
            requests: r.requests,
            errors: r.errors,
        })
        .collect();
    Ok(super::EndUserUsage { days, models })
}
