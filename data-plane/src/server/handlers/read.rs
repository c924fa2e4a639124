//! `POST /read` (alias `/query`).

use crate::server::error::HttpError;
use omnigraph_api::{ApiError, ApiJson, ErrorBody, ReadRequest, ReadResponse, ReadTarget};
use omnigraph_engine::run_query_within;

use super::{compile, params_or_empty};
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};

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
        (status = 408, description = "`query_timeout`: the read ran past its time limit (the worker's default, or `timeout_ms`) and was stopped", body = ErrorBody),
        (status = 410, description = "`version_reclaimed`: `snapshot` names a graph version that version cleanup deleted", body = ErrorBody),
        (status = 422, description = "`row_budget_exceeded`: the read held more rows in memory than the worker allows; `result_too_large`: a read without `limit` would return more rows than the worker returns unasked", body = ErrorBody),
        (status = 429, description = "`too_many_reads`: the worker runs as many reads as it allows at once; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn read(
    access: GraphAccess,
    body: Result<ApiJson<ReadRequest>, ApiError>,
) -> Result<ApiJson<ReadResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::Read, body.map(|b| b.0), |r| {
        RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
    })?;
    let _slot = access.admit_read()?;
    let budget = access.query_limits().budget(req.timeout_ms)?;
    let branch = branch_or_main(req.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot_on(&branch, req.snapshot).await?;
    let query = compile(&snap, &req.query_source, req.query_name.as_deref())?;
    let params = params_or_empty(req.params);
    let result = run_query_within(&snap, &query, &params, &budget).await?;
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
