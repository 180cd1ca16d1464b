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
    let cli = tollbooth_server::cli::Cli::parse_from(["tollbooth", "--database-url", url, "--site-addr", "127.0.0.1:0", "--log", "warn", "--seed-demo-usage", "false"]);
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

/// Serves `maps` (path → JSON text) on 127.0.0.1 over plain http; the base URL.
async fn serve_maps(maps: Vec<(&'static str, String)>) -> String {
    let mut router = axum::Router::new();
    for (path, body) in maps {
        router = router.route(path, axum::routing::get(move || async move { ([("content-type", "application/json")], body) }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn price_map(input_cost: &str) -> String {
    format!(r#"{{"acme-chat": {{"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": {input_cost}, "output_cost_per_token": 2e-06}}}}"#)
}

async fn import_from_url_records_where_and_when_on(test_db: tollbooth::testing::TestDb) {
    let base = serve_maps(vec![("/v1.json", price_map("1e-06")), ("/v2.json", price_map("3e-06")), ("/bad.json", "{\"m\": {\"litellm_provider\": \"p\", \"input_cost_per_token\": -1}}".into())]).await;
    let run = |args: Vec<String>, allow: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollbooth"));
        cmd.arg("prices").arg("import").args(args).env("DATABASE_URL", &test_db.url).env("RUST_LOG", "error");
        if allow {
            cmd.env("TOLLBOOTH_PRICES_ALLOW_HTTP_LOOPBACK", "true");
        }
        cmd.output().unwrap()
    };
    // Plain http is refused unless the operator allows it for loopback.
    let refused = run(vec![format!("{base}/v1.json")], false);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("https://"), "{}", String::from_utf8_lossy(&refused.stderr));

    let out = run(vec![format!("{base}/v1.json")], true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 added, 0 changed, 0 unchanged"), "{}", String::from_utf8_lossy(&out.stdout));

    // A changed price, effective from a later time: a new row, the old one kept.
    let out = run(vec![format!("{base}/v2.json"), "--effective-from".into(), "2031-01-01T00:00:00Z".into()], true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added, 1 changed"), "{}", String::from_utf8_lossy(&out.stdout));
    let db = &test_db.db;
    let history = tollbooth::pricing::store::history(&mut *db.reader().acquire().await.unwrap(), "acme-chat").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].effective_from, 1_924_992_000_000);
    assert_eq!(history[1].price.input.unwrap().to_string(), "0.000003");

    // A download that fails or a map that does not parse changes nothing.
    for path in ["/missing.json", "/bad.json"] {
        let out = run(vec![format!("{base}{path}")], true);
        assert!(!out.status.success(), "{path}");
    }
    let imports = tollbooth::pricing::imports::recent(db, 10).await.unwrap();
    assert_eq!(imports.len(), 2, "{imports:?}");
    assert_eq!(imports[0].source, format!("{base}/v2.json"));
    assert_eq!((imports[0].changed, imports[0].effective_from_ms), (1, 1_924_992_000_000));
    assert_eq!(imports[1].source, format!("{base}/v1.json"));
    assert_eq!(imports[1].trigger, tollbooth::pricing::imports::Trigger::Cli);

    let f = tollbooth::audit::AuditFilter { action: "prices.import".into(), ..Default::default() };
    let log = tollbooth::audit::list(db, None, &f, "UTC", 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].actor_label, "cli");
    let details = serde_json::to_string(&log[0]).unwrap();
    assert!(details.contains("acme-chat") && details.contains("v2.json"), "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_import_reads_an_url_records_the_import_and_audits_it_sqlite() {
    import_from_url_records_where_and_when_on(tollbooth::testing::TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_import_reads_an_url_records_the_import_and_audits_it_postgres() {
    let Some(db) = tollbooth::testing::TestDb::postgres().await else { return };
    import_from_url_records_where_and_when_on(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prices_url_that_is_not_https_stops_the_start() {
    let test_db = tollbooth::testing::TestDb::sqlite().await;
    for url in ["http://prices.example.com/map.json", "prices.json"] {
        let err = tollbooth_server::Application::build(tollbooth_server::config::Config { prices_url: Some(url.into()), seed: false, ..config(&test_db.url) })
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} is refused"));
        assert!(format!("{err:#}").contains("TOLLBOOTH_PRICES_URL"), "{err:#}");
    }
}
