//! `GET /schema`.

use omnigraph_api::{ApiError, ApiJson, ApiQuery, BranchQuery, ErrorBody, SchemaResponse};
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};
use crate::server::error::engine_error;

#[utoipa::path(
    get,
    path = "/schema",
    operation_id = "schema_get",
    tag = "graph",
    summary = "The accepted schema text",
    security(("bearer_token" = [])),
    params(BranchQuery),
    responses(
        (status = 200, description = "The schema of the branch head", body = SchemaResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid query string or branch name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn schema(
    access: GraphAccess,
    query: Result<ApiQuery<BranchQuery>, ApiError>,
) -> Result<ApiJson<SchemaResponse>, ApiError> {
    let (auth, query) = access.authorize_body(PolicyAction::Read, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let graph = auth.graph.graph().await?;
    let snap = graph
        .snapshot_on(branch_or_main(query.branch.as_deref()), None)
        .await
        .map_err(engine_error)?;
    Ok(ApiJson(SchemaResponse {
        schema_source: snap.manifest.schema_source.clone(),
    }))
}
