//! `POST /export`: the graph as NDJSON (the ingest format).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use omnigraph_api::{ApiError, ApiJson, ExportRequest, NDJSON_CONTENT_TYPE};
use omnigraph_engine::{export as export_graph, ExportFilter};

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
    let mut out: Vec<u8> = Vec::new();
    export_graph(&snap, &filter, &mut out)
        .await
        .map_err(engine_error)?;
    Ok(([(header::CONTENT_TYPE, NDJSON_CONTENT_TYPE)], out).into_response())
}
