use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::Value;
use tollbooth::db::Engine;
use tollbooth::testing::TestDb;
use tollbooth_server::config::{Config, LogFormat};
use tollbooth_server::Application;

pub const PASSWORD: &str = "correct-horse-battery";

/// `TOLLBOOTH_SECRET_KEY` of the test servers (32 bytes, hex).
pub const TEST_SECRET_KEY: &str = "7f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00";

/// A running server with its own database and a cookie-keeping client.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub test_db: TestDb,
    pub config: Config,
    /// The running server's own handle on the database (its in-process
    /// state: caches, rate limiters, counted refusals).
    pub server_db: tollbooth::db::Db,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn config_for(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_string(),
        site_addr: "127.0.0.1:0".parse().unwrap(),
        site_root: std::env::temp_dir().display().to_string(),
        public_url: None,
        log_filter: "warn".into(),
        log_format: LogFormat::Text,
        admin_email: "admin@tollbooth.local".into(),
        admin_password: None,
        demo_password: None,
        seed: false,
        seed_demo_usage: false,
        smtp_url: None,
        smtp_from: "Tollbooth <alerts@tollbooth.local>".into(),
        stripe_secret_key: None,
        stripe_webhook_secret: None,
        stripe_api_base: "https://api.stripe.com".into(),
        stripe_plan_prices: String::new(),
        stripe_credit_pack_prices: String::new(),
        credit_floor_usd: "0".into(),
        billing_grace_days: 7,
        trusted_proxies: String::new(),
        signups_per_ip_per_hour: tollbooth::accounts::throttle::SIGNUPS_PER_IP_PER_HOUR,
        webhook_allow_private: false,
        usage_webhook_seconds: 1,
        openai_base_url: tollbooth::providers::OPENAI_BASE_URL.into(),
        openai_api_key: None,
        anthropic_base_url: tollbooth::providers::ANTHROPIC_BASE_URL.into(),
        anthropic_api_key: None,
        // A fixed key, so that provider connections can be saved on
        // PostgreSQL too (without it SQLite would make a key file).
        encryption_key: Some(TEST_SECRET_KEY.parse().unwrap()),
        upstream_allow_private: false,
        gateway_timeout_secs: 600,
        metrics_addr: None,
        metrics_token: None,
        prices_url: None,
        prices_refresh_hours: 24,
        prices_allow_http_loopback: false,
    }
}

/// Starts the app on `engine`; `None` when PostgreSQL tests are skipped.
pub async fn spawn_app(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |_| {}).await
}

/// Starts the app on `engine` with the configuration changed by `change`.
pub async fn spawn_app_with(engine: Engine, change: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let test_db = TestDb::new(engine).await?;
    let mut config = config_for(&test_db.url);
    change(&mut config);
    let app = Application::build(config.clone()).await.expect("build app");
    let addr = app.local_addr();
    let server_db = app.db().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Some(TestApp { addr, client, test_db, config, server_db, stop: Some(tx), server: Some(server) })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Stops the server as a SIGTERM would and waits until it has stopped
    /// (requests drained, database closed).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task").expect("the server stops cleanly");
        }
    }

    /// A JSON call with a bearer token: the status and the JSON body
    /// (`null` when there is none).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// This server's origin, which browsers send with every form post and
    /// server-function call (cross-site writes are refused without it).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new client without cookies.
    pub fn fresh_client(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// Sends only the head of a POST to `path` announcing `len` bytes and
    /// returns the status and JSON body: the server must refuse on the length
    /// alone. (Streaming the bytes at a server that answers early and closes
    /// races the client's write against the reset.)
    pub async fn oversized_post(&self, path: &str, authorization: &str, len: usize) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut raw = vec![];
        tcp.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw);
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    pub async fn get_me(&self, auth: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url("/api/v1/me"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Calls a server function with a form body, as a browser form would.
    pub async fn server_fn(&self, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{name}")))
            .header("Accept", "application/json")
            .header("Origin", self.origin())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Calls a JSON-encoded server function (`input = Json`) with `body`.
    pub async fn server_fn_json(&self, client: &reqwest::Client, name: &str, body: &Value) -> reqwest::Response {
        client
            .post(self.url(&format!("/api/{name}")))
            .header("Accept", "application/json")
            .header("Origin", self.origin())
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn signup(&self, client: &reqwest::Client, email: &str, org: &str) -> String {
        let resp = self.server_fn(client, "signup", &[("email", email), ("password", PASSWORD), ("org_name", org)]).await;
        assert_eq!(resp.status(), StatusCode::OK, "signup: {}", resp.text().await.unwrap());
        let to: String = resp.json().await.unwrap();
        to.trim_start_matches("/o/").to_string()
    }

    pub async fn whoami(&self, client: &reqwest::Client) -> Value {
        let resp = self.server_fn(client, "whoami", &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }
}

/// Defines each test on both engines, with `$app: TestApp`.
#[macro_export]
macro_rules! app_test {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app(tollbooth::db::Engine::Sqlite).await.unwrap();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) = $crate::helpers::spawn_app(tollbooth::db::Engine::Postgres).await else { return };
                $body
            }
        }
    )*};
}

/// Lets webhooks reach 127.0.0.1, for tests whose receivers listen there
/// (`TOLLBOOTH_WEBHOOK_ALLOW_PRIVATE=true`).
pub fn allow_private_webhooks(c: &mut Config) {
    c.webhook_allow_private = true;
}

/// Lets provider connections point at 127.0.0.1, for tests whose upstream
/// double listens there (`TOLLBOOTH_UPSTREAM_ALLOW_PRIVATE=true`).
pub fn allow_private_upstreams(c: &mut Config) {
    c.upstream_allow_private = true;
}

/// [`app_test!`] with the configuration changed by `$change` (a `fn(&mut Config)`).
#[macro_export]
macro_rules! app_test_with {
    ($change:path; $(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app_with(tollbooth::db::Engine::Sqlite, $change).await.unwrap();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) = $crate::helpers::spawn_app_with(tollbooth::db::Engine::Postgres, $change).await else { return };
                $body
            }
        }
    )*};
}

/// The server binary started as its own process on a free port.
pub struct Server {
    child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(database_url: &str) -> Server {
        Server::start_with(database_url, &[])
    }

    /// [`Server::start`] with more environment variables.
    pub fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_tollbooth"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", std::env::temp_dir())
            .env("TOLLBOOTH_SEED", "false")
            .env("TOLLBOOTH_SEED_DEMO_USAGE", "false")
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the second server process");
        Server { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Kills the process with SIGKILL (no shutdown, no flush) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the second server process did not become ready");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
