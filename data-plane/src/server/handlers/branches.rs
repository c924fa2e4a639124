//! `GET /branches`, `POST /branches`, `DELETE /branches/{branch}`, `POST /branches/merge`.

use crate::server::error::HttpError;
use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use omnigraph_api::{
    BranchInfo, BranchListResponse, CreateBranchRequest, DeleteBranchResponse, ErrorBody,
    MergeOutcome, MergeRequest, MergeResponse,
};
use omnigraph_engine::{BranchRef, Graph, MergeOutcome as EngineMergeOutcome};
use omnigraph_http::{ApiError, ApiJson, ApiPath};
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess, MAIN_BRANCH};

/// Whether `branch` exists now (main always does).
pub async fn branch_exists(graph: &Arc<Graph>, branch: &str) -> Result<bool, HttpError> {
    if branch == MAIN_BRANCH {
        return Ok(true);
    }
    Ok(graph.branch(branch).await?.is_some())
}

/// The branch a commit id's chain belongs to now: main, the branch whose ref names the
/// chain, or none (a deleted branch's commits, or no such chain).
pub async fn branch_of_chain(graph: &Arc<Graph>, chain: &str) -> Result<Option<String>, HttpError> {
    if chain == MAIN_BRANCH {
        return Ok(Some(MAIN_BRANCH.to_owned()));
    }
    let refs = graph.branches().await?;
    Ok(refs.into_iter().find(|r| r.chain == chain).map(|r| r.name))
}

async fn info(
    graph: &Arc<Graph>,
    name: &str,
    r: Option<&BranchRef>,
) -> Result<BranchInfo, HttpError> {
    let head = graph.snapshot_on(name, None).await?;
    Ok(BranchInfo {
        name: name.to_owned(),
        head_commit: head.commit_id(),
        manifest_version: head.version(),
        forked_from: r.map(|r| r.forked_from.clone()),
        created_at: r.map(|r| r.created_at.clone()),
        created_by: r.map(|r| r.actor.clone()),
    })
}

