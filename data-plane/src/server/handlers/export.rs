//! `POST /export`: the graph as NDJSON (the ingest format), streamed batch by batch.

use crate::server::error::HttpError;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use omnigraph_api::{ErrorBody, ExportRequest, NDJSON_CONTENT_TYPE};
use omnigraph_engine::{export_stream, ExportFilter};
use omnigraph_http::{ApiError, ApiJson};

use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};

#[utoipa::path(
    post,
    path = "/export",
    operation_id = "export",
    tag = "graph",
    summary = "Stream the graph as NDJSON",
    security(("bearer_token" = [])),
    request_body = ExportRequest,
    responses(
        (status = 200, description = "NDJSON in the ingest format, streamed; an error after the first line aborts the body", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid body or unknown type name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn export(
    access: GraphAccess,
    body: Result<ApiJson<ExportRequest>, ApiError>,
) -> Result<Response, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::Export, body.map(|b| b.0), |r| {
        RequestContext::on_branch(branch_or_main(r.branch.as_deref()))
    })?;
    let graph = auth.graph.graph().await?;
    let snap = graph
        .snapshot_on(branch_or_main(req.branch.as_deref()), None)
        .await?;
    let filter = ExportFilter {
        types: req.types.unwrap_or_default(),
    };
    let mut chunks = export_stream(snap, filter);
    // An export that cannot start answers with an error status; one that fails later
    // aborts the body, so a client never takes a truncated export for a whole one.
    let first = match chunks.recv().await {
        Some(Err(e)) => return Err(e.into()),
        other => other,
    };
    let body = futures::stream::unfold((first, chunks), |(first, mut rx)| async move {
        let item = match first {
            Some(item) => item,
            None => rx.recv().await?,
        };
        let item = item
            .map(Bytes::from)
            .map_err(|e| std::io::Error::other(e.to_string()));
        Some((item, (None, rx)))
    });
    Ok((
        [(header::CONTENT_TYPE, NDJSON_CONTENT_TYPE)],
        Body::from_stream(body),
    )
        .into_response())
}
