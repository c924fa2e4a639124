//! `GET /commits` (a branch's history) and `GET /commits/{commit_id}`.

use crate::server::error::HttpError;
use std::collections::HashMap;

use omnigraph_api::{CommitInfo, CommitListResponse, CommitsQuery, ErrorBody};
use omnigraph_engine::branch::parse_commit_id;
use omnigraph_engine::Commit;
use omnigraph_http::{ApiError, ApiJson, ApiPath, ApiQuery};
use omnigraph_policy::{PolicyAction, RequestContext};

use super::branches::branch_of_chain;
use crate::server::auth::{branch_or_main, GraphAccess};
use crate::server::error::engine_error;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 10_000;

fn commit_info(c: Commit) -> CommitInfo {
    CommitInfo {
        commit_id: c.id,
        parents: c.parents,
        manifest_version: c.manifest_version,
        actor: c.actor,
        created_at: c.created_at,
    }
}

#[utoipa::path(
    get,
    path = "/commits",
    operation_id = "commit_list",
    tag = "branches",
    summary = "A branch's history, newest first",
    description = "Follows first parents, across the fork into the branch a branch was created from.",
    security(("bearer_token" = [])),
    params(CommitsQuery),
    responses(
        (status = 200, description = "The commits, newest first", body = CommitListResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), an invalid query string, limit or branch name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow reading this branch", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn list(
    access: GraphAccess,
    query: Result<ApiQuery<CommitsQuery>, ApiError>,
) -> Result<ApiJson<CommitListResponse>, HttpError> {
    let (auth, query) = access.authorize_body(PolicyAction::Read, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        ))
        .into());
    }
    let branch = branch_or_main(query.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    let commits = graph.commits(&branch, limit as usize).await?;
    Ok(ApiJson(CommitListResponse {
        branch,
        commits: commits.into_iter().map(commit_info).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/commits/{commit_id}",
    operation_id = "commit_get",
    tag = "branches",
    summary = "One commit",
    description = "Authorized as a read of the branch the commit's chain belongs to now, or, \
    for a deleted branch's commits, of no branch.",
    security(("bearer_token" = [])),
    params(("commit_id" = String, Path, description = "`<chain>.<version>`, e.g. `main.7`")),
    responses(
        (status = 200, description = "The commit", body = CommitInfo),
        (status = 400, description = "Invalid graph id in the path (multi mode), or a malformed commit id", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this read", body = ErrorBody),
        (status = 404, description = "Unknown graph or commit", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn get(
    access: GraphAccess,
    path: Result<ApiPath<HashMap<String, String>>, ApiError>,
) -> Result<ApiJson<CommitInfo>, HttpError> {
    // The chain part of `<chain>.<version>` names the branch the read is authorized on.
    let chain = path.and_then(|ApiPath(p)| {
        let id = p
            .get("commit_id")
            .cloned()
            .ok_or_else(|| ApiError::bad_request("missing commit id in the path"))?;
        let (chain, _) = parse_commit_id(&id).map_err(|e| engine_error(e.into()))?;
        Ok((chain, id))
    });
    let (chain, id) = match chain {
        Ok(c) => c,
        Err(e) => {
            access.authorize_on(PolicyAction::Read, None)?;
            return Err(e.into());
        }
    };
    let graph = access.graph_handle().graph().await?;
    let context = match branch_of_chain(&graph, &chain).await? {
        Some(branch) => RequestContext::on_branch(branch),
        None => RequestContext::none(),
    };
    access.authorize(PolicyAction::Read, &context)?;
    let (commit, _) = graph.commit(&id).await?;
    Ok(ApiJson(commit_info(commit)))
}
