use reqwest::StatusCode;
use serde_json::Value;
use tollbooth_server::cli::create_org;

use crate::app_test;
use crate::helpers::PASSWORD;

app_test! {
    async fn me_answers_for_a_valid_key(app) {
        let out = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", None).await.unwrap();
        let (status, body) = app.get_me(Some(&format!("Bearer {}", out.api_key))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["org_id"], Value::from(out.org_id));
        assert_eq!(body["org_name"], "Acme");
        assert_eq!(body["key_name"], "default");
    }

    async fn missing_malformed_unknown_and_revoked_keys_get_401_json(app) {
        let out = create_org(&app.test_db.db, &app.config, "Acme", "owner@example.com", Some(PASSWORD)).await.unwrap();
        let unknown = format!("Bearer tb_live_{}", "0".repeat(48));
        for auth in [None, Some("Basic abc"), Some("Bearer nope"), Some(unknown.as_str())] {
            let (status, body) = app.get_me(auth).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(body["error"]["code"], "unauthorized", "{auth:?}");
            assert!(body["error"]["message"].as_str().unwrap().len() > 10);
        }
        let owner = tollbooth::orgs::authorize(&app.test_db.db, &out.org_id, &owner_id(&app, &out.owner_email).await).await.unwrap();
        tollbooth::api_keys::revoke(&app.test_db.db, &owner, &out.api_key_id, &tollbooth::audit::By::system("test")).await.unwrap();
        let (status, body) = app.get_me(Some(&format!("Bearer {}", out.api_key))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body["error"]["message"].as_str().unwrap().contains("revoked"));
    }

    async fn unknown_api_paths_get_a_json_404(app) {
        let resp = app.client.get(app.url("/api/v1/nope")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }

    async fn health_and_readiness_are_json(app) {
        let h: Value = app.client.get(app.url("/healthz")).send().await.unwrap().json().await.unwrap();
        assert_eq!(h["status"], "ok");
        let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let r: Value = resp.json().await.unwrap();
        assert_eq!(r["status"], "ready");
        assert_eq!(r["database"], app.test_db.db.engine.name());
    }
}

async fn owner_id(app: &crate::helpers::TestApp, email: &str) -> String {
    tollbooth::accounts::login(&app.test_db.db, email, PASSWORD, None).await.unwrap().id
}
