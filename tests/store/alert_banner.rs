use serde_json::json;
use tollbooth::budgets::banner::{budget_banners, budget_banners_at};
use tollbooth::budgets::{self, BudgetInput};
use tollbooth::clock::now_ms;
use tollbooth::db::Db;
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::test_both_engines;

use super::{by, sign_up};

/// `gpt-banner` costs $0.00001 per input token: 100,000 tokens are $1.
async fn org(db: &Db, name: &str) -> Sender {
    let mut p = ModelPrice::new("gpt-banner", "openai");
    p.input = Some(UnitPrice::parse("0.00001").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(db, &book, "test", Some(0)).await.unwrap();
    Sender { org_id: sign_up(db, &format!("owner@{}.example", name.to_lowercase()), name).await.org.id, api_key_id: None }
}

async fn spend(db: &Db, s: &Sender, tokens: u64, project: Option<&str>) {
    let mut e = json!({"model": "gpt-banner", "input_tokens": tokens});
    if let Some(p) = project {
        e["project_id"] = json!(p);
    }
    record_usage(db, s, parse_batch(&[e], now_ms())).await.unwrap();
}

fn budget(name: &str, scope: &str, scope_id: Option<&str>, amount: &str) -> BudgetInput {
    BudgetInput {
        name: name.into(),
        scope: scope.into(),
        scope_id: scope_id.map(String::from),
        period: "monthly".into(),
        amount_usd: amount.into(),
        ..Default::default()
    }
}

test_both_engines! {
    async fn the_banner_lists_budgets_from_80_percent_of_this_period_fullest_first(db) {
        let s = org(db, "Acme").await;
        let monthly = budgets::create(db, &s.org_id, &budget("Org monthly", "organization", None, "1.00"), &by()).await.unwrap();
        let bot = budgets::create(db, &s.org_id, &budget("Bot", "project", Some("bot"), "0.10"), &by()).await.unwrap();
        budgets::create(db, &s.org_id, &budget("Roomy", "organization", None, "100"), &by()).await.unwrap();
        assert!(budget_banners(db, &s.org_id).await.unwrap().is_empty(), "nothing spent yet");

        spend(db, &s, 79_999, None).await; // $0.79999: just below 80%
        assert!(budget_banners(db, &s.org_id).await.unwrap().is_empty(), "79.99% shows no banner");

        spend(db, &s, 6_001, None).await; // $0.86
        let list = budget_banners(db, &s.org_id).await.unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        let b = &list[0];
        assert_eq!(
            (b.budget_id.as_str(), b.name.as_str(), b.percent.as_str(), b.spent_usd.as_str(), b.amount_usd.as_str(), b.exhausted),
            (monthly.id.as_str(), "Org monthly", "86.00", "0.86", "1.00", false)
        );
        let status = budgets::status(db, &s.org_id, &monthly.id).await.unwrap();
        assert_eq!(b.period_end, status.period_end, "the current period's end, in the organization's zone");

        spend(db, &s, 10_000, Some("bot")).await; // the bot's $0.10: exhausted; the org at $0.96
        let list = budget_banners(db, &s.org_id).await.unwrap();
        let shown: Vec<(&str, &str, &str, bool)> =
            list.iter().map(|b| (b.name.as_str(), b.percent.as_str(), b.spent_usd.as_str(), b.exhausted)).collect();
        assert_eq!(shown, vec![("Bot", "100.00", "0.10", true), ("Org monthly", "96.00", "0.96", false)]);
        assert_eq!(list[0].budget_id, bot.id);

        // Another organization sees none of it; next period starts clean.
        let other = org(db, "Other").await;
        assert!(budget_banners(db, &other.org_id).await.unwrap().is_empty());
        let next_month = now_ms() + 40 * 86_400_000;
        assert!(budget_banners_at(db, &s.org_id, next_month).await.unwrap().is_empty());
    }
}
