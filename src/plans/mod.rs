//! Plans and their limits: what an organization may use, per metric and period.
//!
//! A plan holds limits on metrics over periods: usage metrics (tokens, cost,
//! requests, feature units) per day and/or month, rate limits per minute, and
//! resource counts. "Unlimited" is the absence of a limit, never a large
//! number. A platform admin may override any limit for one organization
//! (including making it unlimited). The effective limit is the override when
//! there is one, else the plan's.
//!
//! The types here compile everywhere (the UI shows them); the catalog service
//! and its storage sit behind the `ssr` feature.

#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub(crate) mod store;

#[cfg(feature = "ssr")]
pub use service::*;

use serde::{Deserialize, Serialize};

use crate::pricing::NanoUsd;
use crate::Error;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Input plus output tokens (cached and reasoning tokens included in those).
    Tokens,
    /// Cost in USD, held as nano-USD.
    CostUsd,
    /// AI calls (an event's `requests`, 1 unless it says otherwise).
    Requests,
    /// Images generated or read.
    Images,
    /// Seconds of generated video, each call rounded up to a whole second.
    VideoSeconds,
    /// Calls to chat models.
    ChatMessages,
    /// Active (not archived) projects.
    Projects,
    /// Documents, as the product reports them.
    Documents,
    /// Members of the organization, pending invites included.
    Members,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Tokens,
        Metric::CostUsd,
        Metric::Requests,
        Metric::Images,
        Metric::VideoSeconds,
        Metric::ChatMessages,
        Metric::Projects,
        Metric::Documents,
        Metric::Members,
    ];

    /// The usage metrics, counted per day and month windows.
    pub const USAGE: [Metric; 6] =
        [Metric::Tokens, Metric::CostUsd, Metric::Requests, Metric::Images, Metric::VideoSeconds, Metric::ChatMessages];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Tokens => "tokens",
            Metric::CostUsd => "cost_usd",
            Metric::Requests => "requests",
            Metric::Images => "images",
            Metric::VideoSeconds => "video_seconds",
            Metric::ChatMessages => "chat_messages",
            Metric::Projects => "projects",
            Metric::Documents => "documents",
            Metric::Members => "members",
        }
    }

    /// A person's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Tokens => "AI credits (tokens)",
            Metric::CostUsd => "Spend (USD)",
            Metric::Requests => "Requests",
            Metric::Images => "Images",
            Metric::VideoSeconds => "Video seconds",
            Metric::ChatMessages => "Chat messages",
            Metric::Projects => "Projects",
            Metric::Documents => "Documents",
            Metric::Members => "Members",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or_else(|| Error::invalid("metric", format!("{s:?} is not a metric; use one of {}", Metric::names())))
    }

    fn names() -> String {
        Metric::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Whether this counts resources (a standing total) rather than usage.
    pub fn is_resource(self) -> bool {
        matches!(self, Metric::Projects | Metric::Documents | Metric::Members)
    }

    /// The periods a limit on this metric may have.
    pub fn periods(self) -> &'static [Period] {
        match self {
            Metric::Projects | Metric::Documents | Metric::Members => &[Period::Total],
            Metric::Tokens | Metric::Requests => &[Period::Minute, Period::Day, Period::Month],
            _ => &[Period::Day, Period::Month],
        }
    }

    /// Reads an amount of this metric as a person writes it: USD with up to
    /// nine decimals for cost (held as nano-USD), a whole number otherwise.
    pub fn parse_amount(self, field: &'static str, text: &str) -> Result<i64, Error> {
        let t = text.trim();
        if self == Metric::CostUsd {
            let n = NanoUsd::parse_usd(t.trim_start_matches('$')).map_err(|_| {
                Error::invalid(field, format!("{t:?} is not an amount in USD such as 12.50"))
            })?;
            if n.nanos() < 0 {
                return Err(Error::invalid(field, "must not be negative"));
            }
            return Ok(n.nanos());
        }
        let clean: String = t.chars().filter(|c| *c != ',' && *c != '_').collect();
        match clean.parse::<i64>() {
            Ok(v) if v >= 0 => Ok(v),
            Ok(_) => Err(Error::invalid(field, "must not be negative")),
            Err(_) => Err(Error::invalid(field, format!("{t:?} is not a whole number"))),
        }
    }

    /// An amount of this metric as a person reads it (`$12.50`, `1,000,000`).
    pub fn format_amount(self, v: i64) -> String {
        if self == Metric::CostUsd {
            return format!("${}", NanoUsd::from_nanos(v).to_short_usd_string());
        }
        group_thousands(v)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `1234567` as `1,234,567`.
pub fn group_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The window a limit applies over. Day and month are calendar windows in the
/// organization's time zone; minute is a rate limit; total is a standing count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Minute,
    Day,
    Month,
    Total,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Minute, Period::Day, Period::Month, Period::Total];

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Day => "day",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| Error::invalid("period", format!("{s:?} is not a period; use minute, day, month or total")))
    }

    /// "per month", "per minute", "" for totals.
    pub fn per(self) -> &'static str {
        match self {
            Period::Minute => "per minute",
            Period::Day => "per day",
            Period::Month => "per month",
            Period::Total => "",
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One limit: at most `value` of `metric` per `period`. A hard limit denies
/// beyond it; a soft one allows, and the overage is billed at `overage_nanos`
/// per unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub metric: Metric,
    pub period: Period,
    /// In the metric's unit (nano-USD for cost).
    pub value: i64,
    pub hard: bool,
    pub overage_nanos: Option<i64>,
}

