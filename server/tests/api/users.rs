//! End users and per-user limits over HTTP: `/api/v1/user-limits`,
//! `/api/v1/users`, `/api/v1/users/{user_id}/limits`, enforced by checks and
//! reservations and at the gateway (in the providers' formats).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::gateway_test;
use crate::helpers::TestApp;

async fn org(app: &TestApp) -> String {
    create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap().api_key
}

app_test! {
    async fn limits_are_set_listed_and_enforced_through_the_api(app) {
        let key = org(&app).await;
        // Bad input names its field and changes nothing.
        let (status, b) = app.call(Method::PUT, "/api/v1/user-limits", &key, Some(json!({"enabled": true, "cost_per_day_usd": "lots"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["error"]["field"], "cost_per_day_usd", "{b}");
        let (status, b) = app.call(Method::GET, "/api/v1/user-limits", &key, None).await;
        assert_eq!((status, b["enabled"].clone()), (StatusCode::OK, json!(false)));
        let (status, b) = app.call(Method::PUT, "/api/v1/user-limits", &key, Some(json!({"enabled": true, "tokens_per_day": 1000, "cost_per_month_usd": "5.00"}))).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert_eq!((b["tokens_per_day"].clone(), b["cost_per_month_usd"].clone(), b["requests_per_minute"].clone()), (json!(1000), json!("5.00"), Value::Null));

        let events = json!({"events": [
            {"model": "m", "user_id": "alice", "input_tokens": 900},
            {"model": "m", "user_id": "team/bob", "input_tokens": 10},
        ]});
        assert_eq!(app.call(Method::POST, "/api/v1/events", &key, Some(events)).await.0, StatusCode::OK);
        let (status, b) = app.call(Method::GET, "/api/v1/users?sort=tokens_month", &key, None).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert_eq!(b["total"], 2);
        assert_eq!(b["users"][0]["user_id"], "alice");
        assert_eq!(b["users"][0]["month"]["tokens"], 900);
        assert_eq!(b["users"][0]["status"], "limited");
        let line = b["users"][0]["lines"].as_array().unwrap().iter().find(|l| l["metric"] == "tokens").unwrap().clone();
        assert_eq!((line["limit"].clone(), line["used"].clone(), line["period"].clone()), (json!(1000), json!(900), json!("day")));
        let (status, b) = app.call(Method::GET, "/api/v1/users?sort=age", &key, None).await;
        assert_eq!((status, b["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("sort")));

        // A check names the user's limit; a reservation past it is 429.
        let check = json!({"user_id": "alice", "checks": [{"metric": "tokens", "amount": 200}]});
        let (status, b) = app.call(Method::POST, "/api/v1/quota/check", &key, Some(check)).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert_eq!(b["allowed"], false);
        assert_eq!(b["user_results"][0]["remaining"], 100, "{b}");
        assert!(b["reason"].as_str().unwrap().starts_with("End user \"alice\""), "{b}");
        let reserve = |user: &str, tokens: i64| json!({"user_id": user, "checks": [{"metric": "tokens", "amount": tokens}]});
        let (status, b) = app.call(Method::POST, "/api/v1/reservations", &key, Some(reserve("alice", 101))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{b}");
        assert_eq!(b["user_id"], "alice", "{b}");
        assert_eq!(app.call(Method::POST, "/api/v1/reservations", &key, Some(reserve("alice", 100))).await.0, StatusCode::CREATED);

        // An override for a user id with a slash, then blocked, then deleted.
        let path = "/api/v1/users/team%2Fbob/limits";
        let (status, b) = app.call(Method::PUT, path, &key, Some(json!({"mode": "custom", "tokens_per_day": 5000}))).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert_eq!((b["user_id"].clone(), b["mode"].clone(), b["effective"]["tokens_per_day"].clone()), (json!("team/bob"), json!("custom"), json!(5000)));
        assert_eq!(b["effective"]["cost_per_month_usd"], "5.00", "a custom override keeps the defaults it does not set: {b}");
        assert_eq!(app.call(Method::POST, "/api/v1/reservations", &key, Some(reserve("team/bob", 4000))).await.0, StatusCode::CREATED);
        let (status, b) = app.call(Method::PUT, path, &key, Some(json!({"mode": "blocked"}))).await;
        assert_eq!((status, b["status"].clone()), (StatusCode::OK, json!("blocked")));
        let (status, b) = app.call(Method::POST, "/api/v1/reservations", &key, Some(reserve("team/bob", 1))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("blocked"), "{b}");
        let (status, b) = app.call(Method::PUT, path, &key, Some(json!({"mode": "blocked", "tokens_per_day": 5}))).await;
        assert_eq!((status, b["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("mode")));
        let (status, b) = app.call(Method::DELETE, path, &key, None).await;
        assert_eq!((status, b["mode"].clone(), b["status"].clone()), (StatusCode::OK, json!("default"), json!("limited")));
        let (status, _) = app.call(Method::GET, "/api/v1/users/team%2Fbob/limits", &key, None).await;
        assert_eq!(status, StatusCode::OK);

        // Another organization sees none of it.
        let other = create_org(&app.test_db.db, &app.config, "Other", "other@example.com", None).await.unwrap().api_key;
        let (_, b) = app.call(Method::GET, "/api/v1/users", &other, None).await;
        assert_eq!(b["total"], 0);
        let (_, b) = app.call(Method::GET, "/api/v1/users/alice/limits", &other, None).await;
        assert_eq!((b["status"].clone(), b["month"]["tokens"].clone()), (json!("free"), json!(0)));
    }
}

gateway_test! {
    async fn per_user_limits_hold_at_the_gateway_in_the_providers_formats(g) {
        let (status, b) = g.app.call(Method::PUT, "/api/v1/user-limits", &g.key, Some(json!({"enabled": true, "tokens_per_day": 300}))).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        // 20 concurrent streamed calls of one user: what is granted never passes its 300 tokens.
        let calls = (0..20).map(|_| {
            let req = g.openai("/v1/chat/completions").json(&json!({"model": "gpt-4o-mini", "user": "alice", "stream": true, "max_tokens": 40, "messages": [{"role": "user", "content": "hello"}]}));
            async move {
                let r = req.send().await.unwrap();
                (r.status(), r.text().await.unwrap_or_default())
            }
        });
        let answers = futures::future::join_all(calls).await;
        let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
        assert_eq!(ok + refused.len(), 20, "{answers:?}");
        assert!(ok >= 1 && !refused.is_empty(), "{ok} granted");
        let b: Value = serde_json::from_str(&refused[0].1).unwrap();
        assert!(b["error"]["message"].as_str().unwrap().contains("End user \"alice\""), "{b}");
        let events = g.wait_events(ok).await;
        let used: i64 = events.iter().filter(|e| e.user.as_deref() == Some("alice")).map(|e| e.input + e.output).sum();
        assert!(used <= 300, "alice used {used} of 300");
        // Another user goes on; a blocked one is refused (403) in both formats.
        let r = g.openai("/v1/chat/completions").json(&json!({"model": "gpt-4o-mini", "user": "bob", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let (status, _) = g.app.call(Method::PUT, "/api/v1/users/bob/limits", &g.key, Some(json!({"mode": "blocked"}))).await;
        assert_eq!(status, StatusCode::OK);
        let before = g.double.requests().len();
        let r = g.openai("/v1/chat/completions").json(&json!({"model": "gpt-4o-mini", "user": "bob", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let b: Value = r.json().await.unwrap();
        assert!(b["error"]["message"].as_str().unwrap().contains("blocked"), "{b}");
        let r = g.anthropic().json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "metadata": {"user_id": "bob"}, "messages": [{"role": "user", "content": "x"}]})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["type"], "error", "{b}");
        assert_eq!(g.double.requests().len(), before, "refused calls never reached the upstream");
    }
}
