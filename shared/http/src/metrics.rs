//! `GET /metrics` of both planes (Prometheus text format, from the process's default
//! registry of the `prometheus` crate) and the HTTP metrics both record (README.md,
//! "Observability"):
//!
//! - `omnigraph_http_requests_total{route, method, graph, status}`
//! - `omnigraph_http_request_duration_seconds{route, method, graph, status}` (histogram)
//! - `omnigraph_http_errors_total{route, method, graph, code}` (`code` of the error envelope)
//! - `omnigraph_write_conflicts_total{route, graph}` (409)
//! - `omnigraph_admission_refusals_total{route, graph, code}` (429 `too_many_requests`,
//!   `too_many_reads`)
//!
//! `route` is the route template the router matched (`/graphs/{graph_id}/read`), never the
//! raw path, and `unmatched` for a request no route matched; `graph` is a graph the
//! process serves or manages, `-` otherwise: the label values are bounded by the routes
//! and graphs, whatever clients send.
//!
//! Who may scrape ([`MetricsAccess`]): with a metrics token (`--metrics-token`,
//! `OMNIGRAPH_METRICS_TOKEN`, at least 16 bytes) only a request bearing it; without one,
//! anyone in open mode and no one when the process has bearer tokens.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use omnigraph_policy::{BearerTokens, TokenConfigError};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};

use omnigraph_api::ErrorCode;

use crate::error::ApiError;

/// The route of both planes.
pub const METRICS_PATH: &str = "/metrics";
/// The scrape token's environment variable (also `--metrics-token`).
pub const METRICS_TOKEN_ENV: &str = "OMNIGRAPH_METRICS_TOKEN";
/// `route` of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// `graph` of a request on no graph (or on one the process does not know).
pub const NO_GRAPH: &str = "-";

/// Who may read `GET /metrics`.
#[derive(Clone)]
pub enum MetricsAccess {
    /// Anyone: an open-mode process without a metrics token.
    Open,
    /// Requests bearing the metrics token.
    Token(Arc<BearerTokens>),
    /// No one: a process with bearer tokens and no metrics token.
    Closed,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetricsAccess::Open => "open",
            MetricsAccess::Token(_) => "token",
            MetricsAccess::Closed => "closed",
        })
    }
}

impl MetricsAccess {
    /// The access of a process in open mode (`open`) or not, given the metrics token (from
    /// the flag or the environment; set but blank, or shorter than 16 bytes, refuses).
    pub fn resolve(open: bool, token: Option<&str>) -> Result<MetricsAccess, TokenConfigError> {
        match token {
            Some(t) if t.trim().is_empty() => Err(TokenConfigError::BlankValue {
                source_name: METRICS_TOKEN_ENV.to_owned(),
            }),
            Some(t) if t.trim().len() < omnigraph_policy::MIN_TOKEN_BYTES => {
                Err(TokenConfigError::TokenTooShort {
                    source_name: format!("--metrics-token / {METRICS_TOKEN_ENV}"),
                    actor: "metrics".to_owned(),
                })
            }
            Some(t) => Ok(MetricsAccess::Token(Arc::new(BearerTokens::from_pairs([
                ("metrics", t),
            ])?))),
            None if open => Ok(MetricsAccess::Open),
            None => Ok(MetricsAccess::Closed),
        }
    }

    /// 401 (envelope) unless the request may scrape.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self {
            MetricsAccess::Open => Ok(()),
            MetricsAccess::Closed => Err(ApiError::unauthorized(format!(
                "this server has bearer tokens and no metrics token: /metrics is closed; \
                 start it with --metrics-token or {METRICS_TOKEN_ENV} and scrape with \
                 `Authorization: Bearer <metrics token>`"
            ))),
            MetricsAccess::Token(tokens) => tokens
                .resolve_header(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()))
                .map(|_| ())
                .map_err(|e| ApiError::unauthorized(format!("metrics token: {e}"))),
        }
    }
}

/// The answer of `GET /metrics`: every metric of the process's default registry in the
/// Prometheus text format, or 401 when `access` refuses the request.
pub fn metrics_response(access: &MetricsAccess, headers: &HeaderMap) -> Response {
    if let Err(e) = access.check(headers) {
        return e.into_response();
    }
    let families = prometheus::gather();
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&families, &mut body) {
        return ApiError::internal(format!("cannot encode the metrics: {e}")).into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus::TEXT_FORMAT),
        )],
        body,
    )
        .into_response()
}