impl Limit {
    /// Checks the combination: the period fits the metric, and only soft
    /// limits carry an overage price.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.metric.periods().contains(&self.period) {
            let allowed = self.metric.periods().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" or ");
            return Err(Error::invalid("period", format!("a {} limit is per {allowed}", self.metric)));
        }
        if self.value < 0 {
            return Err(Error::invalid("limit", "must not be negative"));
        }
        if self.overage_nanos.is_some() && self.hard {
            return Err(Error::invalid("overage", "only a soft limit has an overage price"));
        }
        if self.overage_nanos.is_some_and(|o| o < 0) {
            return Err(Error::invalid("overage", "must not be negative"));
        }
        if self.period == Period::Minute && !self.hard {
            return Err(Error::invalid("hard", "a rate limit (per minute) is always hard"));
        }
        Ok(())
    }

    /// "100,000 per month (hard)".
    pub fn describe(&self) -> String {
        let per = self.period.per();
        let kind = if self.hard { "hard" } else { "soft" };
        let value = self.metric.format_amount(self.value);
        if per.is_empty() {
            format!("{value} ({kind})")
        } else {
            format!("{value} {per} ({kind})")
        }
    }
}

/// A plan code: lower-case letters, digits, `-` and `_`, 2 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlanCode(String);

impl PlanCode {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        let ok_chars = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if s.len() < 2 || s.len() > 40 || !ok_chars || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(Error::invalid(
                "code",
                "must be 2 to 40 characters: lower-case letters, digits, - or _, starting with a letter",
            ));
        }
        Ok(PlanCode(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The plan every new signup gets.
pub const DEFAULT_PLAN: &str = "starter";
/// The plan of the demo organization: unlimited, usage tracked.
pub const DEMO_PLAN: &str = "demo";

/// Months of raw events a plan keeps unless its editor says otherwise (the
/// column's default since migration 0010).
pub const DEFAULT_RETENTION_MONTHS: i64 = 13;
/// The longest a plan may keep raw events: ten years.
pub const MAX_RETENTION_MONTHS: i64 = 120;

fn default_retention_months() -> i64 {
    DEFAULT_RETENTION_MONTHS
}

/// A plan's retention as an editor types it: a whole number of months from 1
/// to [`MAX_RETENTION_MONTHS`]; empty means [`DEFAULT_RETENTION_MONTHS`].
/// Raw events older than this move to the archive (see
/// `metering::retention`); rollups, invoices and the audit log are kept, so
/// at least a month keeps the current period's events at hand.
pub fn parse_retention_months(raw: &str) -> Result<i64, Error> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(DEFAULT_RETENTION_MONTHS);
    }
    let months: i64 = t.parse().map_err(|_| {
        Error::invalid("retention_months", format!("{t:?} is not a whole number of months; use 1 to {MAX_RETENTION_MONTHS}"))
    })?;
    if !(1..=MAX_RETENTION_MONTHS).contains(&months) {
        return Err(Error::invalid("retention_months", format!("must be from 1 to {MAX_RETENTION_MONTHS} months, not {months}")));
    }
    Ok(months)
}

