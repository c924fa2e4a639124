//! `POST /change` (alias `/mutate`).

use omnigraph_api::{ApiError, ApiJson, ChangeRequest, ChangeResponse};
use omnigraph_engine::run_mutation;

use super::{compile, params_or_empty};
use crate::server::auth::{check_branch, Authorized, ChangeAction};
use crate::server::error::engine_error;

pub async fn change(
    auth: Authorized<ChangeAction>,
    ApiJson(req): ApiJson<ChangeRequest>,
) -> Result<ApiJson<ChangeResponse>, ApiError> {
    let branch = check_branch(req.branch.as_deref())?;
    let graph = auth.graph.graph().await?;
    // Compiled against the latest schema; the mutation re-reads the latest version.
    let snap = graph.snapshot(None).await.map_err(engine_error)?;
    let query = compile(&snap, &req.query_source, req.query_name.as_deref())?;
    let params = params_or_empty(req.params);
    let report = run_mutation(&graph, &query, &params, auth.actor_name())
        .await
        .map_err(engine_error)?;
    Ok(ApiJson(ChangeResponse {
        branch,
        query_name: query.name.clone(),
        affected_nodes: report.affected_nodes,
        affected_edges: report.affected_edges,
        actor_id: auth.actor_id(),
    }))
}
