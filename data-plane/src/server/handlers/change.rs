//! `POST /change` (alias `/mutate`).

use crate::server::error::HttpError;
use omnigraph_api::{ChangeRequest, ChangeResponse, ErrorBody};
use omnigraph_engine::QueryText;
use omnigraph_http::{ApiError, ApiJson};
use omnigraph_policy::{PolicyAction, RequestContext};

use super::params_or_empty;
use crate::server::auth::{branch_or_main, GraphAccess};

#[utoipa::path(
    post,
    path = "/change",
    operation_id = "change",
    tag = "graph",
    summary = "Run a mutation atomically",
    security(("bearer_token" = [])),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "The mutation was published as one new version", body = ChangeResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), a body or mutation that does not parse or type-check, or a violated constraint", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 409, description = "A duplicate key, or (`manifest_conflict`) the schema changed meanwhile or other workers kept publishing first for 20 s of re-plans (group commit re-plans a change whose tables another worker moved)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn change(
    access: GraphAccess,
    body: Result<ApiJson<ChangeRequest>, ApiError>,
) -> Result<ApiJson<ChangeResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::Change, body.map(|b| b.0), |r| {
        RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
    })?;
    let branch = branch_or_main(req.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    // Compiled against the branch head's schema; the mutation re-reads the head (and is
    // refused with a schema conflict if the schema changed meanwhile).
    let text = QueryText::new(&req.query_source, req.query_name.as_deref());
    let params = params_or_empty(req.params);
    let answer =
        omnigraph_engine::change(&graph, &branch, text, &params, auth.actor_name()).await?;
    let report = answer.report;
    Ok(ApiJson(ChangeResponse {
        branch,
        query_name: answer.query_name,
        affected_nodes: report.affected_nodes,
        affected_edges: report.affected_edges,
        manifest_version: report.version,
        actor_id: auth.actor_id(),
    }))
}
