use serde_json::json;
use tollbooth::clock::{now_ms, to_rfc3339};
use tollbooth::ingest::record_usage;
use tollbooth::metering::{parse_batch, Sender};
use tollbooth::pricing::admin::{
    add_custom_model, model_detail, override_price, providers_and_modes, search_models, CustomModel, ModelSearch,
};
use tollbooth::pricing::{store as prices, Mode, ModelPrice, PriceBook, PriceEdit, PriceFields, PriceKind, UnitPrice};
use tollbooth::test_both_engines;
use tollbooth::Error;

use super::sign_up;

fn model(name: &str, provider: &str, mode: Mode, input: &str, output: &str) -> ModelPrice {
    let mut p = ModelPrice::new(name, provider);
    p.mode = Some(mode);
    p.input = Some(UnitPrice::parse(input).unwrap());
    p.output = Some(UnitPrice::parse(output).unwrap());
    p
}

/// A small catalog, effective from the epoch.
async fn catalog(db: &tollbooth::db::Db) {
    let mut book = PriceBook::default();
    book.insert(model("gpt-4o", "openai", Mode::Chat, "0.0000025", "0.00001"));
    book.insert(model("gpt-4o-mini", "openai", Mode::Chat, "0.00000015", "0.0000006"));
    book.insert(model("text-embedding-3-small", "openai", Mode::Embedding, "0.00000002", "0"));
    book.insert(model("claude-sonnet-4", "anthropic", Mode::Chat, "0.000003", "0.000015"));
    book.insert(model("vertex_ai/gemini-2.5-pro", "vertex_ai-language-models", Mode::Chat, "0.00000125", "0.00001"));
    book.insert(model("50%_off", "acme", Mode::Chat, "0.000001", "0.000001"));
    let mut tiered = model("gemini-2.5-pro", "gemini", Mode::Chat, "0.00000125", "0.00001");
    let mut tier = tollbooth::pricing::Tier::new(200_000);
    tier.input = Some(UnitPrice::parse("0.0000025").unwrap());
    tiered.tiers.push(tier);
    tiered.extra.insert("input_cost_per_token_batches".into(), "0.000000625".parse().unwrap());
    book.insert(tiered);
    prices::import(db, &book, "catalog", Some(0)).await.unwrap();
}

fn search(text: &str) -> ModelSearch {
    ModelSearch { text: text.into(), limit: 50, ..Default::default() }
}

fn names(page: &tollbooth::pricing::admin::ModelPage) -> Vec<&str> {
    page.models.iter().map(|m| m.name.as_str()).collect()
}

fn per_million(kind: PriceKind, text: &str) -> PriceEdit {
    PriceEdit::parse(&PriceFields::default().with(kind, text)).unwrap()
}

/// The form as shown for `name` now, with one field changed.
async fn edited(db: &tollbooth::db::Db, name: &str, kind: PriceKind, text: &str) -> PriceEdit {
    let detail = model_detail(db, name, now_ms()).await.unwrap();
    let fields = PriceFields::of(&detail.current().unwrap().price).with(kind, text);
    PriceEdit::parse(&fields).unwrap()
}

async fn sender(db: &tollbooth::db::Db) -> Sender {
    Sender { org_id: sign_up(db, "p@example.com", "P").await.org.id, api_key_id: None }
}

