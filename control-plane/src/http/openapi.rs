//! The control plane's OpenAPI document (section 7), derived by utoipa from the
//! handlers and the shared wire types, completed from the route tables of `app`
//! (aliases). Internal routes are documented under the `internal` tag.
//!
//! Open mode: no security schemes and no per-operation security. Auth mode: the
//! `bearer_token` scheme on every management operation, `internal_token` on internal ones.

use axum::extract::State;
use omnigraph_http::openapi::{add_alias, apply_auth_mode};
use omnigraph_http::ApiJson;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::OpenApi;

use crate::http::app::internal_routes;
use crate::http::handlers::{graphs, health, internal};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omnigraph control plane",
        description = "Owns omnigraph.yaml, the /graphs management API and the registry of \
        graphs that it pushes to data-plane workers. Every error answers with the ErrorBody \
        envelope."
    ),
    paths(
        health::healthz,
        health::readyz,
        openapi_json,
        crate::metrics::metrics,
        graphs::list_graphs,
        graphs::post_graph,
        graphs::get_graph,
        graphs::patch_graph,
        graphs::delete_graph,
        internal::register_worker,
        internal::get_registry,
    ),
    tags(
        (name = "graphs", description = "Graph management"),
        (name = "health", description = "Liveness, status, metrics and this document"),
        (name = "internal", description = "Called by data-plane workers, not by clients"),
    )
)]
struct ApiDoc;

/// The document as served: with or without the security schemes.
/// `document(true)` is the committed one.
pub fn document(auth_required: bool) -> OpenApiDocument {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for route in internal_routes().iter() {
        if let Some(canonical) = route.alias_of {
            add_alias(
                &mut doc,
                route.method.as_str(),
                canonical,
                route.path,
                "internal_workers_register_alias",
            );
        }
    }
    apply_auth_mode(&mut doc, auth_required);
    doc
}

/// The served OpenAPI document (public).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    summary = "This OpenAPI document",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json(State(state): State<AppState>) -> ApiJson<OpenApiDocument> {
    ApiJson(document(!state.auth.is_open()))
}

#[cfg(test)]
mod tests;
