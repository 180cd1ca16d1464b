//! The gateway's policies over real HTTP, on both engines, against the LLM
//! double: a key's model allowlist (403 in the provider's format, nothing
//! forwarded nor recorded, `/v1/models` filtered; set and cleared over REST
//! and from the keys page) and the organization's "refuse unpriced models"
//! setting (off: forwarded and recorded without a cost; on: 400 naming the
//! model, nothing forwarded).

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::api_keys::{ModelAllowlist, NewKey, Scopes};

use crate::gateway::Gw;
use crate::helpers::PASSWORD;
use crate::{app_test, gateway_test};

impl Gw {
    /// Another key of the organization with every scope, allowed `models`
    /// (comma-separated patterns; blank: every model): (id, secret).
    async fn key_for_models(&self, models: &str) -> (String, String) {
        let new = NewKey { name: "limited", rate_limit_per_minute: None, scopes: Scopes::ALL, model_allowlist: ModelAllowlist::parse(models).unwrap() };
        let key = tollbooth::api_keys::create_for_org(&self.app.test_db.db, &self.org_id, &new, &tollbooth::audit::By::system("test")).await.unwrap();
        (key.key.id, key.secret)
    }

    /// Saves the Settings page as its owner would, the checkbox ticked or not.
    async fn save_settings(&self, refuse_unpriced_models: bool) -> reqwest::Response {
        let owner = self.app.fresh_client();
        let login = self.app.server_fn(&owner, "login", &[("email", "owner@gateway.example"), ("password", PASSWORD)]).await;
        assert_eq!(login.status(), StatusCode::OK, "owner login");
        let mut form = vec![("org_id", self.org_id.as_str()), ("name", "Gateway Co"), ("time_zone", "UTC")];
        if refuse_unpriced_models {
            form.push(("refuse_unpriced_models", "on"));
        }
        self.app.server_fn(&owner, "update_org", &form).await
    }

    /// The ids `GET /v1/models` lists to `key`.
    async fn model_ids(&self, key: &str) -> Vec<String> {
        let r = self.app.client.get(self.app.url("/v1/models")).bearer_auth(key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let b: Value = r.json().await.unwrap();
        b["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
    }

    /// `PUT /api/v1/keys/{id}/model-allowlist` with the fixture's key (every scope).
    async fn put_allowlist(&self, key_id: &str, body: Value) -> (StatusCode, Value) {
        let url = self.app.url(&format!("/api/v1/keys/{key_id}/model-allowlist"));
        let r = self.app.client.put(url).bearer_auth(&self.key).json(&body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

fn chat(model: &str) -> Value {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "one two"}]})
}

fn message(model: &str) -> Value {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "one two"}]})
}

