//! `POST /ingest` (alias `/load`): NDJSON in the export format, one atomic change.

use crate::server::error::HttpError;
use std::io::Cursor;

use omnigraph_api::{ErrorBody, IngestMode, IngestRequest, IngestResponse, TableLoadCount};
use omnigraph_engine::{load_on, EngineError, LoadMode};
use omnigraph_http::{ApiError, ApiJson};
use omnigraph_policy::{PolicyAction, RequestContext};

use super::branches::branch_exists;
use crate::server::auth::{branch_or_main, GraphAccess};

/// A load into a branch that does not exist yet creates it from `from` first, which the
/// caller must also be allowed to do (`branch_create`, and reading `from`).
pub(super) async fn create_branch_from(
    access: &GraphAccess,
    graph: &std::sync::Arc<omnigraph_engine::Graph>,
    branch: &str,
    from: &str,
    actor: &str,
) -> Result<(), HttpError> {
    if branch_exists(graph, branch).await? {
        return Ok(());
    }
    access.check_policy(
        PolicyAction::BranchCreate,
        &RequestContext::on_branch(from.to_string()).with_target_branch(branch.to_string()),
    )?;
    // The fork reads `from` (its rows and history become the branch's).
    access.check_policy(
        PolicyAction::Read,
        &RequestContext::on_branch(from.to_string()),
    )?;
    match graph.create_branch(branch, from, actor).await {
        // Created meanwhile by another request: load into it all the same.
        Ok(_) | Err(EngineError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn load_mode(mode: IngestMode) -> LoadMode {
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
        (status = 404, description = "Unknown graph, or a branch that does not exist (and no `from`), or an unknown `from` branch", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "Body over 32 MiB", body = ErrorBody),
    )
)]
pub async fn ingest(
    access: GraphAccess,
    body: Result<ApiJson<IngestRequest>, ApiError>,
) -> Result<ApiJson<IngestResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::Change, body.map(|b| b.0), |r| {
        RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
    })?;
    let branch = branch_or_main(req.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    if let Some(from) = &req.from {
        create_branch_from(&access, &graph, &branch, from, auth.actor_name()).await?;
    }
    let report = load_on(
        &graph,
        &branch,
        Cursor::new(req.data.into_bytes()),
        load_mode(req.mode),
        auth.actor_name(),
    )
    .await?;
    crate::server::metrics::rows_loaded(
        &auth.graph.graph_id,
        report.tables.iter().map(|t| t.rows_loaded).sum(),
    );
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
