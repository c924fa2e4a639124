//! `GET /snapshot`: the branch head's manifest.

use omnigraph_api::{
    ApiError, ApiJson, ApiQuery, BranchQuery, ErrorBody, SnapshotResponse, SnapshotTable,
};

use crate::server::auth::{check_branch, Authorized, ReadAction};
use crate::server::error::engine_error;

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
    auth: Authorized<ReadAction>,
    ApiQuery(query): ApiQuery<BranchQuery>,
) -> Result<ApiJson<SnapshotResponse>, ApiError> {
    let branch = check_branch(query.branch.as_deref())?;
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot(None).await.map_err(engine_error)?;
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
