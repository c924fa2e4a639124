//! Logs of both servers: the subscriber (stderr; `RUST_LOG` filters, by default
//! [`DEFAULT_LOG_FILTER`]: this project's INFO lines and everyone else's warnings;
//! `OMNIGRAPH_LOG_FORMAT=json` switches to JSON lines) and one span per HTTP request
//! carrying its request id, method, path, graph id and, once resolved, the actor; the
//! response event adds status and latency. With traces on ([`crate::telemetry`]) the same
//! subscriber also exports spans, and the request span continues the client's
//! `traceparent` and carries the route template and status as OpenTelemetry attributes.

use std::io::IsTerminal;

use std::time::Duration;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, OnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::telemetry;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const LOG_FORMAT_ENV: &str = "OMNIGRAPH_LOG_FORMAT";
/// The filter when `RUST_LOG` is unset or blank: this project's own INFO lines (with the
/// request log, which tower-http writes), and only warnings and errors of the libraries
/// (Lance alone logs an INFO event for every table a load or commit touches).
pub const DEFAULT_LOG_FILTER: &str =
    "warn,omnigraph_http=info,omnigraph_engine=info,omnigraph_storage=info,\
    omnigraph_data_plane=info,omnigraph_control_plane=info,omnigraph_config=info,\
    omnigraph_policy=info,omnigraph_lang=info,tower_http=info";

/// Installs the process's log subscriber (once; later calls do nothing), with the
/// OpenTelemetry layer of `service_name` when `OTEL_EXPORTER_OTLP_ENDPOINT` asks for traces
/// ([`crate::telemetry`]; call it on the server's Tokio runtime).
pub fn init_logging(service_name: &'static str) {
    let filter = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let json = std::env::var(LOG_FORMAT_ENV).is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
    };
    let mut layers = vec![fmt];
    layers.extend(telemetry::layer::<Registry>(service_name));
    let _ = tracing_subscriber::registry().with(layers).try_init();
}

/// Wraps `router` with request ids (taken from `x-request-id` or generated, and echoed in
/// the response) and a log span per request.
pub fn with_request_logging(router: Router) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(RecordStatus(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                )),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Records the server-resolved actor on the current request's span.
pub fn record_actor(actor: &str) {
    tracing::Span::current().record("actor", actor);
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let path = request.uri().path();
    let graph_id = path
        .strip_prefix("/graphs/")
        .map(|rest| rest.split('/').next().unwrap_or_default())
        .filter(|id| !id.is_empty())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %path,
        request_id = %request_id,
        graph_id = %graph_id,
        actor = tracing::field::Empty,
        // Recorded only when traces are on (the log lines stay as they were).
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    if telemetry::enabled() {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(crate::metrics::UNMATCHED_ROUTE, MatchedPath::as_str);
        span.record("http.route", route);
        span.record(
            "otel.name",
            tracing::field::display(format_args!("{} {route}", request.method())),
        );
        span.record("otel.kind", "server");
        telemetry::set_remote_parent(&span, request.headers());
    }
    span
}

/// The response event of [`DefaultOnResponse`], and with traces on the status on the
/// request span (a 5xx marks the span as an error).
#[derive(Clone)]
struct RecordStatus(DefaultOnResponse);

impl<B> OnResponse<B> for RecordStatus {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &tracing::Span) {
        if telemetry::enabled() {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        self.0.on_response(response, latency, span);
    }
}