#[utoipa::path(
    get,
    path = "/branches",
    operation_id = "branch_list",
    tag = "branches",
    summary = "List the graph's branches",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "Main first, then the other branches by name, each with its head commit", body = BranchListResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode)", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow reading main", body = ErrorBody),
        (status = 404, description = "Unknown graph", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn list(access: GraphAccess) -> Result<ApiJson<BranchListResponse>, HttpError> {
    let auth = access.authorize_on(PolicyAction::Read, None)?;
    let graph = auth.graph.graph().await?;
    let mut branches = vec![info(&graph, MAIN_BRANCH, None).await?];
    for r in graph.branches().await? {
        match info(&graph, &r.name, Some(&r)).await {
            Ok(b) => branches.push(b),
            // Deleted between the listing and its head's read.
            Err(e) if e.code() == omnigraph_api::ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ApiJson(BranchListResponse { branches }))
}

#[utoipa::path(
    post,
    path = "/branches",
    operation_id = "branch_create",
    tag = "branches",
    summary = "Create a branch at the head of another",
    description = "Cheap whatever the graph's size: the new branch's first version names the \
    same table versions as the source head; no data is copied.",
    security(("bearer_token" = [])),
    request_body = CreateBranchRequest,
    responses(
        (status = 201, description = "The branch, at the source branch's head", body = BranchInfo),
        (status = 400, description = "Invalid graph id in the path (multi mode), a body that does not parse, or an invalid branch name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `branch_create` of this branch, or `read` of the branch it forks", body = ErrorBody),
        (status = 404, description = "Unknown graph or unknown `from` branch", body = ErrorBody),
        (status = 409, description = "A branch of that name exists", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn create(
    access: GraphAccess,
    body: Result<ApiJson<CreateBranchRequest>, ApiError>,
) -> Result<(StatusCode, ApiJson<BranchInfo>), HttpError> {
    let (auth, req) =
        access.authorize_body(PolicyAction::BranchCreate, body.map(|b| b.0), |r| {
            RequestContext::on_branch(branch_or_main(r.from.as_deref()))
                .with_target_branch(r.name.clone())
        })?;
    let from = branch_or_main(req.from.as_deref());
    // A fork reads the source branch (its rows and history become the new branch's).
    access.check_policy(PolicyAction::Read, &RequestContext::on_branch(from))?;
    let graph = auth.graph.graph().await?;
    let r = graph
        .create_branch(&req.name, from, auth.actor_name())
        .await?;
    let head = graph.snapshot_at_commit(&r.forked_from).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(BranchInfo {
            name: r.name.clone(),
            head_commit: r.forked_from.clone(),
            manifest_version: head.version(),
            forked_from: Some(r.forked_from),
            created_at: Some(r.created_at),
            created_by: Some(r.actor),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/branches/{branch}",
    operation_id = "branch_delete",
    tag = "branches",
    summary = "Delete a branch",
    description = "Removes the branch's name; its commits stay readable by id. A name with `/` \
    is sent percent-encoded (`agent%2Falice`).",
    security(("bearer_token" = [])),
    params(("branch" = String, Path, description = "Branch name (not main)")),
    responses(
        (status = 200, description = "Deleted; the head it had", body = DeleteBranchResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), an invalid branch name, or main", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `branch_delete` of this branch", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn delete(
    access: GraphAccess,
    path: Result<ApiPath<HashMap<String, String>>, ApiError>,
) -> Result<ApiJson<DeleteBranchResponse>, HttpError> {
    let name = path.and_then(|ApiPath(p)| {
        p.get("branch")
            .cloned()
            .ok_or_else(|| ApiError::bad_request("missing branch name in the path"))
    });
    let (auth, name) = access.authorize_body(PolicyAction::BranchDelete, name, |n| {
        RequestContext::none().with_target_branch(n.clone())
    })?;
    let graph = auth.graph.graph().await?;
    if name == MAIN_BRANCH {
        return Err(ApiError::bad_request("the main branch cannot be deleted").into());
    }
    let head = graph.snapshot_on(&name, None).await?;
    graph.delete_branch(&name).await?;
    Ok(ApiJson(DeleteBranchResponse {
        name,
        head_commit: head.commit_id(),
    }))
}

#[utoipa::path(
    post,
    path = "/branches/merge",
    operation_id = "branch_merge",
    tag = "branches",
    summary = "Merge a branch into another",
    description = "Up to date, fast-forward, or a three-way row-level merge against the common \
    ancestor. A merge with any conflict changes nothing and answers 409 listing each conflict \
    in `merge_conflicts`. A target that another writer moved during the merge answers 409 \
    with `manifest_conflict`: merge again.",
    security(("bearer_token" = [])),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged (or already up to date)", body = MergeResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), a body that does not parse, an invalid branch name, a branch merged into itself, or branches with different schemas", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `branch_merge` into the target, or `read` of the source branch", body = ErrorBody),
        (status = 404, description = "Unknown graph, source or target branch", body = ErrorBody),
        (status = 409, description = "Conflicts (`merge_conflicts`, nothing written), or the target moved during the merge (`manifest_conflict`)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn merge(
    access: GraphAccess,
    body: Result<ApiJson<MergeRequest>, ApiError>,
) -> Result<ApiJson<MergeResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::BranchMerge, body.map(|b| b.0), |r| {
        RequestContext::on_branch(r.source.clone())
            .with_target_branch(branch_or_main(r.target.as_deref()))
    })?;
    // A merge reads the source branch (its rows become the target's).
    access.check_policy(
        PolicyAction::Read,
        &RequestContext::on_branch(req.source.as_str()),
    )?;
    let graph = auth.graph.graph().await?;
    let target = branch_or_main(req.target.as_deref()).to_owned();
    let report = graph.merge(&req.source, &target, auth.actor_name()).await?;
    Ok(ApiJson(MergeResponse {
        source: req.source,
        target,
        outcome: match report.outcome {
            EngineMergeOutcome::UpToDate => MergeOutcome::UpToDate,
            EngineMergeOutcome::FastForward => MergeOutcome::FastForward,
            EngineMergeOutcome::Merged => MergeOutcome::Merged,
        },
        commit_id: report.commit_id,
        manifest_version: report.manifest_version,
        base_commit: report.base_commit,
        tables_changed: report.tables_changed,
        actor_id: auth.actor_id(),
    }))
}