/// The longest trial a plan may offer, in days.
pub const MAX_TRIAL_DAYS: i64 = 365;

/// Reads the plan editor's "offers a trial of N days" (empty: none).
pub fn parse_trial_days(raw: &str) -> Result<i64, Error> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(0);
    }
    match t.parse::<i64>() {
        Ok(d) if (0..=MAX_TRIAL_DAYS).contains(&d) => Ok(d),
        _ => Err(Error::invalid("trial_days", format!("{t:?} is not a number of days from 0 (no trial) to {MAX_TRIAL_DAYS}"))),
    }
}

/// "13 months", "1 month".
pub fn months_text(months: i64) -> String {
    if months == 1 { "1 month".to_string() } else { format!("{months} months") }
}

/// A plan as the catalog and the Plans page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    pub code: String,
    pub name: String,
    pub description: String,
    pub monthly_price_nanos: i64,
    pub is_public: bool,
    pub sort_order: i64,
    pub archived_at: Option<i64>,
    pub limits: Vec<Limit>,
    /// The Stripe Price that bills it (paid plans, when Stripe is configured).
    #[serde(default)]
    pub stripe_price_id: Option<String>,
    /// Months raw usage events stay before they move to the archive.
    #[serde(default = "default_retention_months")]
    pub retention_months: i64,
    /// Days of free trial an organization may start itself; 0: none.
    #[serde(default)]
    pub trial_days: i64,
    /// How many organizations are on it.
    pub organizations: i64,
}

impl PlanView {
    /// Its limit on `metric` per `period`, `None` when unlimited.
    pub fn limit(&self, metric: Metric, period: Period) -> Option<&Limit> {
        self.limits.iter().find(|l| l.metric == metric && l.period == period)
    }

    /// "$29/month" or "Free".
    pub fn price_label(&self) -> String {
        if self.monthly_price_nanos == 0 {
            "Free".to_string()
        } else {
            let usd = NanoUsd::from_nanos(self.monthly_price_nanos).to_short_usd_string();
            format!("${}/month", usd.strip_suffix(".00").unwrap_or(&usd))
        }
    }
}

/// One metric and period of an organization: the plan's limit, the
/// platform admin's override if any, and the one in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgLimit {
    pub metric: Metric,
    pub period: Period,
    pub plan: Option<Limit>,
    /// `Some(None)`: overridden to unlimited. In JSON the field is absent
    /// without an override and `null` for "overridden to unlimited" (a plain
    /// `Option<Option<_>>` would write `null` for both and lose the override).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub overridden: Option<Option<Limit>>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Limit>>, D::Error> {
    Option::<Limit>::deserialize(d).map(Some)
}

impl OrgLimit {
    /// The limit in force: the override when there is one, else the plan's.
    pub fn effective(&self) -> Option<&Limit> {
        match &self.overridden {
            Some(o) => o.as_ref(),
            None => self.plan.as_ref(),
        }
    }
}

/// An organization's plan and every limit that applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPlan {
    pub org_id: String,
    pub plan_code: String,
    pub plan_name: String,
    pub time_zone: String,
    pub limits: Vec<OrgLimit>,
}

impl OrgPlan {
    pub fn is_demo(&self) -> bool {
        self.plan_code == DEMO_PLAN
    }

