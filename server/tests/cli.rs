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
