//! The worker's routes and router: graph routes flat (single mode) or under
//! `/graphs/{graph_id}` (multi mode), plus `/healthz`, `/readyz`, `/openapi.json` and
//! `/internal/registry` and `/metrics`. The OpenAPI document is built from the same tables.

use axum::extract::DefaultBodyLimit;
use axum::Router;
use omnigraph_api::{ServeMode, REGISTRY_PATH};
use omnigraph_http::{
    error_envelope, method_not_allowed, route_not_found, with_request_logging, Route, RouteTable,
    DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES,
};

use super::auth::require_internal;
use super::handlers::{
    branches, change, commits, export, health, ingest, internal, loads, maintenance, metrics, read,
    schema, snapshot, tags,
};
use super::openapi;
use super::state::{AppState, InternalAccess};

/// Routes of one graph: flat in single mode, nested in multi mode.
pub fn graph_routes() -> RouteTable<AppState> {
    let read = Route::post("/read", read::read);
    let change = Route::post("/change", change::change);
    let ingest = Route::post("/ingest", ingest::ingest);
    RouteTable::new(vec![
        read.alias("/query"),
        read,
        change.alias("/mutate"),
        change,
        ingest.alias("/load").body_limit(LARGE_BODY_LIMIT_BYTES),
        ingest.body_limit(LARGE_BODY_LIMIT_BYTES),
        // Streamed as it arrives: bounded by --max-load-bytes, not a body limit.
        Route::post("/load/ndjson", loads::load_ndjson).body_limit_disabled(),
        Route::post("/load/csv", loads::load_csv).body_limit_disabled(),
        Route::post("/load/parquet", loads::load_parquet).body_limit_disabled(),
        Route::post("/load/files", loads::load_files).body_limit_disabled(),
        Route::get("/schema", schema::schema),
        Route::post("/schema/apply", schema::apply),
        Route::get("/snapshot", snapshot::snapshot),
        Route::post("/export", export::export),
        Route::post("/maintenance", maintenance::run),
        Route::get("/branches", branches::list),
        Route::post("/branches", branches::create),
        Route::post("/branches/merge", branches::merge),
        Route::delete("/branches/{branch}", branches::delete),
        Route::get("/commits", commits::list),
        Route::get("/commits/{commit_id}", commits::get),
        Route::get("/tags", tags::list),
        Route::post("/tags", tags::create),
        Route::get("/tags/{name}", tags::get),
        Route::delete("/tags/{name}", tags::delete),
    ])
}

/// Routes that stay flat in both modes and need no token.
pub fn public_routes() -> RouteTable<AppState> {
    RouteTable::new(vec![
        Route::get("/healthz", health::healthz),
        Route::get("/readyz", health::readyz),
        Route::get("/openapi.json", openapi::openapi_json),
        Route::get(omnigraph_http::metrics::METRICS_PATH, metrics::metrics),
    ])
}

/// Routes the control plane calls, guarded by the internal token; mounted only on a
/// worker that serves a control plane's registry (`--control-plane`).
pub fn internal_routes() -> RouteTable<AppState> {
    RouteTable::new(vec![Route::post(REGISTRY_PATH, internal::push_registry)])
}

pub fn router(state: AppState) -> Router {
    let internal = match state.internal {
        InternalAccess::NotMounted => Router::new(),
        _ => internal_routes()
            .into_router()
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_internal,
            )),
    };
    let graphs = match state.mode {
        ServeMode::Single => graph_routes().into_router(),
        ServeMode::Multi => Router::new().nest(
            omnigraph_http::openapi::CLUSTER_PREFIX,
            graph_routes().into_router(),
        ),
    };
    let app = public_routes()
        .into_router()
        .merge(internal)
        .merge(graphs)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(error_envelope))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::metrics::track,
        ))
        .with_state(state);
    with_request_logging(app)
}
