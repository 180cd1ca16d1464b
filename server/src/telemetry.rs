//! Structured logging with `tracing`, and OpenTelemetry traces over OTLP
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (off otherwise).
//!
//! Traces go out as OTLP/HTTP protobuf (`<endpoint>/v1/traces`, or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given) in batches, from the
//! SDK's own thread; the OpenTelemetry SDK reads its usual variables
//! (`OTEL_SERVICE_NAME`, default `tollbooth`; `OTEL_RESOURCE_ATTRIBUTES`;
//! `OTEL_EXPORTER_OTLP_HEADERS`; `OTEL_BSP_SCHEDULE_DELAY`, …). Each HTTP
//! request is one span (`request`, see [`crate::request_log`]) carrying its
//! `request_id`, the `Tollbooth-Request-Id` of the answer; log lines inside
//! it carry the same id.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// The running exporter, flushed and stopped by [`Telemetry::shutdown`].
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter (on its own
    /// thread: the blocking HTTP client must not run on the async runtime).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = std::thread::spawn(move || {
                if let Err(e) = provider.shutdown() {
                    eprintln!("OpenTelemetry: flushing traces at shutdown failed: {e}");
                }
            })
            .join();
        }
    }
}

/// Whether traces are on: `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces
/// endpoint) is set and not empty, and `OTEL_SDK_DISABLED` is not `true`.
fn otlp_configured() -> bool {
    let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider exporting over OTLP/HTTP, built on a thread of its
/// own (the exporter's blocking client cannot be made on the runtime).
fn otlp_provider() -> Result<SdkTracerProvider, String> {
    std::thread::spawn(|| {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()
            .map_err(|e| e.to_string())?;
        let service = std::env::var("OTEL_SERVICE_NAME").ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "tollbooth".into());
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
    })
    .join()
    .map_err(|_| "building the OTLP exporter panicked".to_string())?
}

/// Installs the global subscriber (once; later calls are ignored, as in
/// tests), with the OTLP layer when configured.
pub fn init(filter: &str, format: LogFormat) -> Telemetry {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_target(true);
    let fmt = match format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let (otel, provider, failed) = if otlp_configured() {
        match otlp_provider() {
            Ok(provider) => {
                let tracer = provider.tracer("tollbooth");
                (Some(tracing_opentelemetry::layer().with_tracer(tracer)), Some(provider), None)
            }
            Err(e) => (None, None, Some(e)),
        }
    } else {
        (None, None, None)
    };
    let installed = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init().is_ok();
    if let Some(e) = failed {
        tracing::error!(error = %e, "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter could not be built: no traces");
    } else if provider.is_some() && installed {
        tracing::info!("OpenTelemetry traces on (OTLP/HTTP)");
    }
    let telemetry = Telemetry { provider };
    if installed {
        telemetry
    } else {
        telemetry.shutdown();
        Telemetry::default()
    }
}
