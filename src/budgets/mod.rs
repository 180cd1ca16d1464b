//! Budgets: a USD amount per calendar period for the organization, a project,
//! a user id or an API key, with alert thresholds and an action at 100%.
//!
//! Periods are calendar-aligned in the organization's time zone: a day starts
//! at local midnight, a week on Monday, a month on the 1st. The forecast is
//! linear: the period's spend so far, extended at the same rate to its end.

pub mod banner;
#[cfg(feature = "ssr")]
pub mod enforce;
mod series;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub(crate) mod store;
pub use series::*;
#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a budget covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = BudgetScope))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Organization,
    Project,
    User,
    ApiKey,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Project => "project",
            Scope::User => "user",
            Scope::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "organization" | "org" => Ok(Scope::Organization),
            "project" => Ok(Scope::Project),
            "user" => Ok(Scope::User),
            "api_key" => Ok(Scope::ApiKey),
            other => Err(Error::invalid("scope", format!("{other:?} is not a scope; use organization, project, user or api_key"))),
        }
    }
}

/// A budget's calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Daily,
    Weekly,
    Monthly,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Daily => "daily",
            BudgetPeriod::Weekly => "weekly",
            BudgetPeriod::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "daily" => Ok(BudgetPeriod::Daily),
            "weekly" => Ok(BudgetPeriod::Weekly),
            "monthly" => Ok(BudgetPeriod::Monthly),
            other => Err(Error::invalid("period", format!("{other:?} is not a period; use daily, weekly or monthly"))),
        }
    }
}

/// What happens at 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = BudgetAction))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Alert only.
    Notify,
    /// Refuse quota checks and reservations for the scope until the period
    /// resets or the budget rises (events are still recorded).
    Pause,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Pause => "pause",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "notify" => Ok(Action::Notify),
            "pause" => Ok(Action::Pause),
            other => Err(Error::invalid("action", format!("{other:?} is not an action; use notify or pause"))),
        }
    }
}

/// Default alert thresholds, in percent.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 100];

/// Parses thresholds: percentages from 1 to 1000, at most 10, sorted and
/// without repeats.
pub fn parse_thresholds(values: &[u32]) -> Result<Vec<u32>, Error> {
    if values.len() > 10 {
        return Err(Error::invalid("thresholds", "at most 10 percentages"));
    }
    if let Some(bad) = values.iter().find(|v| !(1..=1000).contains(*v)) {
        return Err(Error::invalid("thresholds", format!("{bad} is not a percentage from 1 to 1000")));
    }
    let mut t = values.to_vec();
    t.sort_unstable();
    t.dedup();
    Ok(t)
}

/// A budget as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetView {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    /// The project id, user id or API key id; `None` for the organization.
    pub scope_id: Option<String>,
    pub period: BudgetPeriod,
    /// Exact USD.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub amount_usd: String,
    pub thresholds: Vec<u32>,
    pub action: Action,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A budget as submitted (text fields as typed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetInput {
    #[serde(default)]
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Scope))]
    pub scope: String,
    #[serde(default)]
    pub scope_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = BudgetPeriod))]
    pub period: String,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub amount_usd: String,
    #[serde(default)]
    pub thresholds: Option<Vec<u32>>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Action>))]
    pub action: Option<String>,
}

/// A parsed, valid budget definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetDef {
    pub name: String,
    pub scope: Scope,
    pub scope_id: String,
    pub period: BudgetPeriod,
    pub amount_nanos: i64,
    pub thresholds: Vec<u32>,
    pub action: Action,
}

impl BudgetInput {
    pub fn parse(&self) -> Result<BudgetDef, Error> {
        let scope = Scope::parse(&self.scope)?;
        let scope_id = self.scope_id.as_deref().map(str::trim).unwrap_or_default().to_string();
        match (scope, scope_id.is_empty()) {
            (Scope::Organization, false) => return Err(Error::invalid("scope_id", "an organization budget has no scope_id")),
            (Scope::Organization, true) => {}
            (_, true) => return Err(Error::invalid("scope_id", format!("a {} budget needs the {} id", scope.as_str(), scope.as_str()))),
            (_, false) if scope_id.len() > 128 => return Err(Error::invalid("scope_id", "must be at most 128 characters")),
            _ => {}
        }
        let period = BudgetPeriod::parse(&self.period)?;
        let amount_nanos = crate::plans::Metric::CostUsd.parse_amount("amount_usd", &self.amount_usd)?;
        if amount_nanos == 0 {
            return Err(Error::invalid("amount_usd", "must be more than zero"));
        }
        let thresholds = parse_thresholds(self.thresholds.as_deref().unwrap_or(&DEFAULT_THRESHOLDS))?;
        let action = match &self.action {
            Some(a) => Action::parse(a)?,
            None => Action::Notify,
        };
        let name = match self.name.trim() {
            "" => format!("{} {} budget", period.as_str(), if scope_id.is_empty() { scope.as_str().to_string() } else { format!("{} {scope_id}", scope.as_str()) }),
            n if n.chars().count() > 80 => return Err(Error::invalid("name", "must be at most 80 characters")),
            n => n.to_string(),
        };
        Ok(BudgetDef { name, scope, scope_id, period, amount_nanos, thresholds, action })
    }
}

/// Spend against a budget in its current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    pub budget_id: String,
    pub period_start: String,
    pub period_end: String,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub amount_usd: String,
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub spent_usd: String,
    /// Never negative: 0 once the budget is spent.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub remaining_usd: String,
    /// Spent as a percentage of the budget, two decimals (e.g. "82.50").
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Decimal))]
    pub percent: String,
    /// Spend projected to the period's end at the rate so far.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::openapi::Usd))]
    pub forecast_usd: String,
    pub on_track: bool,
    /// When the projection reaches the budget, if it does within the period.
    pub exceeds_at: Option<String>,
}

