//! The HTTP router: every route, the body limits, the error envelope for the
//! framework's own failures, request ids and request logs.

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use omnigraph_api::{
    error_envelope, method_not_allowed, route_not_found, with_request_logging,
    DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES, REGISTER_WORKER_PATH, REGISTRY_PATH,
};

use crate::auth::require_internal;
use crate::handlers::{graphs, health, internal};
use crate::openapi::openapi_json;
use crate::state::AppState;

/// Alias of [`REGISTER_WORKER_PATH`] under the name the issue uses.
const REGISTER_WORKER_ALIAS: &str = "/internal/workers/register";

pub fn router(state: AppState) -> Router {
    let internal = Router::new()
        .route(REGISTER_WORKER_PATH, post(internal::register_worker))
        .route(REGISTER_WORKER_ALIAS, post(internal::register_worker))
        .route(REGISTRY_PATH, get(internal::get_registry))
        .route_layer(from_fn_with_state(state.clone(), require_internal));

    let app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi_json))
        .route(
            "/graphs",
            get(graphs::list_graphs)
                .post(graphs::post_graph)
                .layer(DefaultBodyLimit::max(LARGE_BODY_LIMIT_BYTES)),
        )
        .merge(internal)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT_BYTES))
        .layer(from_fn(error_envelope));
    with_request_logging(app)
}
