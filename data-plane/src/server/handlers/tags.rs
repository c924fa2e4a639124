//! `GET /tags`, `POST /tags`, `GET /tags/{name}`, `DELETE /tags/{name}`: names for commits
//! that version cleanup keeps until the tag is deleted (shared/engine/src/tag.rs). Cedar
//! actions `tag_list`, `tag_create` (with `read` of the branch the commit belongs to) and
//! `tag_delete`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use omnigraph_api::{CreateTagRequest, ErrorBody, TagInfo, TagListResponse};
use omnigraph_engine::branch::parse_commit_id;
use omnigraph_engine::tag::{Tag, TagTarget};
use omnigraph_engine::Graph;
use omnigraph_http::{ApiError, ApiJson, ApiPath};
use omnigraph_policy::{PolicyAction, RequestContext};

use super::branches::branch_of_chain;
use crate::server::auth::GraphAccess;
use crate::server::error::HttpError;

fn tag_info(t: Tag) -> TagInfo {
    TagInfo {
        manifest_version: t.manifest_version(),
        name: t.name,
        commit_id: t.commit,
        created_at: t.created_at,
        created_by: t.actor,
    }
}

/// The context in which reading commit `id` is authorized: the branch its chain belongs to
/// now, or no branch (a deleted branch's commits), as `GET /commits/{commit_id}` does.
async fn commit_context(graph: &Arc<Graph>, id: &str) -> Result<RequestContext, HttpError> {
    let (chain, _) = parse_commit_id(id)?;
    Ok(match branch_of_chain(graph, &chain).await? {
        Some(branch) => RequestContext::on_branch(branch),
        None => RequestContext::none(),
    })
}

/// Tag `name` and the context a read at it is authorized in (`POST /read` with `tag`).
pub async fn tag_for_read(
    graph: &Arc<Graph>,
    name: &str,
) -> Result<(Tag, RequestContext), HttpError> {
    let tag = graph
        .tag(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tag {name}")))?;
    let context = commit_context(graph, &tag.commit).await?;
    Ok((tag, context))
}

fn name_in_path(
    path: Result<ApiPath<HashMap<String, String>>, ApiError>,
) -> Result<String, ApiError> {
    path.and_then(|ApiPath(p)| {
        p.get("name")
            .cloned()
            .ok_or_else(|| ApiError::bad_request("missing tag name in the path"))
    })
}

#[utoipa::path(
    get,
    path = "/tags",
    operation_id = "tag_list",
    tag = "branches",
    summary = "List the graph's tags",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "Every tag, by name, with the commit it names", body = TagListResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode)", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `tag_list`", body = ErrorBody),
        (status = 404, description = "Unknown graph", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn list(access: GraphAccess) -> Result<ApiJson<TagListResponse>, HttpError> {
    let auth = access.authorize(PolicyAction::TagList, &RequestContext::none())?;
    let graph = auth.graph.graph().await?;
    let tags = graph.tags().await?.into_iter().map(tag_info).collect();
    Ok(ApiJson(TagListResponse { tags }))
}

#[utoipa::path(
    post,
    path = "/tags",
    operation_id = "tag_create",
    tag = "branches",
    summary = "Tag a commit",
    description = "Names a commit, given by its id or as a branch's head. Version cleanup keeps \
    the tagged version and everything it reads until the tag is deleted; `POST /read` with \
    `tag` reads it. Two creations of one name: one wins, the other gets 409.",
    security(("bearer_token" = [])),
    request_body = CreateTagRequest,
    responses(
        (status = 201, description = "The tag", body = TagInfo),
        (status = 400, description = "Invalid graph id in the path (multi mode), a body that does not parse, an invalid tag name, a malformed commit id or branch name, or not exactly one of `commit` and `branch`", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `tag_create`, or `read` of the branch the commit belongs to", body = ErrorBody),
        (status = 404, description = "Unknown graph, branch or commit", body = ErrorBody),
        (status = 409, description = "A tag of that name exists", body = ErrorBody),
        (status = 410, description = "`version_reclaimed`: the commit was deleted by version cleanup", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn create(
    access: GraphAccess,
    body: Result<ApiJson<CreateTagRequest>, ApiError>,
) -> Result<(StatusCode, ApiJson<TagInfo>), HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::TagCreate, body.map(|b| b.0), |_| {
        RequestContext::none()
    })?;
    let target = match (&req.commit, &req.branch) {
        (Some(commit), None) => TagTarget::Commit(commit),
        (None, Some(branch)) => TagTarget::Branch(branch),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `commit` (a commit id) and `branch` (tag its head)",
            )
            .into())
        }
    };
    let graph = auth.graph.graph().await?;
    // A tag reveals and keeps the commit's data: its creator must be allowed to read it.
    let context = match target {
        TagTarget::Branch(branch) => RequestContext::on_branch(branch),
        TagTarget::Commit(id) => commit_context(&graph, id).await?,
    };
    access.check_policy(PolicyAction::Read, &context)?;
    let tag = graph
        .create_tag(&req.name, target, auth.actor_name())
        .await?;
    Ok((StatusCode::CREATED, ApiJson(tag_info(tag))))
}

#[utoipa::path(
    get,
    path = "/tags/{name}",
    operation_id = "tag_get",
    tag = "branches",
    summary = "One tag",
    description = "A name with `/` is sent percent-encoded (`release%2F1.0`).",
    security(("bearer_token" = [])),
    params(("name" = String, Path, description = "Tag name")),
    responses(
        (status = 200, description = "The tag", body = TagInfo),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid tag name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `tag_list`", body = ErrorBody),
        (status = 404, description = "Unknown graph or tag", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn get(
    access: GraphAccess,
    path: Result<ApiPath<HashMap<String, String>>, ApiError>,
) -> Result<ApiJson<TagInfo>, HttpError> {
    let (auth, name) = access.authorize_body(PolicyAction::TagList, name_in_path(path), |_| {
        RequestContext::none()
    })?;
    let graph = auth.graph.graph().await?;
    let tag = graph
        .tag(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tag {name}")))?;
    Ok(ApiJson(tag_info(tag)))
}

#[utoipa::path(
    delete,
    path = "/tags/{name}",
    operation_id = "tag_delete",
    tag = "branches",
    summary = "Delete a tag",
    description = "From then on version cleanup may reclaim the commit (unless a branch, \
    another tag or the retention keeps it). A name with `/` is sent percent-encoded.",
    security(("bearer_token" = [])),
    params(("name" = String, Path, description = "Tag name")),
    responses(
        (status = 200, description = "Deleted; the tag as it was", body = TagInfo),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid tag name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `tag_delete`", body = ErrorBody),
        (status = 404, description = "Unknown graph or tag", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn delete(
    access: GraphAccess,
    path: Result<ApiPath<HashMap<String, String>>, ApiError>,
) -> Result<ApiJson<TagInfo>, HttpError> {
    let (auth, name) =
        access.authorize_body(PolicyAction::TagDelete, name_in_path(path), |_| {
            RequestContext::none()
        })?;
    let graph = auth.graph.graph().await?;
    let tag = graph.delete_tag(&name).await?;
    Ok(ApiJson(tag_info(tag)))
}
