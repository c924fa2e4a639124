//! `GET /snapshot`: the branch head's manifest.

use omnigraph_api::{ApiError, ApiJson, ApiQuery, BranchQuery, SnapshotResponse, SnapshotTable};

use crate::server::auth::{check_branch, Authorized, ReadAction};
use crate::server::error::engine_error;

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
