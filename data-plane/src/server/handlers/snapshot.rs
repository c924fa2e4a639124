//! `GET /snapshot`: the branch head's manifest.

use omnigraph_api::{BranchQuery, ErrorBody, SnapshotResponse, SnapshotTable};
use omnigraph_http::{ApiError, ApiJson, ApiQuery};

use crate::server::error::HttpError;
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};

#[utoipa::path(
    get,
    path = "/snapshot",
    operation_id = "snapshot_get",
    tag = "graph",
    summary = "The manifest of a branch head",
    security(("bearer_token" = [])),
    params(BranchQuery),
    responses(
        (status = 200, description = "Which version of which table the branch head holds", body = SnapshotResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid query string", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn snapshot(
    access: GraphAccess,
    query: Result<ApiQuery<BranchQuery>, ApiError>,
) -> Result<ApiJson<SnapshotResponse>, HttpError> {
    let (auth, query) = access.authorize_body(PolicyAction::Read, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let branch = branch_or_main(query.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot_on(&branch, None).await?;
    let tables = snap
        .manifest
        .tables
        .iter()
        .map(|(key, entry)| SnapshotTable {
            table_key: key.clone(),
            table_path: entry.path.clone(),
            table_version: entry.version,
            row_count: entry.row_count,
        })
        .collect();
    Ok(ApiJson(SnapshotResponse {
        branch,
        manifest_version: snap.manifest.version,
        tables,
    }))
}
