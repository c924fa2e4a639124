//! One module per route family.

pub mod branches;
pub mod change;
pub mod commits;
pub mod export;
pub mod health;
pub mod ingest;
pub mod internal;
pub mod loads;
pub mod maintenance;
pub mod metrics;
pub mod read;
pub mod schema;
pub mod snapshot;
pub mod tags;

use crate::server::error::HttpError;
use omnigraph_api::QueryParams;
use omnigraph_engine::Snapshot;
use omnigraph_lang::query::typed::TypedQuery;

/// Compiles `source` (the query `name`, optional when it holds one) against the snapshot's schema.
/// Its trace span is `compile` (README.md, "Observability").
pub fn compile(snap: &Snapshot, source: &str, name: Option<&str>) -> Result<TypedQuery, HttpError> {
    tracing::debug_span!("compile").in_scope(|| {
        Ok(omnigraph_lang::compile(&snap.catalog, source, name)
            .map_err(omnigraph_engine::EngineError::from)?)
    })
}

pub fn params_or_empty(params: Option<QueryParams>) -> QueryParams {
    params.unwrap_or_default()
}
