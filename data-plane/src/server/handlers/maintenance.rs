//! `POST /maintenance`: compact the graph (one branch, or main and every branch) and clean
//! up old versions now, as the worker's own maintenance round does
//! (data-plane/src/server/maintenance.rs). Cedar action `maintain`. Bounded in time by
//! `--maintenance-timeout-ms`: past it, no table, batch, branch or deletion is started,
//! an unfinished compaction publishes nothing (its files go with a later cleanup), and the
//! answer says `deadline_reached`.

use omnigraph_api::{ErrorBody, MaintenanceRequest, MaintenanceResponse};
use omnigraph_http::{ApiError, ApiJson};
use std::time::Instant;

use omnigraph_engine::cleanup::cleanup_until;
use omnigraph_engine::maintenance::compact_until;
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};
use crate::server::error::HttpError;
use crate::server::maintenance::{cleanup_result, compaction_result, record_run};
use crate::server::state::AppState;

#[utoipa::path(
    post,
    path = "/maintenance",
    operation_id = "maintenance_run",
    tag = "graph",
    summary = "Compact and clean up the graph now",
    security(("bearer_token" = [])),
    request_body = MaintenanceRequest,
    responses(
        (status = 200, description = "What compaction and cleanup did; a compaction that gave way to writers published nothing. `deadline_reached`: the request ran into the worker's time limit (`--maintenance-timeout-ms`) and stopped; the next run goes on", body = MaintenanceResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid body", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `maintain`", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "The actor has as many writes in flight as the worker allows; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn run(
    state: axum::extract::State<AppState>,
    access: GraphAccess,
    body: Result<ApiJson<MaintenanceRequest>, ApiError>,
) -> Result<ApiJson<MaintenanceResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::Maintain, body.map(|b| b.0), |r| {
        RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
    })?;
    // No request runs unbounded: past the deadline nothing new starts (engine modules).
    let deadline = Instant::now() + state.maintenance.request_timeout;
    let graph = auth.graph.graph().await?;
    let branches = match &req.branch {
        Some(branch) => {
            graph.snapshot_on(branch, None).await?; // 404 for an unknown branch
            vec![branch.clone()]
        }
        None => {
            let mut all = vec![omnigraph_engine::MAIN.to_string()];
            all.extend(graph.branches().await?.into_iter().map(|b| b.name));
            all
        }
    };
    let options = &state.maintenance;
    let mut deadline_reached = false;
    let mut compactions = Vec::new();
    for branch in branches {
        if Instant::now() >= deadline {
            deadline_reached = true;
            break;
        }
        let report = compact_until(&graph, &branch, &options.compaction, Some(deadline)).await?;
        deadline_reached |= report.deadline_reached;
        compactions.push(compaction_result(report));
        if deadline_reached {
            break;
        }
    }
    let cleanup = match (&options.retention, req.cleanup.unwrap_or(true)) {
        (Some(retention), true) if !deadline_reached && Instant::now() < deadline => {
            let report = cleanup_until(&graph, retention, Some(deadline)).await?;
            deadline_reached |= report.deadline_reached;
            Some(cleanup_result(report))
        }
        (Some(_), true) => {
            deadline_reached = true;
            None
        }
        _ => None,
    };
    record_run(
        &graph,
        &state.worker_id,
        compactions.clone(),
        cleanup.clone(),
    )
    .await;
    Ok(ApiJson(MaintenanceResponse {
        compactions,
        cleanup,
        deadline_reached,
    }))
}
