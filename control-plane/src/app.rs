//! The HTTP router: every route, the body limits, the error envelope for the
//! framework's own failures, request ids and request logs.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use omnigraph_api::{
    error_envelope, method_not_allowed, route_not_found, DEFAULT_BODY_LIMIT_BYTES,
    LARGE_BODY_LIMIT_BYTES, REGISTER_WORKER_PATH, REGISTRY_PATH,
};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;

use crate::auth::require_internal;
use crate::handlers::{graphs, health, internal};
use crate::openapi::openapi_json;
use crate::state::AppState;

const REQUEST_ID_HEADER: &str = "x-request-id";
/// Alias of [`REGISTER_WORKER_PATH`] under the name the issue uses.
const REGISTER_WORKER_ALIAS: &str = "/internal/workers/register";

pub fn router(state: AppState) -> Router {
    let internal = Router::new()
        .route(REGISTER_WORKER_PATH, post(internal::register_worker))
        .route(REGISTER_WORKER_ALIAS, post(internal::register_worker))
        .route(REGISTRY_PATH, get(internal::get_registry))
        .route_layer(from_fn_with_state(state.clone(), require_internal));

    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
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
        .layer(from_fn(error_envelope))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
