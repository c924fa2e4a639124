//! `POST /read` (alias `/query`).

use omnigraph_api::{ApiError, ApiJson, ErrorBody, ReadRequest, ReadResponse, ReadTarget};
use omnigraph_engine::run_query;

use super::{compile, params_or_empty};
use crate::server::auth::{check_branch, Authorized, ReadAction};
use crate::server::error::engine_error;

#[utoipa::path(
    post,
    path = "/read",
    operation_id = "read",
    tag = "graph",
    summary = "Run a read query",
    security(("bearer_token" = [])),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "Columns and rows of the query", body = ReadResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or a body or query that does not parse or type-check", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn read(
    auth: Authorized<ReadAction>,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Result<ApiJson<ReadResponse>, ApiError> {
    let branch = check_branch(req.branch.as_deref())?;
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot(req.snapshot).await.map_err(engine_error)?;
    let query = compile(&snap, &req.query_source, req.query_name.as_deref())?;
    let params = params_or_empty(req.params);
    let result = run_query(&snap, &query, &params)
        .await
        .map_err(engine_error)?;
    Ok(ApiJson(ReadResponse {
        query_name: query.name.clone(),
        target: ReadTarget {
            branch: Some(branch),
            manifest_version: snap.manifest.version,
        },
        row_count: result.rows.len() as u64,
        columns: result.columns,
        rows: result.rows,
    }))
}
