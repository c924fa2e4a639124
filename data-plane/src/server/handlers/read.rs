//! `POST /read` (alias `/query`).

use crate::server::error::HttpError;
use omnigraph_api::{ErrorBody, ReadRequest, ReadResponse, ReadTarget};
use omnigraph_engine::{QueryText, ReadAt};
use omnigraph_http::{ApiError, ApiJson};

use super::branches::branch_of_chain;
use super::params_or_empty;
use super::tags::tag_for_read;
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
        (status = 400, description = "Invalid graph id in the path (multi mode), a body or query that does not parse or type-check, or `tag` with `branch` or `snapshot`", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph, branch or tag", body = ErrorBody),
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
    let body = body.map(|b| b.0);
    // A read at a tag is authorized on the branch its commit belongs to now (no branch for
    // a deleted branch's commit); a refused caller learns nothing about the tag.
    let at_tag = match &body {
        Ok(ReadRequest {
            tag: Some(name),
            branch,
            snapshot,
            ..
        }) => Some(if branch.is_some() || snapshot.is_some() {
            Err(ApiError::bad_request(
                "`tag` reads one commit: give it without `branch` and `snapshot`",
            )
            .into())
        } else {
            match access.graph_handle().graph().await {
                Ok(graph) => tag_for_read(&graph, name).await,
                Err(e) => Err(e.into()),
            }
        }),
        _ => None,
    };
    let (auth, req, tag) = match at_tag {
        None => {
            let (auth, req) = access.authorize_body(PolicyAction::Read, body, |r| {
                RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
            })?;
            (auth, req, None)
        }
        Some(Ok((tag, context))) => {
            let (auth, req) = access.authorize_body(PolicyAction::Read, body, |_| context)?;
            (auth, req, Some(tag))
        }
        Some(Err(e)) => {
            access.authorize_on(PolicyAction::Read, None)?;
            return Err(e);
        }
    };
    let _slot = access.admit_read()?;
    let budget = access.query_limits().budget(req.timeout_ms)?;
    let graph = auth.graph.graph().await?;
    let own_branch = branch_or_main(req.branch.as_deref()).to_owned();
    let at = match &tag {
        Some(tag) => ReadAt::Commit(&tag.commit),
        None => ReadAt::Branch {
            branch: &own_branch,
            version: req.snapshot,
        },
    };
    let text = QueryText::new(&req.query_source, req.query_name.as_deref());
    let params = params_or_empty(req.params);
    let answer = omnigraph_engine::read(&graph, at, text, &params, &budget).await?;
    // A tag's version answers with the branch its chain belongs to, if that branch is
    // still there.
    let branch = match tag.as_ref().map(|t| t.chain()) {
        None => Some(own_branch),
        Some(Some(chain)) => branch_of_chain(&graph, &chain).await?,
        Some(None) => None,
    };
    let (result, snap) = (answer.result, answer.snapshot);
    Ok(ApiJson(ReadResponse {
        query_name: answer.query_name,
        target: ReadTarget {
            branch,
            manifest_version: snap.manifest.version,
        },
        row_count: result.rows.len() as u64,
        columns: result.columns,
        rows: result.rows,
    }))
}