gateway_test! {
    async fn a_model_outside_the_keys_allowlist_is_refused_in_the_providers_format_and_never_forwarded(g) {
        let (_, key) = g.key_for_models("gpt-4o-mini").await;
        let anthropic = || g.app.client.post(g.app.url("/v1/messages")).header("x-api-key", &key).header("anthropic-version", "2023-06-01");
        let r = anthropic().json(&message("claude-sonnet-4-5")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().contains_key("tollbooth-request-id"));
        let b: Value = r.json().await.unwrap();
        assert_eq!((b["type"].as_str(), b["error"]["type"].as_str()), (Some("error"), Some("permission_error")), "{b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains("\"claude-sonnet-4-5\"") && msg.contains("gpt-4o-mini"), "names the model and the patterns: {msg}");
        // OpenAI's format, with its code and param; count_tokens is held to it too.
        let r = g.app.client.post(g.app.url("/v1/chat/completions")).bearer_auth(&key).json(&chat("gpt-4o")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["type"], "permission_error");
        assert_eq!((b["error"]["code"].as_str(), b["error"]["param"].as_str()), (Some("model_not_allowed"), Some("model")));
        let r = g.app.client.post(g.app.url("/v1/messages/count_tokens")).header("x-api-key", &key).header("anthropic-version", "2023-06-01")
            .json(&message("claude-sonnet-4-5")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(g.double.requests().is_empty(), "nothing refused reached the upstream");
        assert!(g.events().await.is_empty(), "nothing refused was recorded");

        // The model it may call passes and is recorded once.
        let r = g.app.client.post(g.app.url("/v1/chat/completions")).bearer_auth(&key).json(&chat("gpt-4o-mini")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(g.double.requests().len(), 1);
        let events = g.wait_events(1).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].model, "gpt-4o-mini");
    }

    async fn the_model_list_shows_only_what_the_key_may_call(g) {
        let (_, claude_only) = g.key_for_models("claude-*").await;
        let listed = g.model_ids(&claude_only).await;
        assert!(listed.contains(&"claude-sonnet-4-5".to_string()), "{listed:?}");
        assert!(listed.iter().all(|m| m.starts_with("claude-")), "{listed:?}");
        let everything = g.model_ids(&g.key).await;
        assert!(everything.contains(&"gpt-4o-mini".to_string()) && everything.contains(&"claude-sonnet-4-5".to_string()));
        let (_, none_priced) = g.key_for_models("groq/*").await;
        assert!(g.model_ids(&none_priced).await.is_empty());
    }

    async fn a_manage_key_sets_and_clears_another_keys_allowlist_over_rest(g) {
        let (id, key) = g.key_for_models("").await;
        let claude = || g.app.client.post(g.app.url("/v1/messages")).header("x-api-key", &key).header("anthropic-version", "2023-06-01")
            .json(&message("claude-sonnet-4-5")).send();
        assert_eq!(claude().await.unwrap().status(), StatusCode::OK, "no allowlist: every model");

        let (status, b) = g.put_allowlist(&id, json!({"models": [" gpt-4o* ", "gpt-4o*", "o1-?"]})).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert_eq!(b["id"], id.as_str());
        assert_eq!(b["model_allowlist"], json!(["gpt-4o*", "o1-?"]), "trimmed, without repeats, in order");
        assert!(b.get("secret").is_none() && !b.to_string().contains(&key));
        assert_eq!(claude().await.unwrap().status(), StatusCode::FORBIDDEN);

        // Bad patterns and bodies are 422 naming the field; nothing changes.
        for body in [json!({"models": ["gpt 4o"]}), json!({"models": "gpt-4o*"}), json!({"models": [4]}), json!({})] {
            let (status, b) = g.put_allowlist(&id, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
            assert_eq!(b["error"]["field"], "model_allowlist", "{body}: {b}");
        }
        let (_, b) = g.put_allowlist(&id, json!({"models": ["gpt 4o"]})).await;
        assert!(b["error"]["message"].as_str().unwrap().contains("\"gpt 4o\""), "names the bad pattern: {b}");
        assert_eq!(claude().await.unwrap().status(), StatusCode::FORBIDDEN, "a refused change keeps the stored list");

        let (status, b) = g.put_allowlist(&id, json!({"models": null})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(b["model_allowlist"], Value::Null);
        assert_eq!(claude().await.unwrap().status(), StatusCode::OK);
        g.put_allowlist(&id, json!({"models": ["claude-*"]})).await;
        let (status, b) = g.put_allowlist(&id, json!({"models": []})).await;
        assert_eq!((status, &b["model_allowlist"]), (StatusCode::OK, &Value::Null), "an empty list allows every model too");
        assert_eq!(g.put_allowlist("0190a0a0-0000-7000-8000-000000000000", json!({"models": null})).await.0, StatusCode::NOT_FOUND);

        // Every change is audited with the key that made it.
        let f = tollbooth::audit::AuditFilter { action: "api_key.models_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(&g.app.test_db.db, Some(&g.org_id), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 4, "set, cleared, set, cleared");
        assert!(log.iter().all(|e| e.actor_label == "default" && e.target.as_deref() == Some(id.as_str())), "{log:?}");
    }

    async fn unpriced_models_are_forwarded_and_recorded_without_a_cost_until_the_organization_refuses_them(g) {
        let r = g.openai("/v1/chat/completions").json(&chat("model-without-price")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let events = g.wait_events(1).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].model.as_str(), events[0].cost_nano), ("model-without-price", None), "recorded unpriced");
        assert_eq!(g.double.requests().len(), 1);

        let r = g.save_settings(true).await;
        assert_eq!(r.status(), StatusCode::OK);
        let org: Value = r.json().await.unwrap();
        assert_eq!(org["refuse_unpriced_models"], true);

        let r = g.openai("/v1/chat/completions").json(&chat("model-without-price")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!((b["error"]["code"].as_str(), b["error"]["param"].as_str()), (Some("model_not_priced"), Some("model")), "{b}");
        let msg = b["error"]["message"].as_str().unwrap();
        assert!(msg.contains("\"model-without-price\"") && msg.contains("Price book") && msg.contains("Settings"), "{msg}");
        let r = g.anthropic().json(&message("claude-without-price")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let b: Value = r.json().await.unwrap();
        assert_eq!((b["type"].as_str(), b["error"]["type"].as_str()), (Some("error"), Some("invalid_request_error")));
        assert_eq!(g.double.requests().len(), 1, "nothing refused was forwarded");
        assert_eq!(g.events().await.len(), 1, "nothing refused was recorded");
        // Priced models are not affected.
        assert_eq!(g.openai("/v1/chat/completions").json(&chat("gpt-4o-mini")).send().await.unwrap().status(), StatusCode::OK);
        // A name the book prices through an alias (LiteLLM's provider
        // prefix) is judged as ingest prices it: forwarded, and costed.
        let r = g.openai("/v1/chat/completions").json(&chat("openai/gpt-4o-mini")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let cost = r.headers()["tollbooth-cost-usd"].to_str().unwrap().to_string();
        assert_ne!(cost, "0.000000000", "priced as gpt-4o-mini");
        let events = g.wait_events(3).await;
        let aliased = events.iter().find(|e| e.model == "openai/gpt-4o-mini").expect("recorded");
        assert_eq!(aliased.cost_nano, Some(tollbooth::pricing::NanoUsd::parse_usd(&cost).unwrap().nanos()), "the header tells the stored cost");

        // Unticked: forwarded again.
        assert_eq!(g.save_settings(false).await.status(), StatusCode::OK);
        assert_eq!(g.openai("/v1/chat/completions").json(&chat("model-without-price")).send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(g.double.requests().len(), 4);
        let f = tollbooth::audit::AuditFilter { action: "org.settings_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(&g.app.test_db.db, Some(&g.org_id), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 2, "turned on, turned off");
        assert_eq!(log[0].actor_label, "owner@gateway.example");
    }
}

app_test! {
    async fn owners_limit_a_keys_models_on_the_keys_page(app) {
        let org = app.signup(&app.client, "owner@example.com", "Acme").await;
        let resp = app.server_fn(&app.client, "create_api_key", &[("org_id", &org), ("name", "bot"), ("scopes", "ingest"), ("models", "gpt-4o*\r\nclaude-*, gpt-4o*")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let created: Value = resp.json().await.unwrap();
        assert_eq!(created["key"]["model_allowlist"], json!(["gpt-4o*", "claude-*"]));
        let key_id = created["key"]["id"].as_str().unwrap().to_string();
        let resp = app.server_fn(&app.client, "create_api_key", &[("org_id", &org), ("name", "open"), ("scopes", "ingest")]).await;
        let open: Value = resp.json().await.unwrap();
        assert_eq!(open["key"]["model_allowlist"], Value::Null, "no field: every model");

        let resp = app.server_fn(&app.client, "set_api_key_models", &[("org_id", &org), ("key_id", &key_id), ("models", "gpt-4o-mini, claude-[3]")]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = resp.text().await.unwrap();
        assert!(text.contains("model_allowlist") && text.contains("claude-[3]"), "a readable message naming the pattern: {text}");
        let resp = app.server_fn(&app.client, "set_api_key_models", &[("org_id", &org), ("key_id", &key_id), ("models", "gpt-4o-mini")]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let listed: Value = app.server_fn(&app.client, "list_api_keys", &[("org_id", &org)]).await.json().await.unwrap();
        let row = listed.as_array().unwrap().iter().find(|k| k["id"] == key_id.as_str()).unwrap();
        assert_eq!(row["model_allowlist"], json!(["gpt-4o-mini"]));
        let resp = app.server_fn(&app.client, "set_api_key_models", &[("org_id", &org), ("key_id", &key_id), ("models", "  ")]).await;
        let cleared: Value = resp.json().await.unwrap();
        assert_eq!(cleared["model_allowlist"], Value::Null, "blank: every model");

        let f = tollbooth::audit::AuditFilter { action: "api_key.models_change".into(), ..Default::default() };
        let log = tollbooth::audit::list(&app.test_db.db, Some(&org), &f, "UTC", 10).await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].actor_label, "owner@example.com");

        // The page shows the field and each key's patterns.
        let html = app.client.get(app.url(&format!("/o/{org}/keys"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Models (glob patterns, one per line or comma-separated; empty = all)"), "create form field");
        assert!(html.contains("Save models"));
    }
}
