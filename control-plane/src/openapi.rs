//! The control plane's OpenAPI document (section 7), derived by utoipa from the
//! handlers and the shared wire types. Internal worker routes are not part of it: they
//! are a protocol between the two planes, not an API for clients.
//!
//! Open mode: no security schemes and no per-operation security. Auth mode: the
//! `bearer_token` scheme, required by every management operation.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::{Modify, OpenApi};

use crate::handlers::{graphs, health};
use crate::state::AppState;

/// The scheme name every protected operation refers to.
pub const BEARER_SCHEME: &str = "bearer_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omnigraph control plane",
        description = "Owns omnigraph.yaml, the /graphs management API and the registry of graphs."
    ),
    paths(health::healthz, openapi_json, graphs::list_graphs, graphs::post_graph),
    modifiers(&BearerScheme),
    tags(
        (name = "graphs", description = "Graph management"),
        (name = "health", description = "Liveness and status"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served: with or without the bearer scheme.
pub fn document(auth_required: bool) -> OpenApiDocument {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if !auth_required {
        if let Some(components) = doc.components.as_mut() {
            components.security_schemes.clear();
        }
        for item in doc.paths.paths.values_mut() {
            for op in operations_mut(item) {
                op.security = None;
            }
        }
    }
    doc
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The served OpenAPI document (public).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "server_openapi",
    tag = "health",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    Json(document(!state.auth.is_open())).into_response()
}
