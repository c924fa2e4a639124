//! Traces of both servers (README.md, "Observability"): OpenTelemetry spans, exported over
//! OTLP (HTTP, protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and W3C `traceparent` propagation.
//!
//! - [`layer`] is the `tracing` layer that turns the process's spans into OpenTelemetry
//!   spans; [`crate::init_logging`] adds it to the log subscriber. Without an endpoint it is
//!   `None`: no exporter, no OpenTelemetry layer, and the spans only tracing needs (compile,
//!   plan, execute, storage calls, at DEBUG) stay disabled by the log filter, so their
//!   callsites cost one relaxed load.
//! - Which spans: this project's crates at DEBUG and above (the request span of
//!   [`crate::with_request_logging`], `compile`, `plan`, `execute`, `storage`,
//!   `registry_push`), never the libraries' (Lance instruments every table operation).
//! - The exporter is opentelemetry-otlp's HTTP/protobuf one (no gRPC stack); its requests
//!   go through the process's own `reqwest` client ([`RuntimeHttpClient`]), run on the
//!   server's Tokio runtime, so the OTLP crates add no HTTP stack and no TLS choice of
//!   their own. Batching follows the SDK's `OTEL_BSP_*` variables; `OTEL_SERVICE_NAME` (or
//!   `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) overrides the service name each program
//!   passes; `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TIMEOUT` are the
//!   exporter's.
//! - Propagation is W3C trace context only: [`set_remote_parent`] continues the trace of a
//!   request's `traceparent`, [`inject_current`] writes the current span's into the headers
//!   of a request the process sends (the control plane's registry pushes), and
//!   [`TraceContext`] carries a span's identity to a task that runs later (a push follows
//!   the registry generation the management request published).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The standard variables that turn the exporter on.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const OTLP_TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The standard variable naming the service (overrides the program's own name).
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// The crates whose spans are exported (at DEBUG and above); every other crate's only
/// as events of WARN and above inside them.
const TRACED_CRATES: [&str; 8] = [
    "omnigraph_http",
    "omnigraph_engine",
    "omnigraph_storage",
    "omnigraph_data_plane",
    "omnigraph_control_plane",
    "omnigraph_config",
    "omnigraph_policy",
    "omnigraph_lang",
];

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether spans are exported (an OTLP endpoint was set when the process started).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

fn set_and_not_blank(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// Whether the environment asks for an exporter: an endpoint is set and the SDK is not
/// turned off (`OTEL_SDK_DISABLED=true`).
fn requested() -> bool {
    let disabled =
        std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled
        && (set_and_not_blank(OTLP_ENDPOINT_ENV) || set_and_not_blank(OTLP_TRACES_ENDPOINT_ENV))
}

/// The OpenTelemetry layer of the subscriber, when the environment asks for an exporter and
/// the process runs on a Tokio runtime (the exporter's requests run on it); `None`
/// otherwise. An exporter that cannot be built is reported on stderr and leaves tracing off.
pub(crate) fn layer<S>(service_name: &'static str) -> Option<Box<dyn Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if !requested() || PROVIDER.get().is_some() {
        return None;
    }
    let runtime = match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle,
        Err(_) => {
            eprintln!("OpenTelemetry: no Tokio runtime to export on; traces are off");
            return None;
        }
    };
    let provider = match provider(service_name, runtime) {
        Ok(provider) => provider,
        Err(e) => {
            eprintln!("OpenTelemetry: cannot build the OTLP exporter ({e}); traces are off");
            return None;
        }
    };
    let tracer = provider.tracer(service_name);
    if PROVIDER.set(provider).is_err() {
        return None;
    }
    let filter = TRACED_CRATES
        .iter()
        .fold(Targets::new().with_default(LevelFilter::WARN), |t, c| {
            t.with_target(*c, LevelFilter::DEBUG)
        });
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .with_filter(filter)
            .boxed(),
    )
}