    /// Demo mode as the organization is told it: the demo plan with no limit
    /// in force (a platform admin's custom limit ends it).
    pub fn demo_mode(&self) -> bool {
        self.is_demo() && self.limits.iter().all(|l| l.effective().is_none())
    }

    /// The limit in force on `metric` per `period`.
    pub fn limit(&self, metric: Metric, period: Period) -> Option<&Limit> {
        self.limits.iter().find(|l| l.metric == metric && l.period == period).and_then(OrgLimit::effective)
    }

    /// Every limit in force on `metric`, shortest period first.
    pub fn limits_on(&self, metric: Metric) -> impl Iterator<Item = &Limit> {
        self.limits.iter().filter(move |l| l.metric == metric).filter_map(OrgLimit::effective)
    }
}

/// A plan as the editor submits it: text fields as typed, parsed by
/// [`PlanInput::parse`]. A limit with an empty value is left out (unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    pub code: String,
    pub name: String,
    pub description: String,
    /// USD per month, e.g. `29` or `29.00`.
    pub monthly_price_usd: String,
    pub is_public: bool,
    pub sort_order: i64,
    #[serde(default)]
    pub limits: Vec<LimitInput>,
    /// "price_..." or empty.
    #[serde(default)]
    pub stripe_price_id: String,
    /// Months of raw events kept, 1 to 120; empty: 13.
    #[serde(default)]
    pub retention_months: String,
    /// Days of self-serve trial, 0 to 365 (empty: 0); absent: unchanged
    /// (an editor that does not show the field keeps the plan's offer).
    #[serde(default)]
    pub trial_days: Option<String>,
}

/// One limit row of the plan editor or of an override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitInput {
    pub metric: String,
    pub period: String,
    /// The limit in the metric's unit (USD for cost); empty: unlimited.
    pub value: String,
    pub hard: bool,
    /// USD per unit beyond a soft limit; empty: none.
    pub overage_usd: String,
}

impl LimitInput {
    /// The metric, the period and the limit (`None`: unlimited).
    pub fn parse(&self) -> Result<(Metric, Period, Option<Limit>), Error> {
        let metric = Metric::parse(&self.metric)?;
        let period = Period::parse(&self.period)?;
        if self.value.trim().is_empty() {
            return Ok((metric, period, None));
        }
        let value = metric.parse_amount("limit", &self.value)?;
        let overage_nanos = match self.overage_usd.trim() {
            "" => None,
            t => Some(Metric::CostUsd.parse_amount("overage", t)?),
        };
        let limit = Limit { metric, period, value, hard: self.hard, overage_nanos };
        limit.validate()?;
        Ok((metric, period, Some(limit)))
    }
}

/// A Stripe Price id as an editor types it: empty (none) or `price_…`.
pub fn parse_stripe_price(raw: &str) -> Result<Option<String>, Error> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let ok = s.starts_with("price_") && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(Error::invalid("stripe_price_id", "must be a Stripe Price id such as price_1Pq… (letters, digits and _)"));
    }
    Ok(Some(s.to_string()))
}

