//! A budget's period as a chart: cumulative spend per day so far, the budget
//! as a horizontal line, and the projection from today to the period's end.
//!
//! Amounts become f64 here only as plotting coordinates; every figure shown
//! as text comes from the exact decimal strings.

use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisLabel, AxisType, Color, LineStyle, LineStyleType, Symbol, Tooltip, Trigger};
use charming::series::Line;
use charming::Chart;
use tollbooth::budgets::{BudgetStatus, SpendSeries};
use tollbooth::pricing::NanoUsd;

use crate::components::format::plot_usd;

const BRAND: &str = "#3b5bdb";
const DANGER: &str = "#c92a2a";
const WARN: &str = "#e8590c";

/// A USD decimal string in nano-USD (0 if it is not one).
fn nanos(usd: &str) -> i64 {
    NanoUsd::parse_usd(usd).map(NanoUsd::nanos).unwrap_or(0)
}

/// A USD decimal string as a plotting coordinate, rounded as the page shows
/// amounts (so the chart's tooltip reads `$12.35`).
fn plot(usd: &str) -> f64 {
    plot_usd(NanoUsd::from_nanos(nanos(usd)))
}

/// `2026-03-07` → `03-07` for the axis.
fn short_day(date: &str) -> String {
    date.get(5..).unwrap_or(date).to_string()
}

/// The projection: from today's cumulative spend, straight to the forecast
/// on the period's last day; nothing before today.
pub fn projected(series: &SpendSeries, status: &BudgetStatus) -> Vec<Option<f64>> {
    let n = series.days.len();
    let Some(today) = series.days.iter().rposition(|d| d.cumulative_usd.is_some()) else { return vec![None; n] };
    let (from, to) = (nanos(&status.spent_usd) as i128, nanos(&status.forecast_usd) as i128);
    let span = (n - 1 - today).max(1) as i128;
    (0..n)
        .map(|i| {
            (i >= today).then(|| {
                let at = from + (to - from) * (i - today) as i128 / span;
                plot_usd(NanoUsd::from_nanos(at.clamp(i64::MIN as i128, i64::MAX as i128) as i64))
            })
        })
        .collect()
}

pub fn spend_chart(series: &SpendSeries, status: &BudgetStatus) -> Chart {
    let dates: Vec<String> = series.days.iter().map(|d| short_day(&d.date)).collect();
    let spent: Vec<Option<f64>> = series.days.iter().map(|d| d.cumulative_usd.as_deref().map(plot)).collect();
    let budget = vec![Some(plot(&status.amount_usd)); series.days.len()];
    let dashed = |color: &str| LineStyle::new().type_(LineStyleType::Dashed).color(color).width(2);
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0))
        .grid(Grid::new().left(64).right(16).top(16).bottom(52))
        .x_axis(Axis::new().type_(AxisType::Category).boundary_gap(false).data(dates))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .color(vec![Color::from(BRAND), Color::from(DANGER), Color::from(WARN)])
        .series(Line::new().name("Spent so far").data(spent).line_style(LineStyle::new().width(3)))
        .series(Line::new().name("Budget").data(budget).symbol(Symbol::None).line_style(dashed(DANGER)))
        .series(Line::new().name("Projected").data(projected(series, status)).symbol(Symbol::None).line_style(dashed(WARN)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollbooth::budgets::SpendDay;

    fn day(date: &str, cumulative: Option<&str>) -> SpendDay {
        SpendDay { date: date.into(), spent_usd: cumulative.map(Into::into), cumulative_usd: cumulative.map(Into::into) }
    }

    #[test]
    fn the_projection_runs_from_today_to_the_forecast() {
        let series = SpendSeries {
            budget_id: "b".into(),
            time_zone: "UTC".into(),
            days: vec![day("2026-03-01", Some("1.00")), day("2026-03-02", Some("2.00")), day("2026-03-03", None), day("2026-03-04", None)],
        };
        let status = BudgetStatus {
            budget_id: "b".into(),
            period_start: String::new(),
            period_end: String::new(),
            amount_usd: "3.00".into(),
            spent_usd: "2.00".into(),
            remaining_usd: "1.00".into(),
            percent: "66.66".into(),
            forecast_usd: "4.00".into(),
            on_track: false,
            exceeds_at: None,
        };
        assert_eq!(projected(&series, &status), vec![None, Some(2.0), Some(3.0), Some(4.0)]);
        let json = spend_chart(&series, &status).to_string();
        assert!(json.contains("\"03-04\""), "{json}");
        assert!(json.contains("null"), "days ahead have no spend yet: {json}");
    }
}
