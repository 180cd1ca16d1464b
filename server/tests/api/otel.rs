//! OpenTelemetry traces: the server binary, started with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small OTLP/HTTP receiver run
//! by this test, sends its request spans there (protobuf, decoded here),
//! under the service name `tollbooth`, each with the request's id; the same
//! id is in the answer's `Tollbooth-Request-Id` and in the log lines.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

fn text_of(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        Any::StringValue(s) => Some(s.clone()),
        _ => None,
    })
}

/// (service name, span name, request_id) of every span received.
fn spans_of(bodies: &[Bytes]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for body in bodies {
        let req = ExportTraceServiceRequest::decode(body.as_ref()).expect("an OTLP protobuf export request");
        for rs in req.resource_spans {
            let service = rs.resource.as_ref().and_then(|r| text_of(&r.attributes, "service.name")).unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    let id = text_of(&span.attributes, "request_id").unwrap_or_default();
                    out.push((service.clone(), span.name.clone(), id));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_go_to_the_otlp_endpoint_with_the_request_id() {
    // The receiver: POST /v1/traces, bodies kept.
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let store = received.clone();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(body);
                ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tollbooth"))
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}/otel.db", dir.path().display()))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("TOLLBOOTH_SEED", "false")
        .env("TOLLBOOTH_SEED_DEMO_USAGE", "false")
        .env("RUST_LOG", "warn,tollbooth_server::request_log=info,tower_http=info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Kill(child);

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        assert!(Instant::now() < deadline, "the server did not answer /healthz");
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break r.headers()["tollbooth-request-id"].to_str().unwrap().to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans = spans_of(&received.lock().unwrap());
        if spans.iter().any(|(_, _, rid)| *rid == id) || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ours = spans.iter().find(|(_, _, rid)| *rid == id);
    assert!(ours.is_some(), "no span with request_id {id} among {spans:?}");
    let (service, name, _) = ours.unwrap();
    assert_eq!((service.as_str(), name.as_str()), ("tollbooth", "GET"));

    // The log line of the same request names its id.
    let _ = server.0.kill();
    let _ = server.0.wait();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.lines().any(|l| l.contains(&id) && l.contains("/healthz")), "no log line with request id {id}:\n{logs}");
}