fn provider(
    service_name: &'static str,
    runtime: tokio::runtime::Handle,
) -> Result<SdkTracerProvider, Box<dyn std::error::Error + Send + Sync>> {
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    // One request's limit; the exporter retries within OTEL_EXPORTER_OTLP_TIMEOUT (10 s).
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(RuntimeHttpClient { client, runtime })
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(service_name))
        .build())
}

/// The process's resource: the SDK's (which reads `OTEL_SERVICE_NAME` and
/// `OTEL_RESOURCE_ATTRIBUTES`), with `service_name` unless one of them names the service.
fn resource(service_name: &'static str) -> Resource {
    let named_by_env = set_and_not_blank(SERVICE_NAME_ENV)
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|attributes| {
            attributes.split(',').any(|kv| {
                kv.split('=')
                    .next()
                    .is_some_and(|k| k.trim() == "service.name")
            })
        });
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if named_by_env {
        builder.build()
    } else {
        builder.with_service_name(service_name).build()
    }
}

/// Exports what is still queued and stops the exporter (a server calls it once it stopped
/// serving); does nothing when tracing is off. Runs on a blocking thread: the exporter's
/// last requests run on the runtime this is awaited on.
pub async fn shutdown() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(e)) = flushed {
        tracing::warn!("OpenTelemetry: exporting the last spans failed: {e}");
    }
}

/// The OTLP exporter's HTTP client: the process's `reqwest` client, each request spawned on
/// the server's Tokio runtime (the SDK's batch processor exports from a thread of its own,
/// which no runtime drives).
#[derive(Debug)]
struct RuntimeHttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let url = request.uri().to_string();
        let sent = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = client.execute(request).await?;
            let mut answer = Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(body)?)
        });
        let answer = sent.await?;
        match &answer {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => warn_export_failed(&url, &response.status().to_string()),
            Err(e) => warn_export_failed(&url, &e.to_string()),
        }
        answer
    }
}

/// Seconds since the Unix epoch of the last warning about a failed export (0: none yet).
static LAST_EXPORT_WARNING: AtomicU64 = AtomicU64::new(0);

/// Logs a failed export, at most once a minute (a collector that is down fails every
/// batch, and the SDK reports nothing itself without its internal logs).
fn warn_export_failed(url: &str, error: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_EXPORT_WARNING.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60
        && LAST_EXPORT_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            "OpenTelemetry: exporting spans to {url} failed ({error}); spans are dropped while \
             it fails (this warning repeats at most once a minute)"
        );
    }
}

/// Continues the trace of the request whose headers are `headers` (its W3C `traceparent`,
/// and `tracestate`): `span` becomes a child of the caller's span. Nothing when tracing is
/// off or the headers carry no valid context.
pub fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !enabled() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Writes the current span's W3C trace context (`traceparent`, `tracestate`) into the
/// headers of an outgoing request. Nothing when tracing is off.
pub fn inject_current(headers: &mut HeaderMap) {
    TraceContext::current().inject(headers);
}

/// The identity of a span, kept to parent spans that run later in another task; empty
/// when tracing is off.
#[derive(Clone, Debug, Default)]
pub struct TraceContext(Option<opentelemetry::Context>);

impl TraceContext {
    /// The current span's.
    pub fn current() -> TraceContext {
        if !enabled() {
            return TraceContext(None);
        }
        let context = tracing::Span::current().context();
        TraceContext(context.span().span_context().is_valid().then_some(context))
    }

    /// Makes `span` a child of this context's span (before `span` is first entered).
    pub fn set_as_parent_of(&self, span: &tracing::Span) {
        if let Some(context) = &self.0 {
            let _ = span.set_parent(context.clone());
        }
    }

    /// Writes this context's `traceparent` (and `tracestate`) into `headers`.
    pub fn inject(&self, headers: &mut HeaderMap) {
        if let Some(context) = &self.0 {
            TraceContextPropagator::new().inject_context(context, &mut HeaderInjector(headers));
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