/// The linear forecast: `spent` over `elapsed` of a period of `length`
/// (milliseconds) projects `spent × length / elapsed` by its end, and reaches
/// `amount` at `start + amount × elapsed / spent` if that falls before the end.
/// Exact integer arithmetic (rounded down to the nano-USD / millisecond).
pub fn forecast(spent: i64, amount: i64, start: i64, now: i64, end: i64) -> (i64, Option<i64>) {
    let elapsed = (now - start).clamp(1, (end - start).max(1));
    let length = (end - start).max(1);
    let projected = (spent as i128 * length as i128 / elapsed as i128).min(i64::MAX as i128) as i64;
    let exceeds_at = if spent >= amount {
        Some(now.min(end))
    } else if spent > 0 && projected > amount {
        Some(start + (amount as i128 * elapsed as i128 / spent as i128) as i64)
    } else {
        None
    };
    (projected, exceeds_at)
}

/// `part / whole` as a percentage with two decimals, exact (rounded down).
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0.00".into();
    }
    let hundredths = (part.max(0) as i128 * 10_000 / whole as i128) as i64;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Which of `thresholds` (percentages of `amount`) a change of spend from
/// `before` to `after` crosses: below before, at or above after. Exact
/// integer arithmetic: 80% of 1 nano-dollar is 0.8, and reaching it takes 1.
pub fn crossed(thresholds: &[u32], amount: i64, before: i64, after: i64) -> Vec<u32> {
    let reached = |spent: i64, pct: u32| (spent as i128) * 100 >= (amount as i128) * pct as i128;
    thresholds.iter().copied().filter(|&t| !reached(before, t) && reached(after, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BudgetInput {
        BudgetInput { scope: "project".into(), scope_id: Some("support-bot".into()), period: "monthly".into(), amount_usd: "100".into(), ..Default::default() }
    }

    #[test]
    fn a_budget_input_is_checked_field_by_field() {
        let b = input().parse().unwrap();
        assert_eq!((b.amount_nanos, b.thresholds.clone(), b.action), (100_000_000_000, vec![50, 80, 100], Action::Notify));
        assert_eq!(b.name, "monthly project support-bot budget");
        let err = |i: BudgetInput| i.parse().unwrap_err().field();
        assert_eq!(err(BudgetInput { scope_id: None, ..input() }), Some("scope_id"));
        assert_eq!(err(BudgetInput { scope: "organization".into(), ..input() }), Some("scope_id"));
        assert_eq!(err(BudgetInput { period: "yearly".into(), ..input() }), Some("period"));
        assert_eq!(err(BudgetInput { amount_usd: "0".into(), ..input() }), Some("amount_usd"));
        assert_eq!(err(BudgetInput { amount_usd: "ten".into(), ..input() }), Some("amount_usd"));
        assert_eq!(err(BudgetInput { thresholds: Some(vec![0]), ..input() }), Some("thresholds"));
        assert_eq!(err(BudgetInput { action: Some("shout".into()), ..input() }), Some("action"));
        let t = BudgetInput { thresholds: Some(vec![100, 25, 100]), action: Some("pause".into()), ..input() }.parse().unwrap();
        assert_eq!((t.thresholds, t.action), (vec![25, 100], Action::Pause));
    }

    #[test]
    fn a_change_crosses_each_threshold_between_its_ends_once() {
        let t = [50, 80, 100];
        // $100 budget in nanos.
        let amount = 100_000_000_000;
        assert_eq!(crossed(&t, amount, 0, 49_999_999_999), Vec::<u32>::new());
        assert_eq!(crossed(&t, amount, 0, 50_000_000_000), vec![50]);
        assert_eq!(crossed(&t, amount, 49_000_000_000, 85_000_000_000), vec![50, 80]);
        assert_eq!(crossed(&t, amount, 80_000_000_000, 85_000_000_000), Vec::<u32>::new(), "80 was reached before");
        assert_eq!(crossed(&t, amount, 99_999_999_999, 100_000_000_000), vec![100]);
        assert_eq!(crossed(&t, amount, 0, 300_000_000_000), vec![50, 80, 100]);
        assert_eq!(crossed(&[150], amount, 100_000_000_000, 150_000_000_000), vec![150]);
    }

    #[test]
    fn thresholds_are_exact_on_odd_amounts() {
        // 80% of 3 nanos is 2.4: 2 is below, 3 reaches it.
        assert_eq!(crossed(&[80], 3, 0, 2), Vec::<u32>::new());
        assert_eq!(crossed(&[80], 3, 2, 3), vec![80]);
    }

    #[test]
    fn the_forecast_is_linear_and_exact() {
        // A 30-day period, 10 days in, $40 of $100 spent: $120 by the end,
        // reaching $100 at day 25.
        let day = 86_400_000;
        let (projected, at) = forecast(40, 100, 0, 10 * day, 30 * day);
        assert_eq!((projected, at), (120, Some(25 * day)));
        assert_eq!(forecast(20, 100, 0, 10 * day, 30 * day), (60, None));
        assert_eq!(forecast(0, 100, 0, 10 * day, 30 * day), (0, None));
        assert_eq!(forecast(150, 100, 0, 10 * day, 30 * day).1, Some(10 * day), "already over: now");
        assert_eq!(percent(8_250, 10_000), "82.50");
        assert_eq!(percent(1, 3), "33.33");
        assert_eq!(percent(5, 0), "0.00");
    }
}
