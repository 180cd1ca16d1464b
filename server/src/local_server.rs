//! What the in-repo doubles (`stripe-double`, `mock-llm`) share: an axum
//! app served on 127.0.0.1 that stops when its handle is dropped, and a tag
//! that makes their ids differ from run to run.

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use tokio::sync::oneshot;

/// An app served in the background; dropping it stops the server.
pub struct LocalServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl LocalServer {
    /// Binds 127.0.0.1:`port` (0 for a free one); `what` names the server in
    /// the error when the port is taken.
    pub async fn bind(port: u16, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await.with_context(|| format!("binding {what} to 127.0.0.1:{port}"))
    }

    /// Serves `app` on `listener` until the handle is dropped.
    pub fn serve(listener: tokio::net::TcpListener, app: Router) -> anyhow::Result<LocalServer> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(LocalServer { addr, stop: Some(stop) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Eight hex digits that differ from run to run (std's per-process random
/// hasher keys; no extra dependency).
pub fn run_tag() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{:08x}", h.finish() as u32)
}
