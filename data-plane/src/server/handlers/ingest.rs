//! `POST /ingest` (alias `/load`): NDJSON in the export format, one atomic change.

use std::io::Cursor;

use omnigraph_api::{
    ApiError, ApiJson, ErrorBody, IngestMode, IngestRequest, IngestResponse, TableLoadCount,
};
use omnigraph_engine::{load, LoadMode};

use crate::server::auth::{check_branch, Authorized, ChangeAction};
use crate::server::error::engine_error;

fn load_mode(mode: IngestMode) -> LoadMode {
    match mode {
        IngestMode::Overwrite => LoadMode::Overwrite,
        IngestMode::Append => LoadMode::Append,
        IngestMode::Merge => LoadMode::Merge,
    }
}

#[utoipa::path(
    post,
    path = "/ingest",
    operation_id = "ingest",
    tag = "graph",
    summary = "Load NDJSON rows as one atomic change",
    security(("bearer_token" = [])),
    request_body = IngestRequest,
    responses(
        (status = 200, description = "Rows loaded and published as one new version", body = IngestResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or invalid body or data (the message names the line)", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "Body over 32 MiB", body = ErrorBody),
    )
)]
pub async fn ingest(
    auth: Authorized<ChangeAction>,
    ApiJson(req): ApiJson<IngestRequest>,
) -> Result<ApiJson<IngestResponse>, ApiError> {
    if let Some(from) = &req.from {
        check_branch(Some(from))?;
    }
    let branch = check_branch(req.branch.as_deref())?;
    let graph = auth.graph.graph().await?;
    let report = load(
        &graph,
        Cursor::new(req.data.into_bytes()),
        load_mode(req.mode),
        auth.actor_name(),
    )
    .await
    .map_err(engine_error)?;
    Ok(ApiJson(IngestResponse {
        uri: auth.graph.uri.clone(),
        branch,
        mode: req.mode,
        tables: report
            .tables
            .into_iter()
            .map(|t| TableLoadCount {
                table_key: t.table_key,
                rows_loaded: t.rows_loaded,
            })
            .collect(),
        actor_id: auth.actor_id(),
    }))
}
