//! `GET /openapi.json` (public): the worker's OpenAPI document, derived by utoipa from
//! the handlers and the shared wire types, completed from the route tables of `app`
//! (aliases, multi-mode nesting). Open mode drops every security scheme and requirement.

use std::collections::BTreeSet;

use axum::extract::State;
use omnigraph_api::{ErrorBody, ServeMode};
use omnigraph_http::openapi::{add_alias, apply_auth_mode, nest_graph_paths};
use omnigraph_http::ApiJson;
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::OpenApi;

use super::app::graph_routes;
use super::handlers::{
    branches, change, commits, export, health, ingest, internal, loads, maintenance, metrics, read,
    schema, snapshot, tags,
};
use super::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omnigraph data plane",
        description = "Graph routes of a data-plane worker: reads, mutations, loads, schema, \
        snapshot, export, maintenance, branches, commits and tags. Flat in single mode; under /graphs/{graph_id} in multi mode, \
        where the served document lists the nested paths. Every error answers with the \
        ErrorBody envelope."
    ),
    paths(
        health::healthz,
        health::readyz,
        openapi_json,
        metrics::metrics,
        read::read,
        change::change,
        ingest::ingest,
        loads::load_ndjson,
        loads::load_csv,
        loads::load_parquet,
        loads::load_files,
        schema::schema,
        schema::apply,
        snapshot::snapshot,
        export::export,
        maintenance::run,
        branches::list,
        branches::create,
        branches::delete,
        branches::merge,
        commits::list,
        commits::get,
        tags::list,
        tags::create,
        tags::get,
        tags::delete,
        internal::push_registry,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "graph", description = "Reads and writes of one graph"),
        (name = "branches", description = "Branches of one graph, their commits, and tags"),
        (name = "health", description = "Liveness, readiness, metrics and this document"),
        (name = "internal", description = "Called by the control plane, not by clients"),
    )
)]
struct ApiDoc;

/// The document for a mode: `auth_required` adds the security schemes, multi mode nests
/// the graph routes. `document(true, ServeMode::Single)` is the committed one.
pub fn document(auth_required: bool, mode: ServeMode) -> OpenApiDocument {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let routes = graph_routes();
    for route in routes.iter() {
        if let Some(canonical) = route.alias_of {
            // `/query` -> operation `query`, ...
            let id = route.path.trim_start_matches('/');
            add_alias(&mut doc, route.method.as_str(), canonical, route.path, id);
        }
    }
    apply_auth_mode(&mut doc, auth_required);
    if mode == ServeMode::Multi {
        let graph_paths: BTreeSet<String> = routes.iter().map(|r| r.path.to_owned()).collect();
        nest_graph_paths(&mut doc, &graph_paths);
    }
    doc
}

/// The served OpenAPI document (public).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The document for this worker's mode", content_type = "application/json"))
)]
pub async fn openapi_json(State(state): State<AppState>) -> ApiJson<OpenApiDocument> {
    ApiJson(document(!state.registry.auth().is_open(), state.mode))
}

#[cfg(test)]
mod tests;
