//! `POST /export`: the graph as NDJSON (the ingest format), streamed batch by batch.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use omnigraph_api::{ApiError, ApiJson, ExportRequest, NDJSON_CONTENT_TYPE};
use omnigraph_engine::{export_stream, ExportFilter};

use crate::server::auth::{check_branch, Authorized, ReadAction};
use crate::server::error::engine_error;

pub async fn export(
    auth: Authorized<ReadAction>,
    ApiJson(req): ApiJson<ExportRequest>,
) -> Result<Response, ApiError> {
    check_branch(req.branch.as_deref())?;
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot(None).await.map_err(engine_error)?;
    let filter = ExportFilter {
        types: req.types.unwrap_or_default(),
    };
    let mut chunks = export_stream(snap, filter);
    // An export that cannot start answers with an error status; one that fails later
    // aborts the body, so a client never takes a truncated export for a whole one.
    let first = match chunks.recv().await {
        Some(Err(e)) => return Err(engine_error(e)),
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
