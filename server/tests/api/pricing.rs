//! Pricing completeness (issue 19) through the ingest API, the events API,
//! the usage panel and the admin pages, with the shipped price book (seeded
//! effective from the start): every unit an event reports is charged or
//! named, never a silent $0.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery";

struct Org {
    id: String,
    auth: String,
}

/// The shipped price book, in force from the start (as a first start seeds it).
async fn seed_catalog(app: &TestApp) {
    let book = tollbooth::pricing::PriceBook::default_catalog().unwrap();
    tollbooth::pricing::store::import(&app.test_db.db, &book, "catalog", Some(0)).await.unwrap();
}

async fn org(app: &TestApp, name: &str, email: &str) -> Org {
    let out = create_org(&app.test_db.db, &app.config, name, email, Some(PASSWORD)).await.unwrap();
    Org { id: out.org_id, auth: format!("Bearer {}", out.api_key) }
}

async fn post(app: &TestApp, auth: &str, body: &Value) -> (StatusCode, Value) {
    let resp = app.client.post(app.url("/api/v1/events")).header("Authorization", auth).json(body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn events(app: &TestApp, auth: &str) -> Vec<Value> {
    let url = app.url("/api/v1/events?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&limit=100");
    let page: Value = app.client.get(url).header("Authorization", auth).send().await.unwrap().json().await.unwrap();
    page["events"].as_array().unwrap().clone()
}

fn by_id<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id} in {list:?}"))
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Client {
    let client = app.fresh_client();
    let resp = app.server_fn(&client, "login", &[("email", email), ("password", password)]).await;
    assert_eq!(resp.status(), StatusCode::OK, "login {email}");
    client
}

app_test! {
    async fn every_priced_dimension_is_charged_and_a_unit_without_a_price_is_named(app) {
        seed_catalog(&app).await;
        let acme = org(&app, "Acme", "owner@acme.test").await;
        let batch = json!({"events": [
            // sora-2: $0.10 a second.
            {"id": "video", "model": "sora-2", "seconds": 8},
            // tts-1: $15 per 1M characters.
            {"id": "speech", "model": "tts-1", "characters": 1000},
            // gpt-realtime: 500 text × 4e-6 + 1,500 audio × 3.2e-5 + 100 text × 1.6e-5 + 900 audio × 6.4e-5.
            {"id": "realtime", "model": "gpt-realtime", "input_tokens": 2000, "audio_input_tokens": 1500,
             "output_tokens": 1000, "audio_output_tokens": 900},
            // gpt-4o in batch: half of $2.50 + $10.
            {"id": "batch", "model": "gpt-4o", "input_tokens": 1000000, "output_tokens": 1000000, "service_tier": "batch"},
            // deepseek-v4-pro on Saturday 2026-12-05: off-peak, half of $1.32 + $3.96.
            {"id": "saturday", "model": "deepseek-v4-pro", "input_tokens": 1000000, "output_tokens": 1000000,
             "timestamp": "2026-12-05T12:00:00Z"},
            // claude-sonnet-4-5: 1,000,000 one-hour cache writes at $6 per 1M.
            {"id": "cache-1h", "model": "claude-sonnet-4-5", "input_tokens": 1000000, "cache_creation_tokens": 1000000,
             "cache_creation_1h_tokens": 1000000},
            // mistral-ocr: $0.004 a page.
            {"id": "ocr", "model": "mistral/mistral-ocr-latest", "pages": 10},
            // Eight seconds on a token-only model: charged for its tokens, the seconds named.
            {"id": "partial", "model": "gpt-4o", "input_tokens": 1000, "seconds": 8},
            // Audio tokens on a model without audio prices.
            {"id": "no-audio", "model": "gpt-4o", "input_tokens": 1000, "audio_input_tokens": 400}
        ]});
        let (status, out) = post(&app, &acme.auth, &batch).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        let results = out["results"].as_array().unwrap();
        let r = |id: &str| by_id(results, id).clone();
        assert_eq!(r("video"), json!({"id": "video", "status": "accepted", "cost_usd": "0.800000000", "priced": true}));
        assert_eq!(r("speech")["cost_usd"], "0.015000000");
        assert_eq!(r("realtime")["cost_usd"], "0.109200000");
        assert_eq!(r("batch")["cost_usd"], "6.250000000");
        assert_eq!(r("saturday")["cost_usd"], "2.640000000");
        assert_eq!(r("saturday")["pricing_notes"], json!(["off-peak prices (the call was made in an off-peak window)"]));
        assert_eq!(r("cache-1h")["cost_usd"], "6.000000000");
        assert_eq!(r("ocr")["cost_usd"], "0.040000000");
        for id in ["speech", "realtime", "batch", "saturday", "cache-1h", "ocr"] {
            assert_eq!(r(id)["priced"], true, "{id}");
        }
        // 1,000 × $2.50 per 1M; the seconds are not charged and are named.
        assert_eq!(r("partial"), json!({"id": "partial", "status": "accepted", "cost_usd": "0.002500000", "priced": "partial",
                                         "unpriced_units": ["seconds"]}));
        assert_eq!((r("no-audio")["priced"].clone(), r("no-audio")["unpriced_units"].clone()), (json!("partial"), json!(["audio_input_tokens"])));
        assert_eq!(r("no-audio")["cost_usd"], "0.001500000", "the 600 text tokens");

        // A repeat answers with the stored pricing.
        let (_, again) = post(&app, &acme.auth, &json!({"id": "partial", "model": "gpt-4o", "input_tokens": 1000, "seconds": 8})).await;
        assert_eq!(again["results"][0], json!({"id": "partial", "status": "duplicate", "cost_usd": "0.002500000", "priced": "partial",
                                               "unpriced_units": ["seconds"]}));

        // The events API returns what was sent, what it cost and how much of it was priced.
        let listed = events(&app, &acme.auth).await;
        let partial = by_id(&listed, "partial");
        assert_eq!((partial["priced"].clone(), partial["unpriced_units"].clone()), (json!("partial"), json!(["seconds"])));
        assert_eq!((partial["duration_ms"].as_i64(), partial["priced_model"].as_str()), (Some(8000), Some("gpt-4o")));
        let batch = by_id(&listed, "batch");
        assert_eq!((batch["service_tier"].as_str(), batch["priced"].clone(), batch["unpriced_units"].clone()), (Some("batch"), json!(true), json!([])));
        assert_eq!(by_id(&listed, "realtime")["audio_output_tokens"], 900);
        assert_eq!(by_id(&listed, "speech")["characters"], 1000);
        assert_eq!(by_id(&listed, "ocr")["pages"], 10);
        assert!(by_id(&listed, "video").get("audio_input_tokens").is_none(), "absent dimensions are left out");

        // The usage API counts the partly priced events beside the unpriced ones.
        let url = app.url("/api/v1/usage?from=2026-11-01T00:00:00Z&to=2027-01-01T00:00:00Z&group_by=model");
        let usage: Value = app.client.get(url).header("Authorization", &acme.auth).send().await.unwrap().json().await.unwrap();
        let gpt4o = usage["rows"].as_array().unwrap_or_else(|| panic!("{usage}")).iter().find(|r| r["group"]["model"] == "gpt-4o").unwrap();
        assert_eq!((gpt4o["events"].as_i64(), gpt4o["partial_events"].as_i64(), gpt4o["unpriced_events"].as_i64()), (Some(3), Some(2), Some(0)));

        // The organization's usage panel lists the partly priced model with its units, and marks the events.
        let owner = sign_in(&app, "owner@acme.test", PASSWORD).await;
        let body = json!({"org_id": acme.id, "query": {"range": "30d"}});
        let panel: Value = owner.post(app.url("/api/usage_panel")).header("Accept", "application/json").header("Origin", app.origin())
            .json(&body).send().await.unwrap().json().await.unwrap();
        let gaps = panel["partly_priced_models"].as_array().unwrap();
        let mut seen: Vec<(String, Value, i64)> = gaps.iter().map(|g| (g["model"].as_str().unwrap().to_string(), g["units"].clone(), g["events"].as_i64().unwrap())).collect();
        seen.sort_by(|a, b| a.1.to_string().cmp(&b.1.to_string()));
        assert_eq!(seen, vec![("gpt-4o".to_string(), json!(["audio_input_tokens"]), 1), ("gpt-4o".to_string(), json!(["seconds"]), 1)]);
        assert_eq!(panel["totals"]["partial_events"], 2);
        let recent = panel["recent"].as_array().unwrap();
        assert_eq!(by_id(recent, "partial")["unpriced_units"], json!(["seconds"]));

        // The page says so where it shows costs.
        let html = owner.get(app.url(&format!("/o/{}", acme.id))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("partial: no price for seconds"), "the recent event is marked partial");
        assert!(html.contains("Models priced only in part") && html.contains("data-testid=\"partly-priced\""), "the panel lists the model");
        assert!(html.contains("2 events only partly priced"), "the range's cost says what it leaves out");
    }

    async fn model_names_resolve_in_the_documented_order_and_never_across_versions(app) {
        seed_catalog(&app).await;
        let acme = org(&app, "Acme", "owner@acme.test").await;
        let batch = json!({"events": [
            {"id": "exact", "model": "gpt-4o", "input_tokens": 1000000},
            {"id": "prefixed", "model": "openai/gpt-4o", "input_tokens": 1000000},
            {"id": "sdk", "model": "anthropic/claude-sonnet-4-5", "provider": "anthropic", "input_tokens": 1000000},
            {"id": "provider", "model": "mistral-large-latest", "provider": "mistral", "input_tokens": 1000000},
            {"id": "gemini-sdk", "model": "models/gemini-2.5-pro", "provider": "google", "input_tokens": 1000},
            {"id": "region", "model": "apac.anthropic.claude-3-5-sonnet-20240620-v1:0", "provider": "bedrock", "input_tokens": 1000000},
            {"id": "other-version", "model": "gpt-4o-2099-01-01", "provider": "openai", "input_tokens": 1000000},
            {"id": "other-snapshot", "model": "claude-sonnet-4-5-20990101", "provider": "anthropic", "input_tokens": 1000000}
        ]});
        let (status, out) = post(&app, &acme.auth, &batch).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        let results = out["results"].as_array().unwrap();
        let r = |id: &str| by_id(results, id).clone();
        assert_eq!(r("exact"), json!({"id": "exact", "status": "accepted", "cost_usd": "2.500000000", "priced": true}));
        assert_eq!((r("prefixed")["priced_as"].as_str(), r("prefixed")["cost_usd"].as_str()), (Some("gpt-4o"), Some("2.500000000")));
        assert_eq!((r("sdk")["priced_as"].as_str(), r("sdk")["cost_usd"].as_str()), (Some("claude-sonnet-4-5"), Some("3.000000000")));
        assert_eq!(r("provider")["priced_as"], "mistral/mistral-large-latest");
        assert_eq!(r("gemini-sdk")["priced_as"], "gemini-2.5-pro", "Google's SDK spelling without its `models/` prefix");
        assert_eq!(r("region")["priced_as"], "anthropic.claude-3-5-sonnet-20240620-v1:0");
        assert_eq!(r("region")["cost_usd"], "3.000000000");
        for id in ["other-version", "other-snapshot"] {
            assert_eq!((r(id)["priced"].clone(), r(id)["cost_usd"].clone()), (json!(false), Value::Null), "{id} is not guessed");
        }

        // Both names are stored.
        let listed = events(&app, &acme.auth).await;
        let sdk = by_id(&listed, "sdk");
        assert_eq!((sdk["model"].as_str(), sdk["priced_model"].as_str()), (Some("anthropic/claude-sonnet-4-5"), Some("claude-sonnet-4-5")));
        assert_eq!(by_id(&listed, "other-version")["priced_model"], Value::Null);

        // The admin price page shows which names resolved to which entry.
        tollbooth::accounts::create_admin(&app.test_db.db, "root@example.com", Some(PASSWORD)).await.unwrap();
        let root = sign_in(&app, "root@example.com", PASSWORD).await;
        let page: Value = root.post(app.url("/api/admin_prices")).header("Accept", "application/json").header("Origin", app.origin())
            .form(&[("q", ""), ("provider", ""), ("mode", ""), ("page", "1")]).send().await.unwrap().json().await.unwrap();
        let mut names: Vec<(String, String, String)> = page["resolved_names"].as_array().unwrap().iter()
            .map(|n| (n["model"].as_str().unwrap().into(), n["provider"].as_str().unwrap().into(), n["entry"].as_str().unwrap().into()))
            .collect();
        names.sort();
        let expected = [
            ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
            ("apac.anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
            ("mistral-large-latest", "mistral", "mistral/mistral-large-latest"),
            ("models/gemini-2.5-pro", "google", "gemini-2.5-pro"),
            ("openai/gpt-4o", "", "gpt-4o"),
        ];
        assert_eq!(names, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
        let html = root.get(app.url("/admin/prices")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("data-testid=\"resolved-names\"") && html.contains("apac.anthropic.claude-3-5-sonnet-20240620-v1:0"), "the page lists them");
    }

    async fn bad_dimensions_are_refused_naming_the_field(app) {
        seed_catalog(&app).await;
        let acme = org(&app, "Acme", "owner@acme.test").await;
        for (event, field) in [
            (json!({"model": "gpt-4o", "service_tier": "turbo"}), "service_tier"),
            (json!({"model": "sora-2", "seconds": -8}), "seconds"),
            (json!({"model": "tts-1", "characters": -1}), "characters"),
            (json!({"model": "gpt-4o", "pages": 1.5}), "pages"),
            (json!({"model": "gpt-realtime", "input_tokens": 10, "audio_input_tokens": 11}), "audio_input_tokens"),
            (json!({"model": "gpt-4o", "output_tokens": 10, "reasoning_tokens": 5, "image_output_tokens": 6}), "image_output_tokens"),
            (json!({"model": "claude-sonnet-4-5", "input_tokens": 10, "cache_creation_tokens": 2, "cache_creation_1h_tokens": 3}), "cache_creation_1h_tokens"),
            // A resolution the model does not price while it prices others.
            (json!({"model": "dashscope/wan2.7-t2v", "seconds": 8, "resolution": "16k"}), "resolution"),
        ] {
            let (status, out) = post(&app, &acme.auth, &event).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{event}: {out}");
            assert_eq!(out["error"]["field"], field, "{out}");
            assert_eq!(out["results"][0]["status"], "rejected");
        }
        // In a batch with a good event: 207, the bad one named.
        let (status, out) = post(&app, &acme.auth, &json!({"events": [{"model": "gpt-4o"}, {"model": "gpt-4o", "service_tier": "turbo"}]})).await;
        assert_eq!(status, StatusCode::MULTI_STATUS);
        assert_eq!(out["results"][1]["field"], "service_tier");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events").fetch_one(app.test_db.db.reader()).await.unwrap();
        assert_eq!(n, 1, "only the good event is stored");
    }

    async fn partly_priced_models_are_listed_for_platform_admins_and_kept_per_organization(app) {
        seed_catalog(&app).await;
        let acme = org(&app, "Acme", "owner@acme.test").await;
        let globex = org(&app, "Globex", "owner@globex.test").await;
        let eight = json!({"model": "gpt-4o", "input_tokens": 10, "seconds": 8});
        assert_eq!(post(&app, &acme.auth, &eight).await.0, StatusCode::OK);
        assert_eq!(post(&app, &acme.auth, &eight).await.0, StatusCode::OK);
        assert_eq!(post(&app, &globex.auth, &eight).await.0, StatusCode::OK);
        let pages = json!({"model": "gpt-4o", "input_tokens": 10, "pages": 3});
        assert_eq!(post(&app, &globex.auth, &pages).await.0, StatusCode::OK);

        let db = &app.test_db.db;
        let platform = tollbooth::metering::unpriced::partly_priced_models(db, None).await.unwrap();
        let mut rows: Vec<(String, Vec<String>, i64, i64)> = platform.into_iter().map(|m| (m.model, m.units, m.events, m.organizations)).collect();
        rows.sort();
        assert_eq!(rows, vec![
            ("gpt-4o".to_string(), vec!["pages".to_string()], 1, 1),
            ("gpt-4o".to_string(), vec!["seconds".to_string()], 3, 2),
        ]);
        let acme_only = tollbooth::metering::unpriced::partly_priced_models(db, Some(&acme.id)).await.unwrap();
        assert_eq!(acme_only.len(), 1);
        assert_eq!((acme_only[0].events, acme_only[0].organizations), (2, 1));

        tollbooth::accounts::create_admin(db, "root@example.com", Some(PASSWORD)).await.unwrap();
        let root = sign_in(&app, "root@example.com", PASSWORD).await;
        let html = root.get(app.url("/admin")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("data-testid=\"partly-priced-models\""), "the admin dashboard lists them");
        assert!(!html.contains("Every event in this range was priced in full."));
    }
}

/// Serves LiteLLM-format price maps on 127.0.0.1: each GET answers the next
/// of `maps` (the last one again once they run out); the URL.
async fn serve_maps(maps: Vec<String>) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let served = Arc::new(AtomicUsize::new(0));
    let maps = Arc::new(maps);
    let router = axum::Router::new().route(
        "/model_prices_and_context_window.json",
        axum::routing::get(move || {
            let (served, maps) = (served.clone(), maps.clone());
            async move {
                let i = served.fetch_add(1, Ordering::SeqCst).min(maps.len() - 1);
                ([("content-type", "application/json")], maps[i].clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/model_prices_and_context_window.json")
}

fn acme_map(input_cost: &str) -> String {
    format!(r#"{{"acme-chat": {{"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": {input_cost}}}}}"#)
}

app_test! {
    async fn the_scheduled_refresh_imports_effective_now_records_and_audits_each_change(app) {
        use tollbooth_server::price_source::PriceSource;
        let db = &app.test_db.db;
        let url = serve_maps(vec![acme_map("1e-06"), acme_map("3e-06"), acme_map("3e-06"), "{not json".into()]).await;
        let source = PriceSource::parse(&url, true).unwrap();
        let first = tollbooth_server::tasks::refresh_prices(db, &source).await.unwrap();
        assert_eq!((first.added, first.changed), (1, 0));
        let second = tollbooth_server::tasks::refresh_prices(db, &source).await.unwrap();
        assert_eq!((second.added, second.changed), (0, 1));
        let third = tollbooth_server::tasks::refresh_prices(db, &source).await.unwrap();
        assert_eq!((third.changed, third.unchanged), (0, 1), "an unchanged map adds nothing");
        assert!(tollbooth_server::tasks::refresh_prices(db, &source).await.is_err(), "a map that does not parse changes nothing");

        // Effective-dated: the change applies from the second refresh's time, to the millisecond.
        let history = tollbooth::pricing::store::history(&mut *db.reader().acquire().await.unwrap(), "acme-chat").await.unwrap();
        assert_eq!(history.len(), 2);
        let changed_at = history[1].effective_from;
        let acme = org(&app, "Acme", "owner@acme.test").await;
        let events = json!({"events": [
            {"id": "before", "model": "acme-chat", "input_tokens": 1000000, "timestamp": tollbooth::clock::to_rfc3339(changed_at - 1)},
            {"id": "after", "model": "acme-chat", "input_tokens": 1000000, "timestamp": tollbooth::clock::to_rfc3339(changed_at)}
        ]});
        let (status, out) = post(&app, &acme.auth, &events).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!((out["results"][0]["cost_usd"].as_str(), out["results"][1]["cost_usd"].as_str()), (Some("1.000000000"), Some("3.000000000")));

        // Each import is recorded; each change is in the audit log.
        let imports = tollbooth::pricing::imports::recent(db, 10).await.unwrap();
        assert_eq!(imports.len(), 3);
        assert!(imports.iter().all(|i| i.source == url && i.trigger == tollbooth::pricing::imports::Trigger::Scheduled));
        assert_eq!((imports[0].changed, imports[1].changed, imports[2].added), (0, 1, 1));
        let f = tollbooth::audit::AuditFilter { action: "prices.import".into(), ..Default::default() };
        let log = tollbooth::audit::list(db, None, &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 2, "the unchanged refresh is recorded, not audited");
        assert!(log.iter().all(|e| e.actor_label == "scheduled refresh"));

        // The admin price page says when and from where.
        tollbooth::accounts::create_admin(db, "root@example.com", Some(PASSWORD)).await.unwrap();
        let root = sign_in(&app, "root@example.com", PASSWORD).await;
        let page: Value = root.post(app.url("/api/admin_prices")).header("Accept", "application/json").header("Origin", app.origin())
            .form(&[("q", ""), ("provider", ""), ("mode", ""), ("page", "1")]).send().await.unwrap().json().await.unwrap();
        assert_eq!((page["imports"][0]["source"].as_str(), page["imports"][0]["trigger"].as_str()), (Some(url.as_str()), Some("scheduled")));
        let html = root.get(app.url("/admin/prices")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("data-testid=\"last-import\"") && html.contains(&url), "the page names the source");
    }
}
