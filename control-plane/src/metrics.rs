//! The control plane's metrics (README.md, "Observability"), served at `GET /metrics`:
//!
//! - `omnigraph_registry_generation`: the registry generation this process publishes;
//! - `omnigraph_worker_acknowledged_generation{worker}` and
//!   `omnigraph_worker_generation_lag{worker}` (generations behind, the whole generation
//!   for a worker that acknowledged none), for the registered workers;
//! - `omnigraph_registry_push_failures_total{worker}`: failed push attempts;
//! - `omnigraph_config_drifted` (1 while omnigraph.yaml differs from what this process
//!   loaded or wrote) and `omnigraph_config_drift_detections_total`;
//! - `omnigraph_management_operations_total{operation, outcome}`: `graph_list`,
//!   `graph_create`, `graph_get`, `graph_update`, `graph_delete` by `ok` or the error
//!   envelope's code;
//! - the HTTP metrics of `omnigraph_http::metrics`, and the object-store counters
//!   (shared/storage/src/storage_metrics.rs) of the storage the control plane touches
//!   (creating, inspecting, deleting graphs).

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use omnigraph_config::GraphId;
use omnigraph_http::metrics::{
    counter_vec, error_code, gauge, gauge_vec, graph_id_in_path, observe_http, route_label,
    NO_GRAPH,
};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

use crate::state::AppState;

struct ControlMetrics {
    generation: IntGauge,
    acknowledged: IntGaugeVec,
    lag: IntGaugeVec,
    push_failures: IntCounterVec,
    drifted: IntGauge,
    drift_detections: IntCounter,
    operations: IntCounterVec,
}

static METRICS: LazyLock<ControlMetrics> = LazyLock::new(|| ControlMetrics {
    generation: gauge(
        "omnigraph_registry_generation",
        "The registry generation this control plane publishes",
    ),
    acknowledged: gauge_vec(
        "omnigraph_worker_acknowledged_generation",
        "The newest registry generation each registered worker acknowledged (0: none yet)",
        &["worker"],
    ),
    lag: gauge_vec(
        "omnigraph_worker_generation_lag",
        "Registry generations each registered worker is behind",
        &["worker"],
    ),
    push_failures: counter_vec(
        "omnigraph_registry_push_failures_total",
        "Failed attempts to push the registry to a worker",
        &["worker"],
    ),
    drifted: gauge(
        "omnigraph_config_drifted",
        "1 while omnigraph.yaml differs from what this control plane loaded or last wrote",
    ),
    drift_detections: {
        let c = IntCounter::new(
            "omnigraph_config_drift_detections_total",
            "Times omnigraph.yaml was found changed by hand (drift began)",
        )
        .unwrap_or_else(|e| panic!("metric omnigraph_config_drift_detections_total: {e}"));
        omnigraph_http::metrics::registered("omnigraph_config_drift_detections_total", c)
    },
    operations: counter_vec(
        "omnigraph_management_operations_total",
        "Management operations (/graphs), by operation and outcome (ok or the error code)",
        &["operation", "outcome"],
    ),
});

/// Makes every metric of the control plane appear (at zero) from its start.
pub fn init() {
    LazyLock::force(&METRICS);
    omnigraph_http::metrics::init_http_metrics();
    omnigraph_storage::storage_metrics::init();
}

/// One failed push attempt to `worker_id`.
pub fn push_failed(worker_id: &str) {
    METRICS.push_failures.with_label_values(&[worker_id]).inc();
}

/// omnigraph.yaml was found drifted (it was not before).
pub fn drift_detected() {
    METRICS.drift_detections.inc();
}

/// Sets the gauges read at scrape time from the state.
fn refresh(state: &AppState) {
    let m = &*METRICS;
    let generation = state.registry.generation();
    m.generation
        .set(i64::try_from(generation).unwrap_or(i64::MAX));
    m.drifted.set(i64::from(state.config.drift().is_some()));
    // Only the workers registered now (a worker gone with a restart leaves no series).
    m.acknowledged.reset();
    m.lag.reset();
    for report in state.workers.reports() {
        let acked = report.state.acked.unwrap_or(0);
        m.acknowledged
            .with_label_values(&[report.worker_id.as_str()])
            .set(i64::try_from(acked).unwrap_or(i64::MAX));
        m.lag
            .with_label_values(&[report.worker_id.as_str()])
            .set(i64::try_from(generation.saturating_sub(acked)).unwrap_or(i64::MAX));
    }
}

/// The management operation of a route, if it is one.
fn operation(method: &Method, route: &str) -> Option<&'static str> {
    Some(match (method.as_str(), route) {
        ("GET", "/graphs") => "graph_list",
        ("POST", "/graphs") => "graph_create",
        ("GET", "/graphs/{graph_id}") => "graph_get",
        ("PATCH", "/graphs/{graph_id}") => "graph_update",
        ("DELETE", "/graphs/{graph_id}") => "graph_delete",
        _ => return None,
    })
}

/// Middleware: the HTTP metrics of every request and the management operations.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(&request);
    let method = request.method().clone();
    let graph = graph_id_in_path(request.uri().path())
        .filter(|_| route.starts_with("/graphs/{graph_id}"))
        .and_then(|id| GraphId::parse(id).ok())
        .filter(|id| state.registry.get(id).is_some())
        .map_or_else(|| NO_GRAPH.to_owned(), GraphId::into_string);
    let response = next.run(request).await;
    observe_http(&route, &method, &graph, &response, started.elapsed());
    if let Some(operation) = operation(&method, &route) {
        let outcome = error_code(&response).map_or("ok", |c| c.as_str());
        METRICS
            .operations
            .with_label_values(&[operation, outcome])
            .inc();
    }
    response
}

/// `GET /metrics`: the control plane's metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Metrics in the Prometheus text format",
    description = "Registry generation, each worker's acknowledged generation and lag, push \
    failures, omnigraph.yaml drift, management operations by outcome, HTTP requests, latencies \
    and errors (README.md, \"Observability\"). With a metrics token (--metrics-token, \
    OMNIGRAPH_METRICS_TOKEN) a scrape must bear it; without one a control plane with bearer \
    tokens refuses every scrape, and an open-mode one answers anyone.",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Every metric of this control plane", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "Missing or wrong metrics token, or no metrics token configured on a control plane with bearer tokens", body = omnigraph_api::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    refresh(&state);
    omnigraph_http::metrics::metrics_response(&state.metrics, &headers)
}
