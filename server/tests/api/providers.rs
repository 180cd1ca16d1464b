//! Provider connections over REST and on the Providers and Connect pages
//! (issue 18): keys are stored encrypted, shown by their last 4 characters
//! only, audited without the key, and scoped to their organization; the
//! server's key comes from TOLLBOOTH_SECRET_KEY or a key file.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::audit::AuditFilter;
use tollbooth::db::Engine;
use tollbooth::providers::{Defaults, Family};
use tollbooth_server::cli::create_org;
use tollbooth_server::Application;

use crate::helpers::{allow_private_upstreams, spawn_app_with, TestApp};
use crate::{app_test, app_test_with};

const OPENAI_KEY: &str = "sk-proj-Org0wnKey-abcdefghijklmnop-9f3Q";
const GROQ_KEY: &str = "gsk_Live0123456789abcdefghijWXYZ";

async fn put(app: &TestApp, auth: &str, name: &str, body: Value) -> (StatusCode, String) {
    let resp = app.client.put(app.url(&format!("/api/v1/providers/{name}"))).header("Authorization", auth).json(&body).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn list(app: &TestApp, auth: &str) -> (StatusCode, String) {
    let resp = app.client.get(app.url("/api/v1/providers")).header("Authorization", auth).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn delete(app: &TestApp, auth: &str, name: &str) -> StatusCode {
    app.client.delete(app.url(&format!("/api/v1/providers/{name}"))).header("Authorization", auth).send().await.unwrap().status()
}

async fn org_key(app: &TestApp, name: &str, email: &str) -> (String, String) {
    let org = create_org(&app.test_db.db, &app.config, name, email, None).await.unwrap();
    (org.org_id, format!("Bearer {}", org.api_key))
}

async fn audit(app: &TestApp, org: &str, action: &str) -> Vec<tollbooth::audit::AuditEntryView> {
    let f = AuditFilter { action: action.into(), ..Default::default() };
    tollbooth::audit::list(&app.test_db.db, Some(org), &f, "UTC", 50).await.unwrap()
}

/// Every stored provider column, as text.
async fn stored(app: &TestApp) -> String {
    let rows: Vec<(String, String, String, Option<String>, String)> =
        sqlx::query_as("SELECT name, kind, api_key_ciphertext, base_url, key_last4 FROM provider_connections")
            .fetch_all(app.test_db.db.reader())
            .await
            .unwrap();
    format!("{rows:?}")
}

app_test! {
    async fn a_manage_key_creates_lists_replaces_and_deletes_connections_and_never_sees_a_key_again(app) {
        let (org, auth) = org_key(&app, "Acme", "owner@example.com").await;
        let (status, body) = put(&app, &auth, "openai", json!({"kind": "openai", "api_key": OPENAI_KEY})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        let mut fields: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort();
        assert_eq!(fields, ["base_url", "key_last4", "kind", "name", "updated_at"]);
        assert_eq!((created["name"].as_str(), created["kind"].as_str(), created["key_last4"].as_str()), (Some("openai"), Some("openai"), Some("9f3Q")));
        assert!(created["base_url"].is_null(), "the server's default base URL");
        assert!(!body.contains(OPENAI_KEY));

        // 203.0.113.0/24 is a public (documentation) range: no DNS needed.
        let (status, body) = put(&app, &auth, "groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.7/openai/v1", "api_key": GROQ_KEY})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let (status, body) = list(&app, &auth).await;
        assert_eq!(status, StatusCode::OK);
        let listed: Value = serde_json::from_str(&body).unwrap();
        let names: Vec<_> = listed["providers"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["groq", "openai"]);
        assert_eq!(listed["providers"][0]["key_last4"], "WXYZ");
        assert_eq!(listed["providers"][0]["base_url"], "https://203.0.113.7/openai/v1");
        assert!(!body.contains(OPENAI_KEY) && !body.contains(GROQ_KEY), "no answer carries a key");

        // Replacing: 200; without a key the stored one stays.
        let (status, body) = put(&app, &auth, "groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.8/v1"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["key_last4"], "WXYZ");
        let (status, body) = put(&app, &auth, "groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.8/v1", "api_key": "gsk_second_key_of_groq_0042"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["key_last4"], "0042");
        // The gateway's view: the new key, decrypted.
        let up = tollbooth::providers::resolve(&app.test_db.db, &app_secrets(&app), &Defaults::without_keys(), &org, Family::OpenAi, "groq/llama-3.1-8b-instant").await.unwrap().unwrap();
        assert_eq!((up.api_key.expose(), up.base_url.as_str(), up.model.as_str()), ("gsk_second_key_of_groq_0042", "https://203.0.113.8/v1", "llama-3.1-8b-instant"));

        let rows = stored(&app).await;
        for key in [OPENAI_KEY, GROQ_KEY, "gsk_second_key_of_groq_0042"] {
            assert!(!rows.contains(key), "the stored row does not contain the key");
        }

        assert_eq!(delete(&app, &auth, "groq").await, StatusCode::NO_CONTENT);
        assert_eq!(delete(&app, &auth, "groq").await, StatusCode::NOT_FOUND);
        let (_, body) = list(&app, &auth).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["providers"].as_array().unwrap().len(), 1);

        let upserts = audit(&app, &org, "provider.upsert").await;
        assert_eq!(upserts.len(), 4);
        assert!(upserts.iter().all(|e| e.actor_kind == "api_key" && e.ip.as_deref() == Some("127.0.0.1")));
        let deletes = audit(&app, &org, "provider.delete").await;
        assert_eq!(deletes.len(), 1);
        assert_eq!(deletes[0].target.as_deref(), Some("groq"));
        let log = format!("{upserts:?}{deletes:?}");
        assert!(log.contains("9f3Q") && log.contains("openai_compatible"), "kind and last 4 are logged");
        for key in [OPENAI_KEY, GROQ_KEY, "gsk_second_key_of_groq_0042"] {
            assert!(!log.contains(key), "the audit log never has the key");
        }
    }

    async fn invalid_connections_are_422_naming_the_field_and_never_echo_the_key(app) {
        let (org, auth) = org_key(&app, "Acme", "owner@example.com").await;
        let cases = [
            ("Groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.7/v1", "api_key": GROQ_KEY}), "name"),
            ("groq", json!({"base_url": "https://203.0.113.7/v1", "api_key": GROQ_KEY}), "kind"),
            ("groq", json!({"kind": "bedrock", "base_url": "https://203.0.113.7/v1", "api_key": GROQ_KEY}), "kind"),
            ("groq", json!({"kind": "openai", "api_key": GROQ_KEY}), "kind"),
            ("groq", json!({"kind": "openai_compatible", "api_key": GROQ_KEY}), "base_url"),
            ("groq", json!({"kind": "openai_compatible", "base_url": "not a url", "api_key": GROQ_KEY}), "base_url"),
            ("groq", json!({"kind": "openai_compatible", "base_url": "http://127.0.0.1:8000/v1", "api_key": GROQ_KEY}), "base_url"),
            ("openai", json!({"kind": "openai", "base_url": "http://169.254.169.254/latest", "api_key": GROQ_KEY}), "base_url"),
            ("groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.7/v1"}), "api_key"),
            ("groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.7/v1", "api_key": "two words"}), "api_key"),
        ];
        for (name, body, field) in cases {
            let (status, text) = put(&app, &auth, name, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name} {body}: {text}");
            let err: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(err["error"]["field"], field, "{name} {body}: {text}");
            assert!(!text.contains(GROQ_KEY), "{text}");
        }
        let (status, text) = put(&app, &auth, "groq", json!({"kind": "openai_compatible", "base_url": "http://127.0.0.1:8000/v1", "api_key": GROQ_KEY})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text.contains("TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE"), "{text}");
        let resp = app.client.put(app.url("/api/v1/providers/groq")).header("Authorization", &auth).header("Content-Type", "application/json").body("{").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let (_, text) = list(&app, &auth).await;
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["providers"], json!([]));
        assert!(audit(&app, &org, "provider.").await.is_empty(), "nothing was changed");
    }

    async fn another_organizations_key_cannot_see_or_change_its_connections(app) {
        let (org_a, key_a) = org_key(&app, "A", "a@example.com").await;
        let (_, key_b) = org_key(&app, "B", "b@example.com").await;
        let (status, _) = put(&app, &key_a, "groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.7/v1", "api_key": GROQ_KEY})).await;
        assert_eq!(status, StatusCode::CREATED);

        let (_, body) = list(&app, &key_b).await;
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["providers"], json!([]), "B sees none of A's");
        assert_eq!(delete(&app, &key_b, "groq").await, StatusCode::NOT_FOUND);
        // A PUT by B makes B's own connection of that name; A's is untouched.
        let (status, _) = put(&app, &key_b, "groq", json!({"kind": "openai_compatible", "base_url": "https://203.0.113.99/v1", "api_key": "gsk_b_owns_this_one_7777"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, body) = list(&app, &key_a).await;
        let a: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((a["providers"][0]["base_url"].as_str(), a["providers"][0]["key_last4"].as_str()), (Some("https://203.0.113.7/v1"), Some("WXYZ")));
        let up = tollbooth::providers::resolve(&app.test_db.db, &app_secrets(&app), &Defaults::without_keys(), &org_a, Family::OpenAi, "groq/m").await.unwrap().unwrap();
        assert_eq!(up.api_key.expose(), GROQ_KEY);
    }

    async fn owners_and_admins_manage_connections_on_the_providers_page_and_members_only_look(app) {
        let owner = app.fresh_client();
        let org = app.signup(&owner, "owner@example.com", "Acme").await;
        let resp = app.server_fn(&owner, "save_provider", &[("org_id", &org), ("name", "openai"), ("kind", "openai"), ("base_url", ""), ("api_key", OPENAI_KEY)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let text = resp.text().await.unwrap();
        assert!(!text.contains(OPENAI_KEY));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["key_last4"], "9f3Q");
        let resp = app.server_fn(&owner, "save_provider", &[("org_id", &org), ("name", "groq"), ("kind", "openai_compatible"), ("base_url", ""), ("api_key", GROQ_KEY)]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("base_url"), "the error names the field");

        // A member sees the list, cannot change it.
        let mut tx = app.test_db.db.begin().await.unwrap();
        tollbooth::plans::assign_plan(&mut tx, &org, "team").await.unwrap();
        tx.commit().await.unwrap();
        let invite: Value = app.server_fn(&owner, "invite_member", &[("org_id", &org), ("email", "m@example.com"), ("role", "member")]).await.json().await.unwrap();
        let token = invite["link"].as_str().and_then(|l| l.rsplit('/').next()).unwrap().to_string();
        let member = app.fresh_client();
        app.signup(&member, "m@example.com", "Elsewhere").await;
        assert_eq!(app.server_fn(&member, "accept_invite", &[("token", &token)]).await.status(), StatusCode::OK);
        let resp = app.server_fn(&member, "list_providers", &[("org_id", &org)]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let overview: Value = resp.json().await.unwrap();
        assert_eq!(overview["connections"][0]["name"], "openai");
        assert_eq!(overview["defaults"], json!({"openai": false, "anthropic": false}));
        assert_eq!(overview["can_store_keys"], true);
        let resp = app.server_fn(&member, "save_provider", &[("org_id", &org), ("name", "openai"), ("kind", "openai"), ("api_key", "sk-member-tries-this-1234")]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.server_fn(&member, "delete_provider", &[("org_id", &org), ("name", "openai")]).await.status(), StatusCode::FORBIDDEN);

        // The pages render on the server with the masked key, never the key.
        let html = owner.get(app.url(&format!("/o/{org}/providers"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("••••9f3Q"), "the key is shown masked");
        assert!(!html.contains(OPENAI_KEY));
        assert!(html.contains("Save connection"), "owners get the form");
        let html = member.get(app.url(&format!("/o/{org}/providers"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("••••9f3Q") && !html.contains("Save connection"), "members only look");
        let html = member.get(app.url(&format!("/o/{org}/connect"))).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(&format!("{}/v1", app.origin())), "the OpenAI base URL");
        for needle in ["tb_live_…", "Tollbooth-User", "Tollbooth-Project", "Tollbooth-Feature", "Tollbooth-Session", "metadata", "ingest"] {
            assert!(html.contains(needle), "the connect page shows {needle}");
        }

        assert_eq!(app.server_fn(&owner, "delete_provider", &[("org_id", &org), ("name", "openai")]).await.status(), StatusCode::OK);
        let log = audit(&app, &org, "provider.").await;
        assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["provider.delete", "provider.upsert"]);
        assert!(log.iter().all(|e| e.actor_label == "owner@example.com"));
    }
}

app_test_with! {
    allow_private_upstreams;

    async fn with_private_upstreams_allowed_a_connection_may_point_at_127_0_0_1(app) {
        let (_, auth) = org_key(&app, "Acme", "owner@example.com").await;
        let (status, body) = put(&app, &auth, "vllm", json!({"kind": "openai_compatible", "base_url": "http://127.0.0.1:8000/v1", "api_key": "token-abc123456789"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// The running server's key box, rebuilt from the test configuration.
fn app_secrets(app: &TestApp) -> tollbooth::providers::SecretBox {
    tollbooth::providers::SecretBox::parse(app.config.encryption_key.as_ref().unwrap().expose()).unwrap()
}

fn without_secret_key(c: &mut tollbooth_server::Config) {
    c.encryption_key = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_without_a_secret_key_a_0600_key_file_is_made_beside_the_database_and_kept() {
    let app = spawn_app_with(Engine::Sqlite, without_secret_key).await.unwrap();
    let db_file = app.test_db.url.trim_start_matches("sqlite://").to_string();
    let key_file = std::path::Path::new(&db_file).parent().unwrap().join("tollbooth.secret");
    assert!(key_file.exists(), "{}", key_file.display());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (org, auth) = org_key(&app, "Acme", "owner@example.com").await;
    let (status, _) = put(&app, &auth, "openai", json!({"kind": "openai", "api_key": OPENAI_KEY})).await;
    assert_eq!(status, StatusCode::CREATED);

    // The next start reads the same file and the stored key still decrypts.
    let again = Application::build(app.config.clone()).await.expect("a second start with the key file");
    let secrets = tollbooth::providers::SecretBox::parse(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let up = tollbooth::providers::resolve(again.db(), &secrets, &Defaults::without_keys(), &org, Family::OpenAi, "gpt-4o").await.unwrap().unwrap();
    assert_eq!(up.api_key.expose(), OPENAI_KEY);
    drop(again);

    // A server with another key refuses to start rather than fail every call.
    let mut other = app.config.clone();
    other.encryption_key = Some("00".repeat(32).parse().unwrap());
    let err = format!("{:#}", Application::build(other).await.err().expect("refused"));
    assert!(err.contains("TOLLBOOTH_SECRET_KEY") && err.contains("do not decrypt"), "{err}");
    // A malformed key is named, not shown.
    let mut bad = app.config.clone();
    bad.encryption_key = Some("not-a-real-key".parse().unwrap());
    let err = format!("{:#}", Application::build(bad).await.err().expect("refused"));
    assert!(err.contains("TOLLBOOTH_SECRET_KEY") && err.contains("32 bytes") && !err.contains("not-a-real-key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_without_a_secret_key_connections_cannot_be_saved_and_stored_ones_stop_the_start() {
    let Some(app) = spawn_app_with(Engine::Postgres, without_secret_key).await else { return };
    let (org, auth) = org_key(&app, "Acme", "owner@example.com").await;
    let (status, body) = put(&app, &auth, "openai", json!({"kind": "openai", "api_key": OPENAI_KEY})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["error"]["field"], "api_key");
    assert!(err["error"]["message"].as_str().unwrap().contains("TOLLBOOTH_SECRET_KEY"), "{body}");

    // Once a keyed server stored a connection, a keyless start is refused.
    let keyed = tollbooth::providers::ProviderSettings {
        secrets: tollbooth::providers::SecretBox::random(),
        defaults: Defaults::without_keys(),
        egress: tollbooth::egress::EgressPolicy::public_only(),
    };
    let input = tollbooth::providers::ConnectionInput { kind: "openai", base_url: None, api_key: Some(OPENAI_KEY) };
    tollbooth::providers::upsert(&app.test_db.db, &keyed, &org, "openai", &input, &tollbooth::audit::By::system("test")).await.unwrap();
    let err = format!("{:#}", Application::build(app.config.clone()).await.err().expect("refused"));
    assert!(err.contains("TOLLBOOTH_SECRET_KEY") && err.contains("stored"), "{err}");
}
