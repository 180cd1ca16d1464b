//! Budgets of an organization: everyone in it reads them, owners and admins
//! create, change and delete them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tollbooth::budgets::{BudgetStatus, BudgetView, SpendSeries};

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ssr;

/// A budget with its spend in the current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    pub budget: BudgetView,
    pub status: BudgetStatus,
}

/// A budget's page: the definition, the figures and the day-by-day spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetOverview {
    pub budget: BudgetView,
    pub status: BudgetStatus,
    pub series: SpendSeries,
}

/// What a budget can cover besides the organization and free-text user ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeChoices {
    /// Project ids as events carry them (the slugs), with names.
    pub projects: Vec<(String, String)>,
    /// Active API key ids with their names and prefixes.
    pub api_keys: Vec<(String, String)>,
}

/// Reads the thresholds field, "50, 80, 100" (a `%` after a number is
/// fine); blank means the defaults. Range and order are the core's rule.
pub fn thresholds_from_text(text: &str) -> Result<Option<Vec<u32>>, tollbooth::Error> {
    let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Ok(None);
    }
    parts
        .iter()
        .map(|p| {
            p.trim_end_matches('%').trim().parse::<u32>().map_err(|_| {
                tollbooth::Error::invalid("thresholds", format!("{p:?} is not a whole percentage; write e.g. 50, 80, 100"))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The form's fields as the core's input.
#[cfg(feature = "ssr")]
fn input(
    name: String,
    scope: String,
    scope_id: String,
    period: String,
    amount_usd: String,
    thresholds: String,
    action: String,
) -> Result<tollbooth::budgets::BudgetInput, AppError> {
    let scope_id = Some(scope_id).filter(|s| !s.trim().is_empty() && scope != "organization");
    Ok(tollbooth::budgets::BudgetInput {
        name,
        scope,
        scope_id,
        period,
        amount_usd,
        thresholds: thresholds_from_text(&thresholds)?,
        action: Some(action).filter(|a| !a.is_empty()),
    })
}

/// The organization's budgets with their current spend (members).
#[server(endpoint = "list_budgets")]
pub async fn list_budgets(org_id: String) -> Result<Vec<BudgetLine>, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let mut lines = Vec::new();
    for budget in tollbooth::budgets::list(&ctx.db, &scope.org_id).await? {
        let status = tollbooth::budgets::status(&ctx.db, &scope.org_id, &budget.id).await?;
        lines.push(BudgetLine { budget, status });
    }
    Ok(lines)
}

/// One budget with its figures and its spend per day of the period (members).
#[server(endpoint = "budget_detail")]
pub async fn budget_detail(org_id: String, budget_id: String) -> Result<BudgetOverview, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    let budget = tollbooth::budgets::get(&ctx.db, &scope.org_id, &budget_id).await?;
    let status = tollbooth::budgets::status(&ctx.db, &scope.org_id, &budget_id).await?;
    let now = tollbooth::clock::now_ms();
    let series = tollbooth::budgets::spend_by_day(&ctx.db, &scope.org_id, &budget_id, now).await?;
    Ok(BudgetOverview { budget, status, series })
}

/// The projects and active API keys a budget may cover (owners and admins,
/// who fill in the form).
#[server(endpoint = "budget_targets")]
pub async fn budget_targets(org_id: String) -> Result<ScopeChoices, AppError> {
    let (ctx, scope, _) = ssr::scope(&org_id).await?;
    scope.require(tollbooth::orgs::Role::Admin)?;
    let projects = tollbooth::projects::list(&ctx.db, &scope).await?;
    let keys = tollbooth::api_keys::list(&ctx.db, &scope).await?;
    Ok(ScopeChoices {
        projects: projects.into_iter().filter(|p| p.archived_at.is_none()).map(|p| (p.slug, p.name)).collect(),
        api_keys: keys
            .into_iter()
            .filter(|k| k.revoked_at.is_none())
            .map(|k| (k.id, format!("{} ({}…)", k.name, k.prefix)))
            .collect(),
    })
}

/// Creates a budget (owners and admins).
#[server(endpoint = "create_budget")]
pub async fn create_budget(
    org_id: String,
    #[server(default)] name: String,
    scope: String,
    #[server(default)] scope_id: String,
    period: String,
    amount_usd: String,
    #[server(default)] thresholds: String,
    #[server(default)] action: String,
) -> Result<BudgetView, AppError> {
    let (ctx, org, user) = ssr::scope(&org_id).await?;
    org.require(tollbooth::orgs::Role::Admin)?;
    let input = input(name, scope, scope_id, period, amount_usd, thresholds, action)?;
    Ok(tollbooth::budgets::create(&ctx.db, &org.org_id, &input, &ssr::by(&user).await).await?)
}

/// Replaces a budget's definition (owners and admins).
#[server(endpoint = "update_budget")]
pub async fn update_budget(
    org_id: String,
    budget_id: String,
    #[server(default)] name: String,
    scope: String,
    #[server(default)] scope_id: String,
    period: String,
    amount_usd: String,
    #[server(default)] thresholds: String,
    #[server(default)] action: String,
) -> Result<BudgetView, AppError> {
    let (ctx, org, user) = ssr::scope(&org_id).await?;
    org.require(tollbooth::orgs::Role::Admin)?;
    let input = input(name, scope, scope_id, period, amount_usd, thresholds, action)?;
    Ok(tollbooth::budgets::update(&ctx.db, &org.org_id, &budget_id, &input, &ssr::by(&user).await).await?)
}

/// Deletes a budget (owners and admins).
#[server(endpoint = "delete_budget")]
pub async fn delete_budget(org_id: String, budget_id: String) -> Result<(), AppError> {
    let (ctx, org, user) = ssr::scope(&org_id).await?;
    org.require(tollbooth::orgs::Role::Admin)?;
    Ok(tollbooth::budgets::delete(&ctx.db, &org.org_id, &budget_id, &ssr::by(&user).await).await?)
}

#[cfg(test)]
mod tests {
    use super::thresholds_from_text;

    #[test]
    fn thresholds_are_a_comma_list_of_percentages() {
        assert_eq!(thresholds_from_text("50, 80,100").unwrap(), Some(vec![50, 80, 100]));
        assert_eq!(thresholds_from_text(" 25% , 110 %").unwrap(), Some(vec![25, 110]));
        assert_eq!(thresholds_from_text("  ").unwrap(), None, "blank: the defaults");
        assert_eq!(thresholds_from_text("50, lots").unwrap_err().field(), Some("thresholds"));
        assert_eq!(thresholds_from_text("-5").unwrap_err().field(), Some("thresholds"));
    }
}