test_both_engines! {
    async fn search_matches_name_or_provider_case_insensitively_sorted_and_paged(db) {
        catalog(db).await;
        let now = now_ms();
        let page = search_models(db, &search("GPT-4O"), now).await.unwrap();
        assert_eq!(names(&page), ["gpt-4o", "gpt-4o-mini"]);
        assert_eq!(page.total, 2);
        let current = page.models[0].current.as_ref().unwrap();
        assert_eq!((current.source.as_str(), current.effective_from), ("catalog", 0));
        assert_eq!(current.price.input.unwrap().per_million().to_string(), "2.5");

        // Provider text matches too; filters narrow by exact provider and mode.
        assert_eq!(names(&search_models(db, &search("ANTHROP"), now).await.unwrap()), ["claude-sonnet-4"]);
        let openai = ModelSearch { provider: "openai".into(), limit: 50, ..Default::default() };
        assert_eq!(search_models(db, &openai, now).await.unwrap().total, 3);
        let embeddings = ModelSearch { mode: "embedding".into(), ..openai.clone() };
        assert_eq!(names(&search_models(db, &embeddings, now).await.unwrap()), ["text-embedding-3-small"]);

        // LIKE wildcards in the text are literal.
        assert_eq!(names(&search_models(db, &search("%_"), now).await.unwrap()), ["50%_off"]);

        // Paging: sorted by name, total counts every match.
        let all = search_models(db, &search(""), now).await.unwrap();
        assert_eq!(all.total, 7);
        let mut sorted = names(&all);
        sorted.sort();
        assert_eq!(names(&all), sorted);
        let second = search_models(db, &ModelSearch { limit: 3, offset: 3, ..search("") }, now).await.unwrap();
        assert_eq!((names(&second), second.total), (names(&all)[3..6].to_vec(), 7));
        assert!(search_models(db, &ModelSearch { limit: 0, ..search("") }, now).await.is_err());

        let (providers, modes) = providers_and_modes(db).await.unwrap();
        assert!(providers.contains(&"openai".to_string()) && providers.contains(&"anthropic".to_string()));
        assert_eq!(modes, ["chat", "embedding"]);
    }

    async fn an_override_prices_later_events_and_leaves_earlier_ones_alone(db) {
        catalog(db).await;
        let s = sender(db).await;
        let before = now_ms() - 1;
        let entry = override_price(db, "gpt-4o", &edited(db, "gpt-4o", PriceKind::Input, "3").await, None, &crate::by()).await.unwrap();
        assert_eq!(entry.source, "override");
        assert!(entry.effective_from > before);
        let f = tollbooth::audit::AuditFilter { action: "price.".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, None, &f, "UTC", 10).await.unwrap();
        assert_eq!((log.len(), log[0].action.as_str(), log[0].target.as_deref()), (1, "price.override", Some("gpt-4o")));
        let details: serde_json::Value = serde_json::from_str(&log[0].details).unwrap();
        assert_eq!(details["changes"].as_object().map(|c| c.len()), Some(1), "only the input price changed: {details}");

        let events = vec![
            json!({"id": "before", "model": "gpt-4o", "input_tokens": 1000, "timestamp": to_rfc3339(entry.effective_from - 1)}),
            json!({"id": "after", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "timestamp": to_rfc3339(entry.effective_from)}),
        ];
        let out = record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        assert_eq!(out[0].cost_usd.as_deref(), Some("0.002500000"), "old price: $2.50 / 1M");
        // New input price, the untouched output price ($10 / 1M) kept.
        assert_eq!(out[1].cost_usd.as_deref(), Some("0.004000000"), "new price: $3 / 1M in, $10 / 1M out");

        let detail = model_detail(db, "gpt-4o", now_ms()).await.unwrap();
        assert_eq!(detail.history.iter().map(|e| e.source.as_str()).collect::<Vec<_>>(), ["catalog", "override"]);
        assert_eq!(detail.in_force, Some(1));
        assert_eq!((detail.provider.as_str(), detail.mode.as_deref()), ("openai", Some("chat")));
    }

    async fn an_override_keeps_tiers_and_other_prices(db) {
        catalog(db).await;
        override_price(db, "gemini-2.5-pro", &edited(db, "gemini-2.5-pro", PriceKind::Output, "12").await, None, &crate::by()).await.unwrap();
        let detail = model_detail(db, "gemini-2.5-pro", now_ms()).await.unwrap();
        let (old, new) = (&detail.history[0].price, &detail.current().unwrap().price);
        assert_eq!(new.output.unwrap().per_million().to_string(), "12");
        assert_eq!((new.input, &new.tiers, &new.extra), (old.input, &old.tiers, &old.extra));
    }

    async fn a_scheduled_override_starts_at_its_time(db) {
        catalog(db).await;
        let s = sender(db).await;
        let later = now_ms() + 2 * 60_000;
        let entry = override_price(db, "gpt-4o", &edited(db, "gpt-4o", PriceKind::Input, "5").await, Some(later), &crate::by()).await.unwrap();
        assert_eq!(entry.effective_from, later);
        // Not in force yet: the list and the detail still show the catalog price.
        let page = search_models(db, &search("gpt-4o"), now_ms()).await.unwrap();
        assert_eq!(page.models[0].current.as_ref().unwrap().source, "catalog");
        let detail = model_detail(db, "gpt-4o", now_ms()).await.unwrap();
        assert_eq!((detail.history.len(), detail.in_force), (2, Some(0)));
        let events = vec![
            json!({"id": "now", "model": "gpt-4o", "input_tokens": 1000}),
            json!({"id": "then", "model": "gpt-4o", "input_tokens": 1000, "timestamp": to_rfc3339(later + 1)}),
        ];
        let out = record_usage(db, &s, parse_batch(&events, now_ms())).await.unwrap();
        assert_eq!(out[0].cost_usd.as_deref(), Some("0.002500000"));
        assert_eq!(out[1].cost_usd.as_deref(), Some("0.005000000"));
        // Two changes at the same instant: the second is a conflict on the time.
        let again = override_price(db, "gpt-4o", &per_million(PriceKind::Input, "6"), Some(later), &crate::by()).await.unwrap_err();
        assert!(matches!(again, Error::Conflict { field: "effective from", .. }), "{again:?}");
    }

    async fn an_override_in_the_past_or_of_an_unknown_model_or_changing_nothing_is_refused(db) {
        catalog(db).await;
        let past = override_price(db, "gpt-4o", &per_million(PriceKind::Input, "3"), Some(now_ms() - 60_000), &crate::by()).await.unwrap_err();
        assert_eq!(past.field(), Some("effective from"));
        assert!(past.to_string().contains("must not be in the past"), "{past}");
        let unknown = override_price(db, "no-such-model", &per_million(PriceKind::Input, "3"), None, &crate::by()).await.unwrap_err();
        assert!(matches!(unknown, Error::NotFound("model")), "{unknown:?}");
        let same = override_price(db, "gpt-4o", &edited(db, "gpt-4o", PriceKind::Input, "2.50").await, None, &crate::by()).await.unwrap_err();
        assert_eq!(same.field(), Some("prices"));
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM model_prices WHERE model = 'gpt-4o'").fetch_one(db.reader()).await.unwrap();
        assert_eq!(rows, 1, "nothing was written");
    }

    async fn a_custom_model_prices_events_from_when_it_is_added(db) {
        catalog(db).await;
        let s = sender(db).await;
        let early = record_usage(db, &s, parse_batch(&[json!({"id": "early", "model": "acme/llm:v1", "input_tokens": 10})], now_ms()))
            .await
            .unwrap();
        assert_eq!(early[0].priced, Some(tollbooth::metering::Pricing::Unpriced));

        let fields = PriceFields::default()
            .with(PriceKind::Input, "0.8")
            .with(PriceKind::Output, "2.4")
            .with(PriceKind::PerRequest, "0.001");
        let custom = CustomModel::parse("acme/llm:v1", "acme", "chat", PriceEdit::parse(&fields).unwrap(), None).unwrap();
        let entry = add_custom_model(db, &custom, &crate::by()).await.unwrap();
        assert_eq!(entry.source, "custom");

        let out = record_usage(
            db,
            &s,
            parse_batch(&[json!({"id": "late", "model": "acme/llm:v1", "input_tokens": 1000, "output_tokens": 500})], now_ms()),
        )
        .await
        .unwrap();
        // 1000 × 0.0000008 + 500 × 0.0000024 + 1 request × 0.001
        assert_eq!(out[0].cost_usd.as_deref(), Some("0.003000000"));
        // The earlier event stays unpriced: stored costs never change.
        let early_cost: Option<i64> =
            sqlx::query_scalar("SELECT cost_nano FROM usage_events WHERE id = 'early'").fetch_one(db.reader()).await.unwrap();
        assert_eq!(early_cost, None);

        let page = search_models(db, &search("ACME/"), now_ms()).await.unwrap();
        assert_eq!(names(&page), ["acme/llm:v1"]);
        assert_eq!(page.models[0].current.as_ref().unwrap().source, "custom");
        let detail = model_detail(db, "acme/llm:v1", now_ms()).await.unwrap();
        assert_eq!((detail.provider.as_str(), detail.mode.as_deref()), ("acme", Some("chat")));
        assert_eq!(detail.current().unwrap().price.mode, Some(Mode::Chat));
    }

    async fn a_custom_model_with_a_taken_name_is_a_conflict_on_name(db) {
        catalog(db).await;
        let custom = CustomModel::parse("gpt-4o", "me", "", per_million(PriceKind::Input, "1"), None).unwrap();
        let err = add_custom_model(db, &custom, &crate::by()).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { field: "name", .. }), "{err:?}");
        assert_eq!(err.status_code(), 409);
        let past = CustomModel::parse("new-one", "me", "", per_million(PriceKind::Input, "1"), Some(now_ms() - 1000)).unwrap();
        assert_eq!(add_custom_model(db, &past, &crate::by()).await.unwrap_err().field(), Some("effective from"));
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM models WHERE name = 'new-one'").fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 0);
    }

    async fn the_detail_of_an_unknown_model_is_not_found(db) {
        assert!(matches!(model_detail(db, "nope", now_ms()).await.unwrap_err(), Error::NotFound("model")));
    }
}
