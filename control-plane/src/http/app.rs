//! The routes and the HTTP router: body limits, the error envelope for the framework's
//! own failures, request ids and request logs. The OpenAPI document is built from the
//! same route tables.

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use omnigraph_api::{REGISTER_WORKER_PATH, REGISTRY_PATH};
use omnigraph_http::{
    error_envelope, method_not_allowed, route_not_found, with_request_logging, Route, RouteTable,
    DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES,
};

use crate::http::auth::require_internal;
use crate::http::handlers::{graphs, health, internal};
use crate::http::openapi::openapi_json;
use crate::state::AppState;

/// Alias of [`REGISTER_WORKER_PATH`] under the name the issue uses.
pub const REGISTER_WORKER_ALIAS: &str = "/internal/workers/register";

/// Public routes and the management API (each handler checks its own token and policy).
pub fn public_routes() -> RouteTable<AppState> {
    RouteTable::new(vec![
        Route::get("/healthz", health::healthz),
        Route::get("/readyz", health::readyz),
        Route::get("/openapi.json", openapi_json),
        Route::get(
            omnigraph_http::metrics::METRICS_PATH,
            crate::metrics::metrics,
        ),
        Route::get("/graphs", graphs::list_graphs),
        Route::post("/graphs", graphs::post_graph).body_limit(LARGE_BODY_LIMIT_BYTES),
        Route::get("/graphs/{graph_id}", graphs::get_graph),
        Route::patch("/graphs/{graph_id}", graphs::patch_graph),
        Route::delete("/graphs/{graph_id}", graphs::delete_graph),
    ])
}

/// Routes of data-plane workers, guarded by the internal token.
pub fn internal_routes() -> RouteTable<AppState> {
    let register = Route::post(REGISTER_WORKER_PATH, internal::register_worker);
    RouteTable::new(vec![
        register.alias(REGISTER_WORKER_ALIAS),
        register,
        Route::get(REGISTRY_PATH, internal::get_registry),
    ])
}

pub fn router(state: AppState) -> Router {
    let internal = internal_routes()
        .into_router()
        .route_layer(from_fn_with_state(state.clone(), require_internal));
    let app = public_routes()
        .into_router()
        .merge(internal)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT_BYTES))
        .layer(from_fn(error_envelope))
        .layer(from_fn_with_state(state.clone(), crate::metrics::track))
        .with_state(state);
    with_request_logging(app)
}
