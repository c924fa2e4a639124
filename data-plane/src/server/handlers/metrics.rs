//! `GET /metrics`: the worker's metrics in the Prometheus text format (README.md,
//! "Observability"); who may scrape is `omnigraph_http::metrics::MetricsAccess`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Metrics in the Prometheus text format",
    description = "Requests, latencies, errors by code, conflicts, admission refusals, reads and \
    writes in flight, the query cache, rows loaded, the embedding provider and object-store \
    requests (README.md, \"Observability\"). With a metrics token (--metrics-token, \
    OMNIGRAPH_METRICS_TOKEN) a scrape must bear it; without one a worker with bearer tokens \
    refuses every scrape, and an open-mode worker answers anyone.",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Every metric of this worker", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "Missing or wrong metrics token, or no metrics token configured on a worker with bearer tokens", body = omnigraph_api::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::server::metrics::refresh(&state);
    omnigraph_http::metrics::metrics_response(&state.metrics, &headers)
}
