//! The worker's router: graph routes flat (single mode) or under `/graphs/{graph_id}`
//! (multi mode), plus `/healthz`, `/openapi.json` and `/internal/registry`.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use omnigraph_api::{
    error_envelope, method_not_allowed, route_not_found, with_request_logging, ServeMode,
    DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES, REGISTRY_PATH,
};

use super::auth::require_internal;
use super::handlers::{change, export, health, ingest, internal, read, schema, snapshot};
use super::openapi;
use super::state::AppState;

fn graph_routes() -> Router<AppState> {
    let large = DefaultBodyLimit::max(LARGE_BODY_LIMIT_BYTES);
    Router::new()
        .route("/read", post(read::read))
        .route("/query", post(read::read))
        .route("/change", post(change::change))
        .route("/mutate", post(change::change))
        .route("/ingest", post(ingest::ingest).layer(large))
        .route("/load", post(ingest::ingest).layer(large))
        .route("/schema", get(schema::schema))
        .route("/snapshot", get(snapshot::snapshot))
        .route("/export", post(export::export))
}

pub fn router(state: AppState) -> Router {
    let internal = Router::new()
        .route(REGISTRY_PATH, post(internal::push_registry))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_internal,
        ));
    let graphs = match state.mode {
        ServeMode::Single => graph_routes(),
        ServeMode::Multi => Router::new().nest("/graphs/{graph_id}", graph_routes()),
    };
    let app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(internal)
        .merge(graphs)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(error_envelope))
        .with_state(state);
    with_request_logging(app)
}
