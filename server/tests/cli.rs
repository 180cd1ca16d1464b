//! The binary's `create-org --json` prints a key that works against the server.

use std::process::Command;

use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_org_json_prints_a_working_api_key() {
    let test_db = tollbooth::testing::TestDb::sqlite().await;
    let out = Command::new(env!("CARGO_BIN_EXE_tollbooth"))
        .args(["create-org", "--name", "Scripted", "--owner-email", "ops@example.com", "--json"])
        .env("DATABASE_URL", &test_db.url)
        .env("RUST_LOG", "error")
        .output()
        .expect("run tollbooth");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(created["org_name"], "Scripted");
    assert_eq!(created["owner_email"], "ops@example.com");
    assert!(created["owner_password"].as_str().is_some_and(|p| p.len() >= 8));
    let key = created["api_key"].as_str().unwrap();

    let app = tollbooth_server::Application::build(tollbooth_server::config::Config {
        seed: false,
        smtp_url: None,
        smtp_from: "Tollbooth <alerts@tollbooth.local>".into(),
        stripe_secret_key: None,
        stripe_webhook_secret: None,
        stripe_api_base: "https://api.stripe.com".into(),
        stripe_plan_prices: String::new(),
        stripe_credit_pack_prices: String::new(),
        credit_floor_usd: "0".into(),
        billing_grace_days: 7,
        ..config(&test_db.url)
    })
    .await
    .unwrap();
    let addr = app.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["org_id"], created["org_id"]);
    let _ = tx.send(());
    server.await.unwrap().unwrap();

    let bad = Command::new(env!("CARGO_BIN_EXE_tollbooth"))
        .args(["create-org", "--name", " ", "--owner-email", "ops@example.com", "--json"])
        .env("DATABASE_URL", &test_db.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("organization name"));
}

fn config(url: &str) -> tollbooth_server::config::Config {
    use clap::Parser;
    let cli = tollbooth_server::cli::Cli::parse_from(["tollbooth", "--database-url", url, "--site-addr", "127.0.0.1:0", "--log", "warn"]);
    cli.config
}

#[test]
fn prices_import_reads_the_shipped_catalog_and_a_second_import_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("tollbooth-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/prices.db", dir.display());
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/pricing/litellm_model_prices.json");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_tollbooth"))
            .args(["prices", "import", catalog])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert!(first.contains("added, 0 changed, 0 unchanged"), "{first}");
    let second = run();
    assert!(second.contains(" 0 added, 0 changed,"), "{second}");
    let bad = Command::new(env!("CARGO_BIN_EXE_tollbooth"))
        .args(["prices", "import", "/nonexistent.json"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("reading /nonexistent.json"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_reports_an_intact_chain_then_the_first_tampered_entry() {
    use tollbooth::audit::{Actor, NewEntry};
    let test_db = tollbooth::testing::TestDb::sqlite().await;
    let db = &test_db.db;
    for action in ["auth.login", "api_key.create", "auth.logout"] {
        tollbooth::audit::record(db, &NewEntry::new(None, Actor::system("test"), action, None)).await.unwrap();
    }
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_tollbooth"))
            .args(["audit", "verify"])
            .env("DATABASE_URL", &test_db.url)
            .env("RUST_LOG", "error")
            .output()
            .expect("run tollbooth")
    };
    let ok = run();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&ok.stderr));
    assert!(stdout.contains("3 entries checked") && stdout.contains("chain intact"), "{stdout}");

    sqlx::query("DROP TRIGGER audit_log_no_update").execute(db.writer()).await.unwrap();
    sqlx::query("UPDATE audit_log SET action = 'auth.nothing' WHERE seq = 2").execute(db.writer()).await.unwrap();
    let bad = run();
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("chain broken at entry 2:"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_token_prints_a_token_for_admins_only() {
    let test_db = tollbooth::testing::TestDb::sqlite().await;
    tollbooth::accounts::create_admin(&test_db.db, "root@example.com", Some("correct horse battery")).await.unwrap();
    let run = |email: &str| {
        Command::new(env!("CARGO_BIN_EXE_tollbooth"))
            .args(["create-admin-token", "--email", email, "--name", "ci"])
            .env("DATABASE_URL", &test_db.url)
            .env("RUST_LOG", "error")
            .output()
            .expect("run tollbooth")
    };
    let ok = run("root@example.com");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let token = String::from_utf8_lossy(&ok.stdout).trim().to_string();
    assert!(tollbooth::admin::authenticate_token(&test_db.db, &token).await.is_ok());
    assert!(!run("nobody@example.com").status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_json_prints_a_key_with_the_scopes_asked_for() {
    let test_db = tollbooth::testing::TestDb::sqlite().await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tollbooth")).args(args).env("DATABASE_URL", &test_db.url).env("RUST_LOG", "error").output().unwrap()
    };
    let org = run(&["create-org", "--name", "Scoped", "--owner-email", "ops@example.com", "--json"]);
    let org: Value = serde_json::from_slice(&org.stdout).unwrap();
    let org_id = org["org_id"].as_str().unwrap();
    let out = run(&["create-key", "--org", org_id, "--name", "client app", "--scopes", "ingest,read", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["scopes"], serde_json::json!(["ingest", "read"]));
    let principal = tollbooth::api_keys::authenticate(&test_db.db, created["api_key"].as_str().unwrap()).await.unwrap();
    assert_eq!(principal.org_id, org_id);
    assert_eq!(principal.key_id, created["api_key_id"].as_str().unwrap());
    assert!(principal.require(tollbooth::api_keys::Scope::Manage).is_err());

    let bad = run(&["create-key", "--org", org_id, "--name", "x", "--scopes", "admin"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("scopes"), "{}", String::from_utf8_lossy(&bad.stderr));
}
