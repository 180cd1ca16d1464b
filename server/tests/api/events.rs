use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::TestApp;

async fn setup(app: &TestApp) -> String {
    let mut p = ModelPrice::new("gpt-test", "openai");
    p.input = Some(UnitPrice::parse("0.0000025").unwrap());
    p.output = Some(UnitPrice::parse("0.00001").unwrap());
    p.cache_read = Some(UnitPrice::parse("0.00000125").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(&app.test_db.db, &book, "test", Some(0)).await.unwrap();
    let out = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
    format!("Bearer {}", out.api_key)
}

async fn post(app: &TestApp, auth: &str, body: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

app_test! {
    async fn a_single_event_is_accepted_with_its_exact_cost(app) {
        let auth = setup(&app).await;
        let body = json!({"id": "r1", "model": "gpt-test", "input_tokens": 1000, "cached_input_tokens": 400, "output_tokens": 200});
        let (status, out) = post(&app, &auth, &body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        // 600 × 0.0000025 + 400 × 0.00000125 + 200 × 0.00001 = 0.0015 + 0.0005 + 0.002
        assert_eq!(out["results"][0], json!({"id": "r1", "status": "accepted", "cost_usd": "0.004000000", "priced": true}));
        let (_, again) = post(&app, &auth, &body.to_string()).await;
        assert_eq!(again["results"][0]["status"], "duplicate");
        assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)));
    }

    async fn a_mixed_batch_answers_207_naming_the_bad_fields(app) {
        let auth = setup(&app).await;
        let body = json!({"events": [
            {"id": "ok", "model": "gpt-test", "input_tokens": 10},
            {"id": "neg", "model": "gpt-test", "output_tokens": -1},
            {"id": "typ", "model": "gpt-test", "input_tokens": "ten"},
            {"id": "fut", "model": "gpt-test", "timestamp": "2999-01-01T00:00:00Z"}
        ]});
        let (status, out) = post(&app, &auth, &body.to_string()).await;
        assert_eq!(status, StatusCode::MULTI_STATUS, "{out}");
        assert_eq!((out["accepted"].as_u64(), out["rejected"].as_u64()), (Some(1), Some(3)));
        let errors: Vec<&str> = out["results"].as_array().unwrap()[1..].iter().map(|r| r["error"].as_str().unwrap()).collect();
        assert!(errors[0].starts_with("output_tokens:"), "{errors:?}");
        assert!(errors[1].starts_with("input_tokens:"), "{errors:?}");
        assert!(errors[2].starts_with("timestamp:"), "{errors:?}");
        assert_eq!(out["results"][1]["id"], "neg");
    }

    async fn malformed_oversized_and_unauthenticated_bodies_get_json_errors(app) {
        let auth = setup(&app).await;
        let (status, out) = post(&app, &auth, "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(out["error"]["code"], "invalid_json");

        let too_many = json!({"events": vec![json!({"model": "gpt-test"}); 1001]});
        let (status, out) = post(&app, &auth, &too_many.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(out["error"]["message"].as_str().unwrap().contains("at most 1000"));

        let (status, out) = post(&app, &auth, &json!([{"model": "gpt-test"}]).to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{out}");

        // Announce a 9 MiB body and send none of it: the server must refuse on
        // the length alone. (Streaming 9 MiB at a server that answers early
        // and closes races the client's write against the reset.)
        let (status, out) = app.oversized_post("/api/v1/events", &auth, 9 * 1024 * 1024).await;
        assert_eq!(status, 413, "{out}");
        assert_eq!(out["error"]["code"], "payload_too_large");

        let (status, out) = post(&app, "Bearer nope", &json!({"model": "gpt-test"}).to_string()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(out["error"]["code"], "unauthorized");

        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events").fetch_one(app.test_db.db.reader()).await.unwrap();
        assert_eq!(n, 0, "nothing was stored by refused requests");
    }
}

app_test! {
    async fn usage_groups_by_local_day_and_model_from_rollups(app) {
        let auth = setup(&app).await;
        let db = &app.test_db.db;
        sqlx::query("UPDATE organizations SET time_zone = 'America/New_York'").execute(db.writer()).await.unwrap();
        let body = json!({"events": [
            {"id": "a", "model": "gpt-test", "timestamp": "2026-01-15T03:00:00Z", "input_tokens": 1000, "latency_ms": 120},
            {"id": "b", "model": "gpt-test", "timestamp": "2026-01-15T06:00:00Z", "output_tokens": 100, "latency_ms": 900},
            {"id": "c", "model": "other", "timestamp": "2026-01-15T06:30:00Z", "input_tokens": 5, "status": "error"}
        ]});
        let (status, _) = post(&app, &auth, &body.to_string()).await;
        assert_eq!(status, StatusCode::OK);

        let get = |q: &'static str| {
            let auth = auth.clone();
            let url = app.url(&format!("/api/v1/usage?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&{q}"));
            let client = app.client.clone();
            async move {
                let resp = client.get(url).header("Authorization", auth).send().await.unwrap();
                (resp.status(), resp.json::<Value>().await.unwrap())
            }
        };
        let (status, out) = get("group_by=day").await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(out["time_zone"], "America/New_York");
        let rows = out["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "03:00Z is the 14th in New York, 06:00Z the 15th: {out}");
        assert_eq!(rows[0]["group"]["day"], "2026-01-14T00:00:00-05:00");
        assert_eq!(rows[0]["cost_usd"], "0.002500000");
        assert_eq!(rows[1]["group"]["day"], "2026-01-15T00:00:00-05:00");
        assert_eq!(rows[1]["cost_usd"], "0.001000000");
        assert_eq!((rows[1]["events"].as_i64(), rows[1]["errors"].as_i64(), rows[1]["unpriced_events"].as_i64()), (Some(2), Some(1), Some(1)));

        let (_, by_model) = get("group_by=model").await;
        let gpt = by_model["rows"].as_array().unwrap().iter().find(|r| r["group"]["model"] == "gpt-test").unwrap();
        assert_eq!((gpt["input_tokens"].as_i64(), gpt["output_tokens"].as_i64()), (Some(1000), Some(100)));
        assert_eq!(gpt["p95_latency_ms"], 1000, "900 ms falls in the bucket up to 1,000 ms");

        // Weeks start on Monday in the organization's zone: the 14th and 15th are one week.
        let (status, weeks) = get("group_by=week").await;
        assert_eq!(status, StatusCode::OK, "{weeks}");
        let weeks = weeks["rows"].as_array().unwrap();
        assert_eq!(weeks.len(), 1);
        assert_eq!(weeks[0]["group"]["week"], "2026-01-12T00:00:00-05:00");
        assert_eq!(weeks[0]["cost_usd"], "0.003500000");

        let (status, bad) = get("group_by=fortnight").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad["error"]["field"], "group_by");
    }
}

app_test! {
    async fn events_page_newest_first_and_export_streams_csv_and_json(app) {
        let auth = setup(&app).await;
        let events: Vec<Value> = (0..25)
            .map(|i| json!({"id": format!("e{i:02}"), "model": "gpt-test", "input_tokens": 100 + i,
                            "session_id": format!("s{}", i % 3), "timestamp": format!("2026-03-01T00:{i:02}:00Z"), "error": if i == 3 { "a \"quoted\", comma" } else { "" }}))
            .collect();
        assert_eq!(post(&app, &auth, &json!({"events": events}).to_string()).await.0, StatusCode::OK);
        let get = |path: String| {
            let (client, auth, url) = (app.client.clone(), auth.clone(), app.url(&path));
            async move { client.get(url).header("Authorization", auth).send().await.unwrap() }
        };
        let range = "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z";
        let mut ids = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/events?{range}&limit=10&cursor={c}"),
                None => format!("/api/v1/events?{range}&limit=10"),
            };
            let page: Value = get(path).await.json().await.unwrap();
            ids.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..25).rev().map(|i| format!("e{i:02}")).collect();
        assert_eq!(ids, expected, "newest first, every event once");

        let one: Value = get(format!("/api/v1/events?{range}&session_id=s1")).await.json().await.unwrap();
        let ids: Vec<&str> = one["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["e22", "e19", "e16", "e13", "e10", "e07", "e04", "e01"]);
        let sessions: Value = get(format!("/api/v1/usage?{range}&group_by=session")).await.json().await.unwrap();
        let mut per: Vec<(&str, i64)> = sessions["rows"].as_array().unwrap().iter()
            .map(|r| (r["group"]["session"].as_str().unwrap(), r["events"].as_i64().unwrap())).collect();
        // Rows grouped by a dimension come largest cost first.
        let costs: Vec<i64> = sessions["rows"].as_array().unwrap().iter()
            .map(|r| tollbooth::pricing::NanoUsd::parse_usd(r["cost_usd"].as_str().unwrap()).unwrap().nanos()).collect();
        assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
        assert_eq!(sessions["groups"], 3);
        per.sort();
        assert_eq!(per, [("s0", 9), ("s1", 8), ("s2", 8)]);

        let resp = get(format!("/api/v1/usage/export?format=csv&{range}")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = resp.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 25);
        assert_eq!(&reader.headers().unwrap()[0], "id");
        let e03 = rows.iter().find(|r| &r[0] == "e03").unwrap();
        assert_eq!(&e03[18], "a \"quoted\", comma");
        assert_eq!(&e03[19], "0.000257500");

        let json_rows: Vec<Value> = get(format!("/api/v1/usage/export?format=json&{range}")).await.json().await.unwrap();
        assert_eq!(json_rows.len(), 25);
        let empty: Vec<Value> = get("/api/v1/usage/export?format=json&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z".into())
            .await
            .json()
            .await
            .unwrap();
        assert!(empty.is_empty());
        let bad = get(format!("/api/v1/usage/export?format=xml&{range}")).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bad = get("/api/v1/events?cursor=junk".into()).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
