//! The worker's metrics (README.md, "Observability"): the HTTP metrics of
//! `omnigraph_http::metrics`, recorded by [`track`] for every request with its route
//! template and graph, plus reads and writes in flight, rows loaded and maintenance runs
//! (compaction, version cleanup); the engine adds
//! the query cache, the embedding provider and the object store. [`track`] also runs each
//! graph request under its request kind, the `kind` label of the object-store counters.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use omnigraph_api::ServeMode;
use omnigraph_config::SINGLE_MODE_GRAPH_ID;
use omnigraph_http::metrics::{
    counter_vec, gauge, graph_id_in_path, observe_http, registered, route_label, NO_GRAPH,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge};

use super::state::AppState;

struct WorkerMetrics {
    reads_in_flight: IntGauge,
    writes_in_flight: IntGauge,
    rows_loaded: IntCounterVec,
    maintenance_runs: IntCounterVec,
    maintenance_duration: HistogramVec,
}

static WORKER: LazyLock<WorkerMetrics> = LazyLock::new(|| WorkerMetrics {
    reads_in_flight: gauge(
        "omnigraph_reads_in_flight",
        "Reads running on this worker (admitted, not yet answered)",
    ),
    writes_in_flight: gauge(
        "omnigraph_writes_in_flight",
        "Writes (changes, loads, schema applies, branch operations) running on this worker",
    ),
    rows_loaded: counter_vec(
        "omnigraph_rows_loaded_total",
        "Rows written by loads (POST /ingest, /load), by graph",
        &["graph"],
    ),
    maintenance_runs: counter_vec(
        "omnigraph_maintenance_runs_total",
        "Maintenance runs of the worker (compact: one per graph and branch, cleanup: one per \
         graph), by outcome: done, nothing_to_do, gave_way (to a writer), failed",
        &["graph", "operation", "outcome"],
    ),
    maintenance_duration: {
        let h = HistogramVec::new(
            HistogramOpts::new(
                "omnigraph_maintenance_run_duration_seconds",
                "Time of one maintenance run, by operation (compact, cleanup)",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            &["operation"],
        )
        .unwrap_or_else(|e| panic!("metric omnigraph_maintenance_run_duration_seconds: {e}"));
        registered("omnigraph_maintenance_run_duration_seconds", h)
    },
});

/// One maintenance run (`compact` of a graph's branch, `cleanup` of a graph) and its outcome.
pub fn maintenance_run(graph_id: &str, operation: &str, outcome: &str, elapsed: Duration) {
    let m = &*WORKER;
    m.maintenance_runs
        .with_label_values(&[graph_id, operation, outcome])
        .inc();
    m.maintenance_duration
        .with_label_values(&[operation])
        .observe(elapsed.as_secs_f64());
}

/// Makes every metric of the worker appear (at zero) from its start.
pub fn init() {
    LazyLock::force(&WORKER);
    omnigraph_http::metrics::init_http_metrics();
    omnigraph_engine::metrics::init();
}

/// Sets the gauges read at scrape time.
pub fn refresh(state: &AppState) {
    let m = &*WORKER;
    m.reads_in_flight
        .set(i64::try_from(state.reads.in_flight()).unwrap_or(i64::MAX));
    m.writes_in_flight
        .set(i64::try_from(state.admission.in_flight_total()).unwrap_or(i64::MAX));
}

/// Rows a load wrote into `graph_id`.
pub fn rows_loaded(graph_id: &str, rows: u64) {
    WORKER
        .rows_loaded
        .with_label_values(&[graph_id])
        .inc_by(rows);
}

/// The request kind of a graph route (its path after the graph prefix), `None` for the
/// routes that act on no graph.
pub fn request_kind(graph_route: &str) -> Option<&'static str> {
    Some(match graph_route {
        "/read" | "/query" => "read",
        "/change" | "/mutate" => "change",
        "/ingest" | "/load" | "/load/ndjson" | "/load/csv" | "/load/parquet" => "load",
        "/schema" => "schema",
        "/schema/apply" => "schema_apply",
        "/snapshot" => "snapshot",
        "/export" => "export",
        "/branches/merge" => "merge",
        "/branches" | "/branches/{branch}" => "branch",
        "/commits" | "/commits/{commit_id}" => "commits",
        "/tags" | "/tags/{name}" => "tag",
        "/maintenance" => "maintenance",
        _ => return None,
    })
}

/// Middleware: records each request's metrics, and runs a graph request under its kind.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(&request);
    let method = request.method().clone();
    let graph_route = match state.mode {
        ServeMode::Single => Some(route.as_str()),
        ServeMode::Multi => route.strip_prefix(omnigraph_http::openapi::CLUSTER_PREFIX),
    };
    let kind = graph_route.and_then(request_kind);
    let graph = match (kind, state.mode) {
        (None, _) => NO_GRAPH.to_owned(),
        (Some(_), ServeMode::Single) => SINGLE_MODE_GRAPH_ID.to_owned(),
        (Some(_), ServeMode::Multi) => graph_id_in_path(request.uri().path())
            .filter(|id| state.registry.get(id).is_some())
            .unwrap_or(NO_GRAPH)
            .to_owned(),
    };
    let response = match kind {
        Some(kind) => {
            omnigraph_engine::storage_metrics::with_request_kind(kind, next.run(request)).await
        }
        None => next.run(request).await,
    };
    observe_http(&route, &method, &graph, &response, started.elapsed());
    response
}
