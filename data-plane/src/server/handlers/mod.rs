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

use omnigraph_api::QueryParams;

pub fn params_or_empty(params: Option<QueryParams>) -> QueryParams {
    params.unwrap_or_default()
}
