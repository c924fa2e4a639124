//! One entry point for query text: compile against the graph's schema, then run it as a read
//! (at the latest or an older version) or as a mutation (always on the latest version).

use std::sync::Arc;

use omnigraph_lang::query::typed::{QueryBody, TypedQuery};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::{EngineError, Result};
use crate::graph::Graph;
use crate::mutate::{run_mutation, MutationReport};
use crate::query::{run_query, QueryResult};

/// What running a query produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Read(QueryResult),
    Mutation(MutationReport),
}

/// Compile `source` (the query called `name`, optional when it holds one) and run it.
/// `snapshot_version` reads at that graph version; mutations refuse it.
pub async fn execute(
    graph: &Arc<Graph>,
    source: &str,
    name: Option<&str>,
    params: &Map<String, Json>,
    snapshot_version: Option<u64>,
    actor: &str,
) -> Result<Outcome> {
    let snap = graph.snapshot(snapshot_version).await?;
    let query: TypedQuery = omnigraph_lang::compile(&snap.catalog, source, name)?;
    match &query.body {
        QueryBody::Read(_) => Ok(Outcome::Read(run_query(&snap, &query, params).await?)),
        QueryBody::Mutation(_) => {
            if snapshot_version.is_some() {
                return Err(EngineError::Invalid(format!(
                    "query `{}` is a mutation; mutations always apply to the latest version, not to a snapshot",
                    query.name
                )));
            }
            Ok(Outcome::Mutation(
                run_mutation(&snap, &query, params, actor).await?,
            ))
        }
    }
}