/// Registers `metric` in the default registry (a second registration of one name is
/// logged, not fatal). Metric definitions are static, so building one panics only on a
/// programming error that every test run hits at once.
pub fn registered<M: prometheus::core::Collector + Clone + 'static>(name: &str, metric: M) -> M {
    if let Err(e) = prometheus::register(Box::new(metric.clone())) {
        tracing::warn!("metric {name} not registered: {e}");
    }
    metric
}

/// A counter family with `labels`, registered.
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, c)
}

/// A gauge family with `labels`, registered.
pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::IntGaugeVec {
    let g = prometheus::IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, g)
}

/// A gauge, registered.
pub fn gauge(name: &str, help: &str) -> prometheus::IntGauge {
    let g = prometheus::IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, g)
}

struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    errors: IntCounterVec,
    conflicts: IntCounterVec,
    refusals: IntCounterVec,
}

static HTTP: LazyLock<HttpMetrics> = LazyLock::new(|| {
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "omnigraph_http_request_duration_seconds",
            "Time from a request's arrival to its response's headers, by route template, method, graph and status",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0,
        ]),
        &["route", "method", "graph", "status"],
    )
    .unwrap_or_else(|e| panic!("metric omnigraph_http_request_duration_seconds: {e}"));
    HttpMetrics {
        requests: counter_vec(
            "omnigraph_http_requests_total",
            "HTTP requests answered, by route template, method, graph and status",
            &["route", "method", "graph", "status"],
        ),
        duration: registered("omnigraph_http_request_duration_seconds", duration),
        errors: counter_vec(
            "omnigraph_http_errors_total",
            "Error answers, by route template, method, graph and the envelope's code",
            &["route", "method", "graph", "code"],
        ),
        conflicts: counter_vec(
            "omnigraph_write_conflicts_total",
            "Writes refused with 409 conflict (a concurrent writer won, a duplicate, a merge conflict)",
            &["route", "graph"],
        ),
        refusals: counter_vec(
            "omnigraph_admission_refusals_total",
            "Requests refused by admission control (429), by route template, graph and code",
            &["route", "graph", "code"],
        ),
    }
});

/// Makes the HTTP metrics appear before the first request.
pub fn init_http_metrics() {
    LazyLock::force(&HTTP);
}

/// The route template `request` matched, or [`UNMATCHED_ROUTE`].
pub fn route_label(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |p| p.as_str().to_owned())
}

/// The `{graph_id}` segment of a path under `/graphs/`, if any.
pub fn graph_id_in_path(path: &str) -> Option<&str> {
    path.strip_prefix("/graphs/")
        .and_then(|rest| rest.split('/').next())
        .filter(|id| !id.is_empty())
}

/// The envelope code of an answer: the one its [`ApiError`] set, else the status's.
pub fn error_code(response: &Response) -> Option<ErrorCode> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    Some(
        response
            .extensions()
            .get::<ErrorCode>()
            .copied()
            .unwrap_or_else(|| ErrorCode::from_status(status)),
    )
}

/// Records one answered request.
pub fn observe_http(
    route: &str,
    method: &Method,
    graph: &str,
    response: &Response,
    elapsed: Duration,
) {
    let m = &*HTTP;
    let status = response.status();
    let status_text = status.as_str();
    let method = method.as_str();
    m.requests
        .with_label_values(&[route, method, graph, status_text])
        .inc();
    m.duration
        .with_label_values(&[route, method, graph, status_text])
        .observe(elapsed.as_secs_f64());
    if let Some(code) = error_code(response) {
        m.errors
            .with_label_values(&[route, method, graph, code.as_str()])
            .inc();
        match code {
            ErrorCode::Conflict => m.conflicts.with_label_values(&[route, graph]).inc(),
            ErrorCode::TooManyRequests | ErrorCode::TooManyReads => m
                .refusals
                .with_label_values(&[route, graph, code.as_str()])
                .inc(),
            _ => {}
        }
    }
}