impl PlanInput {
    /// The plan it describes (with no organizations yet), or the first problem.
    pub fn parse(&self) -> Result<PlanView, Error> {
        let code = PlanCode::parse(&self.code)?;
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(Error::invalid("name", "is required, at most 60 characters"));
        }
        if self.description.chars().count() > 200 {
            return Err(Error::invalid("description", "must be at most 200 characters"));
        }
        let price = match self.monthly_price_usd.trim() {
            "" => 0,
            t => Metric::CostUsd.parse_amount("price", t)?,
        };
        let mut limits: Vec<Limit> = Vec::new();
        for input in &self.limits {
            let (metric, period, limit) = input.parse()?;
            if limits.iter().any(|l| l.metric == metric && l.period == period) {
                return Err(Error::invalid("limits", format!("{metric} per {period} is listed twice")));
            }
            limits.extend(limit);
        }
        limits.sort_by_key(|l| (l.metric, l.period));
        Ok(PlanView {
            code: code.as_str().to_string(),
            name: name.to_string(),
            description: self.description.trim().to_string(),
            monthly_price_nanos: price,
            is_public: self.is_public,
            sort_order: self.sort_order,
            archived_at: None,
            limits,
            stripe_price_id: parse_stripe_price(&self.stripe_price_id)?,
            retention_months: parse_retention_months(&self.retention_months)?,
            trial_days: parse_trial_days(self.trial_days.as_deref().unwrap_or(""))?,
            organizations: 0,
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_plans_trial_offer_is_0_to_365_days_and_names_its_field() {
        assert_eq!(parse_trial_days("").unwrap(), 0);
        assert_eq!(parse_trial_days(" 14 ").unwrap(), 14);
        assert_eq!(parse_trial_days("365").unwrap(), 365);
        for bad in ["-1", "366", "two weeks", "1.5"] {
            assert_eq!(parse_trial_days(bad).unwrap_err().field(), Some("trial_days"), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn demo_mode_ends_with_a_limit_in_force() {
        let limit = Limit { metric: Metric::Requests, period: Period::Day, value: 3, hard: true, overage_nanos: None };
        let line = |overridden| OrgLimit { metric: Metric::Requests, period: Period::Day, plan: None, overridden };
        let plan = |code: &str, limits| OrgPlan { org_id: "o".into(), plan_code: code.into(), plan_name: "x".into(), time_zone: "UTC".into(), limits };
        assert!(plan(DEMO_PLAN, vec![]).demo_mode());
        assert!(plan(DEMO_PLAN, vec![line(Some(None))]).demo_mode(), "overridden to unlimited");
        assert!(!plan(DEMO_PLAN, vec![line(Some(Some(limit.clone())))]).demo_mode());
        assert!(!plan(DEFAULT_PLAN, vec![]).demo_mode());
    }

    #[test]
    fn metric_and_period_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()).unwrap(), m);
        }
        for p in Period::ALL {
            assert_eq!(Period::parse(p.as_str()).unwrap(), p);
        }
        let e = Metric::parse("gpus").unwrap_err();
        assert!(e.to_string().contains("tokens, cost_usd"), "{e}");
    }

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(Metric::CostUsd.parse_amount("limit", "$12.50").unwrap(), 12_500_000_000);
        assert_eq!(Metric::CostUsd.parse_amount("limit", "0.000000001").unwrap(), 1);
        assert_eq!(Metric::Tokens.parse_amount("limit", "1,000,000").unwrap(), 1_000_000);
        assert!(Metric::Tokens.parse_amount("limit", "1.5").is_err());
        assert!(Metric::Tokens.parse_amount("limit", "-3").is_err());
        assert!(Metric::CostUsd.parse_amount("limit", "-1").is_err());
        assert_eq!(Metric::CostUsd.format_amount(12_500_000_000), "$12.50");
        assert_eq!(Metric::Tokens.format_amount(1_000_000), "1,000,000");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(-1234), "-1,234");
    }

    #[test]
    fn limits_must_fit_their_metric() {
        let l = |metric, period, hard, overage| Limit { metric, period, value: 10, hard, overage_nanos: overage };
        assert!(l(Metric::Tokens, Period::Month, true, None).validate().is_ok());
        assert!(l(Metric::Tokens, Period::Month, false, Some(2000)).validate().is_ok());
        assert!(l(Metric::Projects, Period::Month, true, None).validate().is_err());
        assert!(l(Metric::Images, Period::Minute, true, None).validate().is_err());
        assert!(l(Metric::Tokens, Period::Month, true, Some(1)).validate().is_err());
        assert!(l(Metric::Requests, Period::Minute, false, None).validate().is_err());
        assert_eq!(l(Metric::Tokens, Period::Month, true, None).describe(), "10 per month (hard)");
    }

    #[test]
    fn plan_input_parses_limits_and_leaves_empty_ones_unlimited() {
        let row = |metric: &str, period: &str, value: &str, hard: bool, overage: &str| LimitInput {
            metric: metric.into(),
            period: period.into(),
            value: value.into(),
            hard,
            overage_usd: overage.into(),
        };
        let input = PlanInput {
            code: "growth".into(),
            name: " Growth ".into(),
            monthly_price_usd: "49".into(),
            is_public: true,
            limits: vec![row("tokens", "month", "2,000,000", false, "0.000002"), row("projects", "total", "", true, "")],
            ..Default::default()
        };
        let plan = input.parse().unwrap();
        assert_eq!(plan.name, "Growth");
        assert_eq!(plan.monthly_price_nanos, 49_000_000_000);
        assert_eq!(plan.price_label(), "$49/month");
        assert_eq!(plan.limits.len(), 1, "an empty value is unlimited: no row");
        assert_eq!(plan.limits[0].overage_nanos, Some(2_000));
        let twice = PlanInput { limits: vec![row("tokens", "month", "1", true, ""), row("tokens", "month", "2", true, "")], ..input.clone() };
        assert_eq!(twice.parse().unwrap_err().field(), Some("limits"));
        let bad = PlanInput { limits: vec![row("tokens", "month", "lots", true, "")], ..input };
        assert_eq!(bad.parse().unwrap_err().field(), Some("limit"));
    }

    #[test]
    fn retention_is_a_whole_number_of_months_from_1_to_120() {
        assert_eq!(parse_retention_months(" 24 ").unwrap(), 24);
        assert_eq!(parse_retention_months("1").unwrap(), 1);
        assert_eq!(parse_retention_months("120").unwrap(), 120);
        assert_eq!(parse_retention_months("").unwrap(), DEFAULT_RETENTION_MONTHS);
        for bad in ["0", "121", "-3", "x", "1.5"] {
            let e = parse_retention_months(bad).unwrap_err();
            assert_eq!(e.field(), Some("retention_months"), "{bad}");
        }
        assert!(parse_retention_months("x").unwrap_err().to_string().contains("not a whole number of months"));
        assert!(parse_retention_months("121").unwrap_err().to_string().contains("from 1 to 120 months"));
        assert_eq!(months_text(1), "1 month");
        assert_eq!(months_text(13), "13 months");
    }

    #[test]
    fn a_plan_without_retention_in_its_json_keeps_the_default() {
        let plan = PlanInput { code: "growth".into(), name: "Growth".into(), ..Default::default() }.parse().unwrap();
        assert_eq!(plan.retention_months, DEFAULT_RETENTION_MONTHS);
        let mut json = serde_json::to_value(&plan).unwrap();
        json.as_object_mut().unwrap().remove("retention_months");
        assert_eq!(serde_json::from_value::<PlanView>(json).unwrap(), plan);
    }

    #[test]
    fn plan_codes_are_slugs() {
        assert!(PlanCode::parse("pro").is_ok());
        assert!(PlanCode::parse("team-2026").is_ok());
        assert!(PlanCode::parse("Pro").is_err());
        assert!(PlanCode::parse("x").is_err());
        assert!(PlanCode::parse("9lives").is_err());
    }

    #[test]
    fn override_wins_over_the_plan_and_can_mean_unlimited() {
        let plan = Limit { metric: Metric::Tokens, period: Period::Month, value: 100, hard: true, overage_nanos: None };
        let mut l = OrgLimit { metric: Metric::Tokens, period: Period::Month, plan: Some(plan.clone()), overridden: None };
        assert_eq!(l.effective(), Some(&plan));
        l.overridden = Some(None);
        assert_eq!(l.effective(), None);
        let custom = Limit { value: 500, ..plan };
        l.overridden = Some(Some(custom.clone()));
        assert_eq!(l.effective(), Some(&custom));
    }

    #[test]
    fn an_override_to_unlimited_survives_json() {
        let unlimited = OrgLimit { metric: Metric::Members, period: Period::Total, plan: None, overridden: Some(None) };
        let none = OrgLimit { overridden: None, ..unlimited.clone() };
        for l in [unlimited, none] {
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(serde_json::from_str::<OrgLimit>(&json).unwrap(), l, "{json}");
        }
    }
}
