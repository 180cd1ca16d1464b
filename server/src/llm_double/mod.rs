//! A local LLM upstream double: OpenAI's chat completions, Responses,
//! embeddings and model list, and Anthropic's messages and token counts,
//! streamed and not, in the providers' exact wire shapes, so the gateway
//! (and the official Python SDKs) can be tested against it. One double per
//! test (port 0) or per dev run (`tollbooth mock-llm`).
//!
//! Answers are deterministic and their usage is a documented function of
//! the request (see [`plan`]), so a test predicts every count. Switches
//! ([`Switches`]) slow, cut, split or fail answers, per request through
//! `x-mock-…` headers or as defaults.
//!
//! One API key serves both providers: `Authorization: Bearer <key>` on
//! OpenAI routes; `x-api-key: <key>` or `Authorization: Bearer <key>` (what
//! Anthropic's Python SDK 2.x sends) with `anthropic-version` on Anthropic
//! ones. `GET /v1/models` answers in Anthropic's shape when asked with
//! `anthropic-version` or `x-api-key`, in OpenAI's otherwise.

mod anthropic;
mod openai;
pub mod plan;
mod routes;
mod streaming;
mod switches;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use crate::local_server::{self, LocalServer};

pub use plan::{Plan, WORDS};
pub use switches::Switches;

/// How the double is started.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// The key callers must send (Bearer for OpenAI routes, `x-api-key` or
    /// Bearer for Anthropic ones).
    pub api_key: String,
    /// What requests get unless their headers say otherwise.
    pub switches: Switches,
}

/// A request as the double received it (every one, refused ones too).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Null` when there was none or it did not parse).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    api_key: String,
    switches: RwLock<Switches>,
    requests: Mutex<Vec<RecordedRequest>>,
    id_tag: String,
    next_id: AtomicU64,
}

impl Shared {
    fn switches(&self) -> Switches {
        self.switches.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, request: RecordedRequest) {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request);
    }

    /// A fresh id suffix, unique across runs (`a1b2c3d4000001`).
    fn new_suffix(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:06}", self.id_tag)
    }
}

/// One answer being written: its ids, time, plan, request and switches.
pub(crate) struct Answer {
    suffix: String,
    /// Unix seconds.
    pub created: i64,
    pub plan: Plan,
    pub request: Value,
    pub switches: Switches,
}

impl Answer {
    /// An id of this answer with the provider's prefix (`chatcmpl-`,
    /// `resp_`, `msg_01`); one suffix ties them together.
    pub fn id(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.suffix)
    }
}

/// A running double; stops when dropped.
pub struct RunningLlmDouble {
    server: LocalServer,
    shared: Arc<Shared>,
}

/// Starts the double on 127.0.0.1 on a free port.
pub async fn spawn(config: DoubleConfig) -> anyhow::Result<RunningLlmDouble> {
    spawn_on(config, 0).await
}

/// Starts the double on 127.0.0.1:`port` (0 for a free one).
pub async fn spawn_on(config: DoubleConfig, port: u16) -> anyhow::Result<RunningLlmDouble> {
    let listener = LocalServer::bind(port, "the mock LLM").await?;
    let shared = Arc::new(Shared {
        api_key: config.api_key,
        switches: RwLock::new(config.switches),
        requests: Mutex::new(Vec::new()),
        id_tag: local_server::run_tag(),
        next_id: AtomicU64::new(1),
    });
    let app = routes::router(Arc::clone(&shared));
    Ok(RunningLlmDouble { server: LocalServer::serve(listener, app)?, shared })
}

impl RunningLlmDouble {
    /// `http://127.0.0.1:<port>`: the base the Anthropic SDK takes.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `http://127.0.0.1:<port>/v1`: the base the OpenAI SDK takes.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Changes the defaults for later requests (headers still override).
    pub fn set_switches(&self, switches: Switches) {
        *self.shared.switches.write().unwrap_or_else(|e| e.into_inner()) = switches;
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs until `signal` completes (for the CLI).
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        drop(self);
    }
}

/// `tollbooth mock-llm`: runs the double until Ctrl-C.
pub async fn run_cli(config: DoubleConfig, port: u16) -> anyhow::Result<()> {
    let double = spawn_on(config, port).await?;
    println!("mock LLM listening on {} (OpenAI base URL {})", double.base_url(), double.openai_base_url());
    double.run_until(crate::startup::shutdown_signal()).await;
    Ok(())
}
