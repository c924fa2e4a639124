//! `POST /load/ndjson`: a raw NDJSON body (optionally gzip) streamed into one atomic load,
//! with no body size cap but the worker's `--max-load-bytes`: the rows are written as they
//! arrive (server/body_reader.rs), so memory holds the keys, not the body.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use omnigraph_api::{
    ApiError, ApiJson, ApiQuery, EntitiesLoaded, ErrorBody, LoadNdjsonQuery, LoadNdjsonResponse,
};
use omnigraph_engine::{load_on, EngineError};
use omnigraph_policy::{PolicyAction, RequestContext};
use tracing::Instrument;

use super::ingest::{create_branch_from, load_mode};
use crate::server::auth::{branch_or_main, GraphAccess};
use crate::server::body_reader::{ndjson_reader, BodyLimits};
use crate::server::error::HttpError;

/// The longest line a streamed load accepts (a line is held whole while it is parsed).
const MAX_LINE_BYTES: usize = 16 << 20;

#[utoipa::path(
    post,
    path = "/load/ndjson",
    operation_id = "load_ndjson",
    tag = "graph",
    summary = "Stream NDJSON rows into one atomic load",
    description = "The body is the NDJSON itself (`application/x-ndjson`, or gzip with `Content-Encoding: gzip`), read as it arrives: no 32 MiB cap, only the worker's `--max-load-bytes`. Any bad line loads nothing; the error names each bad line.",
    security(("bearer_token" = [])),
    params(LoadNdjsonQuery),
    request_body(content = String, content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "Rows loaded and published as one new version", body = LoadNdjsonResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), a missing or unknown `mode`, an unknown Content-Encoding, invalid gzip, or bad lines (the message names each, with its line number); nothing was loaded", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph, or a branch that does not exist (and no `from`), or an unknown `from` branch", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "The body (decompressed) is over the worker's --max-load-bytes, or a line is over 16 MiB; nothing was loaded", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn load_ndjson(
    access: GraphAccess,
    query: Result<ApiQuery<LoadNdjsonQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<ApiJson<LoadNdjsonResponse>, HttpError> {
    let (auth, q) = access.authorize_body(PolicyAction::Change, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Content-Encoding `{other}` is not supported: send the NDJSON as is or gzip"
            ))
            .into())
        }
    };
    let branch = branch_or_main(q.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    if let Some(from) = &q.from {
        create_branch_from(&access, &graph, &branch, from, auth.actor_name()).await?;
    }
    let settings = access.load_settings();
    let limits = BodyLimits::new(settings.max_bytes, MAX_LINE_BYTES, settings.idle);
    let input = ndjson_reader(body, gzip, limits.clone());
    // The load runs in a task of its own: the body arrives through this connection's task
    // (which polls this handler), and the loader waits for it blocking.
    let load = {
        let (graph, branch, actor) = (graph.clone(), branch.clone(), auth.actor_name().to_string());
        let mode = load_mode(q.mode);
        let kind = omnigraph_engine::storage_metrics::current_kind();
        let work = async move { load_on(&graph, &branch, input, mode, &actor).await };
        tokio::spawn(
            omnigraph_engine::storage_metrics::with_request_kind(kind, work)
                .instrument(tracing::Span::current()),
        )
    };
    let loaded = load
        .await
        .map_err(|e| ApiError::internal(format!("the load stopped: {e}")))?;
    let report = match loaded {
        Ok(report) => report,
        Err(EngineError::Load(_)) if limits.exceeded() => {
            return Err(ApiError::payload_too_large(format!(
                "the load is over the worker's limits ({} bytes in all, {} bytes per line); nothing was loaded",
                limits.max_bytes, MAX_LINE_BYTES
            ))
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let mut nodes = vec![];
    let mut edges = vec![];
    for t in &report.tables {
        let entry = |name: &str| EntitiesLoaded {
            name: name.to_string(),
            entities_loaded: t.rows_loaded,
        };
        if let Some(name) = t.table_key.strip_prefix("node:") {
            nodes.push(entry(name));
        } else if let Some(name) = t.table_key.strip_prefix("edge:") {
            edges.push(entry(name));
        }
    }
    let total_entities = report.tables.iter().map(|t| t.rows_loaded).sum();
    crate::server::metrics::rows_loaded(&auth.graph.graph_id, total_entities);
    Ok(ApiJson(LoadNdjsonResponse {
        branch,
        mode: q.mode,
        manifest_version: report.version,
        nodes,
        edges,
        total_entities,
        bytes_read: limits.bytes_read(),
        actor_id: auth.actor_id(),
    }))
}
