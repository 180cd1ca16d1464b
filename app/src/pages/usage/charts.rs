//! The range's charts, as charming options built from the panel DTO.
//!
//! Costs become f64 here only as plotting coordinates; every amount shown as
//! text (fallbacks, tables, cards) is formatted from the exact amounts.

use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisLabel, AxisType, Color, Tooltip, Trigger};
use charming::series::{Bar, Pie};
use charming::Chart;
use leptos::prelude::*;

use crate::components::format::{count, plot_usd, usd_exact_of, usd_of};
use crate::api::usage::{BreakdownRow, DayPoint};
use crate::components::chart::EChart;
use tollbooth::pricing::NanoUsd;

/// Slices of the cost-by-model chart before the rest is summed as "other".
const PIE_SLICES: usize = 8;
const BRAND: &str = "#3b5bdb";

/// An exact amount as a plotting coordinate, rounded as the page shows
/// amounts (the tooltip reads `$12.35`, not `$12.345678901`).
fn plot(usd: NanoUsd) -> f64 {
    plot_usd(usd)
}

/// `2026-03-07` → `03-07` for the axis.
fn short_day(date: &str) -> String {
    date.get(5..).unwrap_or(date).to_string()
}

fn day_axis(daily: &[DayPoint]) -> Axis {
    Axis::new().type_(AxisType::Category).data(daily.iter().map(|d| short_day(&d.date)).collect())
}

/// Daily cost as bars.
pub fn daily_cost_chart(daily: &[DayPoint]) -> Chart {
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left(56).right(16).top(16).bottom(28))
        .x_axis(day_axis(daily))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .color(vec![Color::from(BRAND)])
        .series(Bar::new().name("Cost (USD)").data(daily.iter().map(|d| plot(d.cost)).collect()))
}

/// Cost share by model: the largest slices and "other".
pub fn cost_by_model_chart(models: &[BreakdownRow]) -> Chart {
    let mut priced: Vec<&BreakdownRow> = models.iter().filter(|m| m.cost.nanos() > 0).collect();
    priced.sort_by_key(|m| std::cmp::Reverse(m.cost.nanos()));
    let mut data: Vec<(f64, String)> = priced.iter().take(PIE_SLICES).map(|m| (plot(m.cost), m.name.clone())).collect();
    let rest: i64 = priced.iter().skip(PIE_SLICES).map(|m| m.cost.nanos()).sum();
    if rest > 0 {
        data.push((plot(NanoUsd::from_nanos(rest)), "other models".into()));
    }
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Item).formatter("{b}: ${c} ({d}%)"))
        .legend(Legend::new().type_(charming::component::LegendType::Scroll).bottom(0))
        .series(Pie::new().name("Cost by model").radius(vec!["40%", "68%"]).center(vec!["50%", "44%"]).data(data))
}

/// Input (uncached), cached input and output tokens per day, stacked.
pub fn tokens_chart(daily: &[DayPoint]) -> Chart {
    let series = |name: &str, f: fn(&DayPoint) -> i64| {
        Bar::new().name(name).stack("tokens").data(daily.iter().map(f).collect::<Vec<i64>>())
    };
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0))
        .grid(Grid::new().left(64).right(16).top(16).bottom(52))
        .x_axis(day_axis(daily))
        .y_axis(Axis::new().type_(AxisType::Value))
        .color(vec![Color::from(BRAND), Color::from("#91a7ff"), Color::from("#f08c00")])
        .series(series("Input (uncached)", |d| d.input_tokens - d.cached_input_tokens))
        .series(series("Cached input", |d| d.cached_input_tokens))
        .series(series("Output", |d| d.output_tokens))
}

/// The three charts, each with a text fallback for the server render.
#[component]
pub fn Charts(daily: Vec<DayPoint>, models: Vec<BreakdownRow>) -> impl IntoView {
    let busiest = daily.iter().max_by_key(|d| d.cost.nanos()).cloned();
    let top = models.iter().max_by_key(|m| m.cost.nanos()).cloned();
    let (input, cached, output) = daily.iter().fold((0, 0, 0), |(i, c, o), d| {
        (i + d.input_tokens, c + d.cached_input_tokens, o + d.output_tokens)
    });
    view! {
        <div class="charts">
            <figure class="chart-card wide">
                <figcaption>"Daily cost"</figcaption>
                <EChart id="chart-daily-cost" label="Daily cost over the selected range" chart=daily_cost_chart(&daily)>
                    <p class="muted">{busiest.map(|d| view! { <span title=usd_exact_of(d.cost)>{format!("Highest day: {} at {}.", d.date, usd_of(d.cost))}</span> })}</p>
                </EChart>
            </figure>
            <figure class="chart-card">
                <figcaption>"Cost by model"</figcaption>
                <EChart id="chart-cost-by-model" label="Cost by model" chart=cost_by_model_chart(&models)>
                    <p class="muted">{top.map(|m| view! { <span title=usd_exact_of(m.cost)>{format!("Largest: {} at {}.", m.name, usd_of(m.cost))}</span> })}</p>
                </EChart>
            </figure>
            <figure class="chart-card">
                <figcaption>"Tokens: input, cached, output"</figcaption>
                <EChart id="chart-tokens" label="Input, cached input and output tokens per day" chart=tokens_chart(&daily)>
                    <p class="muted">{format!("{} input ({} cached), {} output.", count(input), count(cached), count(output))}</p>
                </EChart>
            </figure>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, cost: &str) -> DayPoint {
        DayPoint { date: date.into(), cost: NanoUsd::parse_usd(cost).unwrap(), input_tokens: 1000, cached_input_tokens: 400, output_tokens: 200 }
    }

    #[test]
    fn the_daily_chart_has_one_bar_per_day() {
        let json = daily_cost_chart(&[day("2026-03-01", "0.004000000"), day("2026-03-02", "0.000000000")]).to_string();
        assert!(json.contains("\"03-01\""), "{json}");
        assert!(json.contains("0.004"), "{json}");
        let json = tokens_chart(&[day("2026-03-01", "0")]).to_string();
        assert!(json.contains("\"stack\": \"tokens\"") || json.contains("\"stack\":\"tokens\""), "{json}");
        assert!(json.contains("600"), "uncached input is input minus cached: {json}");
    }
}
