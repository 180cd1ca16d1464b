use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::db::Engine;
use tollbooth::plans::{self, LimitInput};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::{Server, TestApp};

struct Org {
    id: String,
    auth: String,
}

async fn org(app: &TestApp) -> Org {
    let out = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
    Org { id: out.org_id, auth: format!("Bearer {}", out.api_key) }
}

/// Sets a limit for the organization as a platform admin would (empty value: unlimited).
async fn set_limit(db: &tollbooth::db::Db, org_id: &str, metric: &str, period: &str, value: &str) {
    let admin = match tollbooth::accounts::create_admin(db, "root@example.com", Some("correct-horse-battery")).await {
        Ok(a) => a.user,
        Err(e) => panic!("{e:?}"),
    };
    let input = LimitInput { metric: metric.into(), period: period.into(), value: value.into(), hard: true, overage_usd: String::new() };
    plans::set_override(db, &admin, org_id, &input, Default::default()).await.unwrap();
}

async fn call(client: &reqwest::Client, method: reqwest::Method, url: String, auth: &str, body: Option<Value>) -> (StatusCode, Option<String>, Value) {
    let mut req = client.request(method, url).header("Authorization", auth);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

async fn reserve(app: &TestApp, o: &Org, body: Value) -> (StatusCode, Option<String>, Value) {
    call(&app.client, reqwest::Method::POST, app.url("/api/v1/reservations"), &o.auth, Some(body)).await
}

app_test! {
    // Found by schemathesis: two reservations near i64::MAX overflowed the
    // in-memory ledger under its lock, and the poisoned lock then refused
    // every later call of the organization with a dropped connection.
    async fn an_absurd_amount_is_a_422_naming_amount_and_the_ledger_keeps_working(app) {
        let o = org(&app).await;
        for _ in 0..2 {
            let (status, _, e) = reserve(&app, &o, json!({"checks": [{"metric": "tokens", "amount": 9223372036854775806i64}]})).await;
            assert_eq!((status, e["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("amount")), "{e}");
            let (status, _, e) = call(&app.client, reqwest::Method::POST, app.url("/api/v1/quota/check"), &o.auth,
                Some(json!({"checks": [{"metric": "cost_usd", "amount": "99999999999"}]}))).await;
            assert_eq!((status, e["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("amount")), "{e}");
        }
        // The largest amount allowed, twice: both held, the totals intact.
        let most = tollbooth::quota::rules::MAX_ASK;
        for _ in 0..2 {
            let (status, _, e) = reserve(&app, &o, json!({"checks": [{"metric": "requests", "amount": most}]})).await;
            assert_eq!(status, StatusCode::CREATED, "{e}");
        }
        let (status, _, e) = reserve(&app, &o, json!({"checks": [{"metric": "tokens", "amount": 10}]})).await;
        assert_eq!(status, StatusCode::CREATED, "the organization still reserves: {e}");
    }

    async fn an_estimate_gives_the_exact_cost_range_and_names_bad_input(app) {
        let mut p = tollbooth::pricing::ModelPrice::new("gpt-est", "openai");
        p.input = Some(tollbooth::pricing::UnitPrice::parse("0.0000025").unwrap());
        p.output = Some(tollbooth::pricing::UnitPrice::parse("0.00001").unwrap());
        p.reasoning = Some(tollbooth::pricing::UnitPrice::parse("0.00002").unwrap());
        let mut book = tollbooth::pricing::PriceBook::default();
        book.insert(p);
        tollbooth::pricing::store::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
        let o = org(&app).await;
        let url = app.url("/api/v1/estimate");
        let (status, _, e) = call(&app.client, reqwest::Method::POST, url.clone(), &o.auth,
            Some(json!({"model": "gpt-est", "input_tokens": 1000, "max_output_tokens": 500}))).await;
        assert_eq!(status, StatusCode::OK, "{e}");
        // 1000 × 0.0000025 = 0.0025; plus 500 reasoning tokens × 0.00002 = 0.01 (dearer than output).
        assert_eq!((e["min_cost_usd"].clone(), e["max_cost_usd"].clone()), (json!("0.002500000"), json!("0.012500000")));
        let (status, _, bad) = call(&app.client, reqwest::Method::POST, url.clone(), &o.auth,
            Some(json!({"model": "no-such-model", "input_tokens": 1}))).await;
        assert_eq!((status, bad["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("model")));
        let (status, _, bad) = call(&app.client, reqwest::Method::POST, url, &o.auth, Some(json!({"model": "gpt-est", "input_tokens": -5}))).await;
        assert!(status.is_client_error(), "{bad}");
        assert!(bad["error"]["message"].as_str().unwrap().contains("input_tokens"), "{bad}");
    }

    async fn a_reservation_beyond_a_hard_limit_gets_429_with_the_documented_body(app) {
        let o = org(&app).await;
        set_limit(&app.test_db.db, &o.id, "requests", "day", "2").await;
        let (status, _, granted) = reserve(&app, &o, json!({"checks": [{"metric": "requests", "amount": 2}], "ttl_seconds": 120})).await;
        assert_eq!(status, StatusCode::CREATED, "{granted}");
        assert!(granted["reservation_id"].as_str().is_some());
        assert!(granted["expires_at"].as_str().unwrap().ends_with('Z'));

        let (status, retry, body) = reserve(&app, &o, json!({"checks": [{"metric": "requests", "amount": 1}]})).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry.unwrap().parse::<u64>().unwrap() > 0);
        assert_eq!(body["allowed"], json!(false));
        assert_eq!(body["error"]["code"], "limit_exceeded");
        let day = body["results"].as_array().unwrap().iter().find(|r| r["window"] == "day").unwrap();
        assert_eq!((day["limit"].clone(), day["used"].clone(), day["reserved"].clone(), day["remaining"].clone()), (json!(2), json!(0), json!(2), json!(0)));
        assert!(day["reset_at"].as_str().unwrap().ends_with("T00:00:00Z"));
        assert!(body["reason"].as_str().unwrap().contains("Requests limit of 2 per day reached"));
        assert_eq!(body["upgrade_url"], json!(app.url(&format!("/o/{}/billing", o.id))));

        // The check endpoint says the same without reserving anything.
        let (status, _, check) = call(&app.client, reqwest::Method::POST, app.url("/api/v1/quota/check"), &o.auth,
            Some(json!({"checks": [{"metric": "requests", "amount": 1}, {"metric": "cost_usd", "amount": "0.50"}]}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(check["allowed"], json!(false));
        let cost = check["results"].as_array().unwrap().iter().find(|r| r["metric"] == "cost_usd").unwrap();
        assert_eq!((cost["limit"].clone(), cost["used"].clone(), cost["allowed"].clone()), (Value::Null, json!("0.00"), json!(true)));

        // Bad input names the problem.
        let (status, _, bad) = reserve(&app, &o, json!({"checks": [{"metric": "gpus", "amount": 1}]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad["error"]["message"].as_str().unwrap().contains("not a metric"), "{bad}");
        let (status, _, bad) = reserve(&app, &o, json!({"checks": [{"metric": "requests", "amount": 1}], "ttl_seconds": 7200})).await;
        assert_eq!((status, bad["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("ttl_seconds")));
    }

    async fn commit_records_the_events_and_release_is_idempotent(app) {
        let o = org(&app).await;
        let (_, _, r) = reserve(&app, &o, json!({"checks": [{"metric": "tokens", "amount": 500}]})).await;
        let id = r["reservation_id"].as_str().unwrap();
        let commit = |body: Value| {
            let (client, url, auth) = (app.client.clone(), app.url(&format!("/api/v1/reservations/{id}/commit")), o.auth.clone());
            async move { call(&client, reqwest::Method::POST, url, &auth, Some(body)).await }
        };
        let events = json!({"events": [{"id": "call-1", "model": "unknown-model", "input_tokens": 120, "output_tokens": 30}]});
        let (status, _, done) = commit(events.clone()).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!((done["state"].clone(), done["recorded"].clone()), (json!("committed"), json!(true)));
        assert_eq!(done["results"][0]["status"], "accepted");
        let (_, _, again) = commit(events).await;
        assert_eq!(again["recorded"], json!(false));
        let (status, _, rel) = call(&app.client, reqwest::Method::DELETE, app.url(&format!("/api/v1/reservations/{id}")), &o.auth, None).await;
        assert_eq!((status, rel["state"].clone()), (StatusCode::OK, json!("committed")));
        let (_, _, plan) = call(&app.client, reqwest::Method::GET, app.url("/api/v1/plan"), &o.auth, None).await;
        let tokens = plan["lines"].as_array().unwrap().iter().find(|l| l["metric"] == "tokens" && l["period"] == "month").unwrap();
        assert_eq!((tokens["used"].clone(), tokens["reserved"].clone(), tokens["limit"].clone()), (json!(150), json!(0), json!(100000)));
        let (status, _, _) = call(&app.client, reqwest::Method::DELETE, app.url("/api/v1/reservations/0190a0a0-0000-7000-8000-000000000000"), &o.auth, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn documents_beyond_the_plan_get_403_naming_the_limit(app) {
        let o = org(&app).await;
        let url = app.url("/api/v1/resources/documents");
        let (status, _, ok) = call(&app.client, reqwest::Method::POST, url.clone(), &o.auth, Some(json!({"delta": 25}))).await;
        assert_eq!((status, ok["used"].clone(), ok["limit"].clone()), (StatusCode::OK, json!(25), json!(25)));
        let (status, _, body) = call(&app.client, reqwest::Method::POST, url, &o.auth, Some(json!({"delta": 1}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!((body["limit"].clone(), body["used"].clone()), (json!(25), json!(25)));
        assert!(body["error"]["message"].as_str().unwrap().contains("Documents limit of 25 reached"));
        assert!(body["upgrade_url"].as_str().unwrap().ends_with("/billing"));
    }

    async fn the_rate_limit_answers_429_with_retry_after_and_recovers(app) {
        let o = org(&app).await;
        // 60 per minute: a burst of 60, then one more each second.
        let me = || call(&app.client, reqwest::Method::GET, app.url("/api/v1/me"), &o.auth, None);
        let mut refused = None;
        for _ in 0..70 {
            let (status, retry, body) = me().await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                refused = Some((retry, body));
                break;
            }
            assert_eq!(status, StatusCode::OK);
        }
        let (retry, body) = refused.expect("the 61st request within a minute is refused");
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!((body["metric"].clone(), body["window"].clone(), body["limit"].clone()), (json!("requests"), json!("minute"), json!(60)));
        assert!(body["error"]["message"].as_str().unwrap().contains("rate limit of 60 requests per minute"));
        assert_eq!((body["used"].clone(), body["scope"].clone()), (json!(60), json!("organization")));
        assert!(body["reset_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["upgrade_url"], json!(app.url(&format!("/o/{}/billing", o.id))));
        // Recovers once the refill comes (waiting for the condition, bounded).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let (status, _, _) = me().await;
            if status == StatusCode::OK {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still refused after 5 s");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn five_hundred_concurrent_reservations_over_http_grant_exactly_the_limit(app) {
        let o = org(&app).await;
        set_limit(&app.test_db.db, &o.id, "requests", "day", "100").await;
        set_limit(&app.test_db.db, &o.id, "requests", "minute", "").await;
        // PostgreSQL: a second server process on the same database takes half the load.
        let second = (app.test_db.db.engine == Engine::Postgres).then(|| Server::start(&app.test_db.url));
        let bases: Vec<String> = std::iter::once(app.url("")).chain(second.as_ref().map(|s| s.base.clone())).collect();
        if let Some(s) = &second {
            s.wait_ready().await;
        }
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let (client, auth) = (client.clone(), o.auth.clone());
                let url = format!("{}/api/v1/reservations", bases[i % bases.len()]);
                tokio::spawn(async move {
                    let body = json!({"checks": [{"metric": "requests", "amount": 1}]});
                    call(&client, reqwest::Method::POST, url, &auth, Some(body)).await.0
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let granted = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((granted, refused), (100, 400), "{statuses:?}");
    }

    async fn twenty_concurrent_reservations_over_http_never_pass_a_pause_budget(app) {
        let o = org(&app).await;
        set_limit(&app.test_db.db, &o.id, "requests", "minute", "").await;
        let (status, _, b) = call(&app.client, reqwest::Method::POST, app.url("/api/v1/budgets"), &o.auth,
            Some(json!({"name": "Bot", "scope": "project", "scope_id": "bot", "period": "monthly", "amount_usd": "1.00", "action": "pause"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        // PostgreSQL: a second server process on the same database takes half the calls.
        let second = (app.test_db.db.engine == Engine::Postgres).then(|| Server::start(&app.test_db.url));
        let bases: Vec<String> = std::iter::once(app.url("")).chain(second.as_ref().map(|s| s.base.clone())).collect();
        if let Some(s) = &second {
            s.wait_ready().await;
        }
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (client, auth) = (app.client.clone(), o.auth.clone());
                let url = format!("{}/api/v1/reservations", bases[i % bases.len()]);
                tokio::spawn(async move {
                    let body = json!({"project_id": "bot", "checks": [{"metric": "cost_usd", "amount": "0.25"}]});
                    call(&client, reqwest::Method::POST, url, &auth, Some(body)).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let granted = answers.iter().filter(|a| a.0 == StatusCode::CREATED).count();
        let refused: Vec<_> = answers.iter().filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS).collect();
        assert_eq!((granted, refused.len()), (4, 16), "{answers:?}");
        for (_, retry, body) in refused {
            assert_eq!(body["budget"]["id"], b["id"], "{body}");
            assert_eq!((body["budget"]["held_usd"].clone(), body["budget"]["held_calls"].clone()), (json!("1.00"), json!(4)), "{body}");
            assert!(body["error"]["message"].as_str().unwrap().contains("\"Bot\""), "{body}");
            assert_eq!(retry.as_deref(), Some("2"), "calls in flight settle soon");
        }
        // Another project goes on.
        let (status, _, body) = reserve(&app, &o, json!({"project_id": "web", "checks": [{"metric": "cost_usd", "amount": "5"}]})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}
