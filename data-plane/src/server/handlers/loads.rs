//! The streamed loads: `POST /load/ndjson` (a raw NDJSON body), `POST /load/csv` and
//! `POST /load/parquet` (one type's file) and `POST /load/files` (several types' CSV and
//! Parquet files as the parts of one multipart body), optionally gzip, each one atomic load
//! with no body size cap but the worker's `--max-load-bytes`: the rows are written as they
//! arrive (server/body_reader.rs), or the files spooled to temporary files first, so memory
//! holds the keys, not the body.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use omnigraph_api::{
    EntitiesLoaded, ErrorBody, IngestMode, LoadNdjsonQuery, LoadNdjsonResponse, LoadProgress,
    LoadTableQuery, NDJSON_CONTENT_TYPE,
};
use omnigraph_engine::{load_files_on, load_on, EngineError, TableFile, TableFormat, TableSource};
use omnigraph_http::{ApiError, ApiJson, ApiQuery};
use omnigraph_policy::{PolicyAction, RequestContext};
use tracing::Instrument;

use super::ingest::{create_branch_from, load_mode};
use crate::server::auth::{branch_or_main, Authorized, GraphAccess};
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
        (status = 200, description = "Rows loaded and published as one new version; with `progress=true`, NDJSON lines `{\"progress\": LoadProgress}` and a last `{\"result\": LoadNdjsonResponse}` or `{\"error\": ErrorBody}`", content((LoadNdjsonResponse = "application/json"), (String = "application/x-ndjson"))),
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
) -> Result<Response, HttpError> {
    let (auth, q) = access.authorize_body(PolicyAction::Change, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    stream_load(&access, auth, q.into(), &headers, body, Input::Ndjson).await
}

#[utoipa::path(
    post,
    path = "/load/csv",
    operation_id = "load_csv",
    tag = "graph",
    summary = "Stream a CSV file of one node or edge type into one atomic load",
    description = "The body is the CSV (gzip with `Content-Encoding: gzip`), read as it arrives: a header row naming the type's properties (an edge file's `from` and `to` name its endpoints' keys), cells converted by the property types (integers to the schema's width, `true`/`false`, lists and vectors as JSON arrays; an empty cell is null). Bounded like `POST /load/ndjson`; errors name the line and column.",
    security(("bearer_token" = [])),
    params(LoadTableQuery),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "Rows loaded and published as one new version (with `progress=true`: progress lines, then the outcome)", content((LoadNdjsonResponse = "application/json"), (String = "application/x-ndjson"))),
        (status = 400, description = "Invalid graph id in the path (multi mode), a missing or unknown `type` or `mode`, an unknown column, an unknown Content-Encoding, or bad rows (the message names each, with its line); nothing was loaded", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph, or a branch that does not exist (and no `from`), or an unknown `from` branch", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "The body (decompressed) is over the worker's --max-load-bytes; nothing was loaded", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn load_csv(
    access: GraphAccess,
    query: Result<ApiQuery<LoadTableQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    load_table(access, query, headers, body, TableFormat::Csv).await
}

#[utoipa::path(
    post,
    path = "/load/parquet",
    operation_id = "load_parquet",
    tag = "graph",
    summary = "Load a Parquet file of one node or edge type as one atomic load",
    description = "The body is the Parquet file. Parquet is read from its end, so the body is first written to a temporary file (bounded by --max-load-bytes), then loaded; columns as for `POST /load/csv`, with their own Parquet types.",
    security(("bearer_token" = [])),
    params(LoadTableQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.apache.parquet"),
    responses(
        (status = 200, description = "Rows loaded and published as one new version (with `progress=true`: progress lines, then the outcome)", content((LoadNdjsonResponse = "application/json"), (String = "application/x-ndjson"))),
        (status = 400, description = "Invalid graph id in the path (multi mode), a missing or unknown `type` or `mode`, a body that is not Parquet, or bad rows (the message names each, with its row + 1); nothing was loaded", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph, or a branch that does not exist (and no `from`), or an unknown `from` branch", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "The body is over the worker's --max-load-bytes; nothing was loaded", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn load_parquet(
    access: GraphAccess,
    query: Result<ApiQuery<LoadTableQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    load_table(access, query, headers, body, TableFormat::Parquet).await
}

async fn load_table(
    access: GraphAccess,
    query: Result<ApiQuery<LoadTableQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
    format: TableFormat,
) -> Result<Response, HttpError> {
    let (auth, q) = access.authorize_body(PolicyAction::Change, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let target = Target {
        branch: q.branch,
        from: q.from,
        mode: q.mode,
        progress: q.progress,
    };
    let input = Input::Table(format, q.type_name);
    stream_load(&access, auth, target, &headers, body, input).await
}

#[utoipa::path(
    post,
    path = "/load/files",
    operation_id = "load_files",
    tag = "graph",
    summary = "Load several node and edge types' CSV and Parquet files as one atomic load",
    description = "The body is `multipart/form-data` (gzip with `Content-Encoding: gzip`): one part per file, the part's name the node or edge type its rows are, its `Content-Type` `text/csv` or `application/vnd.apache.parquet` (without one, a filename ending in `.parquet` is Parquet, any other CSV). The files are those of `POST /load/csv` and `POST /load/parquet`, loaded in the order of the parts as one change: all of them or nothing, errors naming the part's filename (or type) and the line. The body is written to temporary files first (bounded by --max-load-bytes), so edges may name nodes of a later part.",
    security(("bearer_token" = [])),
    params(LoadNdjsonQuery),
    request_body(content = std::collections::HashMap<String, String>, content_type = "multipart/form-data", description = "One part per file: the part's name is the node or edge type, its content the file."),
    responses(
        (status = 200, description = "Rows loaded and published as one new version (with `progress=true`: progress lines, then the outcome)", content((LoadNdjsonResponse = "application/json"), (String = "application/x-ndjson"))),
        (status = 400, description = "Invalid graph id in the path (multi mode), a missing or unknown `mode`, a body that is not multipart/form-data (or has no boundary, or is malformed), a part without a name, an unknown type, a part that is neither CSV nor Parquet, no part at all or more than 256, an unknown Content-Encoding, or bad rows (the message names each, with its part and line); nothing was loaded", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph, or a branch that does not exist (and no `from`), or an unknown `from` branch", body = ErrorBody),
        (status = 409, description = "A concurrent writer published first (`manifest_conflict`), or a duplicate key in append mode", body = ErrorBody),
        (status = 413, description = "The body (decompressed) is over the worker's --max-load-bytes; nothing was loaded", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn load_files(
    access: GraphAccess,
    query: Result<ApiQuery<LoadNdjsonQuery>, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let (auth, q) = access.authorize_body(PolicyAction::Change, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::bad_request(format!(
            "the body must be multipart/form-data with a boundary (Content-Type: `{content_type}`)"
        ))
    })?;
    let input = Input::Files(boundary);
    stream_load(&access, auth, q.into(), &headers, body, input).await
}

/// What a streamed load's body holds.
enum Input {
    Ndjson,
    /// One type's file.
    Table(TableFormat, String),
    /// Several types' files, the parts of a multipart body with this boundary.
    Files(String),
}

/// Where a streamed load goes, and how it answers.
struct Target {
    branch: Option<String>,
    from: Option<String>,
    mode: IngestMode,
    progress: bool,
}

impl From<LoadNdjsonQuery> for Target {
    fn from(q: LoadNdjsonQuery) -> Self {
        Target {
            branch: q.branch,
            from: q.from,
            mode: q.mode,
            progress: q.progress,
        }
    }
}

/// The body (NDJSON, one type's CSV or Parquet file, or several in a multipart body, as
/// `input` says) loaded as one change in a task of its own: the body arrives through this
/// connection's task (which polls this handler), and the loader waits for it blocking.
async fn stream_load(
    access: &GraphAccess,
    auth: Authorized,
    target: Target,
    headers: &HeaderMap,
    body: Body,
    input_kind: Input,
) -> Result<Response, HttpError> {
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Content-Encoding `{other}` is not supported: send the body as is or gzip"
            ))
            .into())
        }
    };
    let branch = branch_or_main(target.branch.as_deref()).to_owned();
    let graph = auth.graph.graph().await?;
    if let Some(from) = &target.from {
        create_branch_from(access, &graph, &branch, from, auth.actor_name()).await?;
    }
    // An unknown type is refused before the answer starts (with progress, a later error
    // could only be the answer's last line).
    if let Input::Table(_, type_name) = &input_kind {
        let snap = graph.snapshot_on(&branch, None).await?;
        if snap.catalog.node(type_name).is_none() && snap.catalog.edge(type_name).is_none() {
            return Err(ApiError::bad_request(format!(
                "unknown node or edge type `{type_name}` (query parameter `type`)"
            ))
            .into());
        }
    }
    let settings = access.load_settings();
    let limits = BodyLimits::new(
        settings.max_bytes,
        MAX_LINE_BYTES,
        settings.idle,
        settings.total,
    );
    let input = ndjson_reader(body, gzip, limits.clone());
    let load = {
        let (graph, branch, actor) = (graph.clone(), branch.clone(), auth.actor_name().to_string());
        let mode = load_mode(target.mode);
        let kind = omnigraph_engine::storage_metrics::current_kind();
        let graph_id = auth.graph.graph_id.clone();
        let work = async move {
            let loaded = match input_kind {
                Input::Ndjson => load_on(&graph, &branch, input, mode, &actor).await,
                Input::Files(boundary) => match multipart_files(input, boundary).await {
                    Ok(files) => load_files_on(&graph, &branch, files, mode, &actor).await,
                    Err(e) => Err(e),
                },
                Input::Table(format, type_name) => {
                    let source = match format {
                        TableFormat::Csv => TableSource::Reader(Box::new(input)),
                        // Parquet is read from its end: spool the body to a file first.
                        TableFormat::Parquet => TableSource::File(spool(input)?),
                    };
                    let file = TableFile {
                        label: format!("the {type_name} file"),
                        type_name,
                        format,
                        source,
                    };
                    load_files_on(&graph, &branch, vec![file], mode, &actor).await
                }
            };
            if let Ok(report) = &loaded {
                let rows = report.tables.iter().map(|t| t.rows_loaded).sum();
                crate::server::metrics::rows_loaded(&graph_id, rows);
            }
            loaded
        };
        tokio::spawn(
            omnigraph_engine::storage_metrics::with_request_kind(kind, work)
                .instrument(tracing::Span::current()),
        )
    };
    let (mode, actor_id) = (target.mode, auth.actor_id());
    if target.progress {
        return Ok(progress_stream(load, limits, branch, mode, actor_id));
    }
    let loaded = load
        .await
        .map_err(|e| ApiError::internal(format!("the load stopped: {e}")))?;
    Ok(ApiJson(outcome(loaded, &limits, branch, mode, actor_id)?).into_response())
}

/// The body written to an unnamed temporary file (gone when dropped), rewound.
fn spool(mut input: Box<dyn std::io::BufRead + Send>) -> Result<std::fs::File, EngineError> {
    use std::io::Seek;
    let unreadable = |e: std::io::Error| {
        EngineError::Load(vec![omnigraph_engine::error::LineError {
            line: 0,
            message: format!("unreadable body: {e}"),
        }])
    };
    let mut file = tempfile::tempfile()?;
    tokio::task::block_in_place(|| std::io::copy(&mut input, &mut file)).map_err(unreadable)?;
    file.rewind()?;
    Ok(file)
}

/// Parts a `POST /load/files` body may have: each is an open temporary file until the load
/// ends, so their number is bounded like the body's size.
const MAX_FILE_PARTS: usize = 256;

/// The parts of a multipart body, each written to a temporary file of its own (the body is
/// spooled first: it arrives through a blocking reader, with the load's limits).
async fn multipart_files(
    input: Box<dyn std::io::BufRead + Send>,
    boundary: String,
) -> Result<Vec<TableFile>, EngineError> {
    use std::io::{Seek, Write};
    let body = spool(input)?;
    let mut parts = multer::Multipart::with_reader(tokio::fs::File::from_std(body), boundary);
    let malformed =
        |e: multer::Error| EngineError::Invalid(format!("malformed multipart body: {e}"));
    let mut files = vec![];
    while let Some(mut part) = parts.next_field().await.map_err(malformed)? {
        let number = files.len() + 1;
        if number > MAX_FILE_PARTS {
            return Err(EngineError::Invalid(format!(
                "the multipart body has more than {MAX_FILE_PARTS} parts: send one file per node or edge type"
            )));
        }
        let Some(type_name) = part.name().filter(|n| !n.is_empty()).map(str::to_string) else {
            return Err(EngineError::Invalid(format!(
                "part {number} has no name: name each part by the node or edge type of its rows"
            )));
        };
        let file_name = part.file_name().map(str::to_string);
        let format = match (
            part.content_type().map(|m| m.essence_str().to_string()),
            &file_name,
        ) {
            (Some(m), _) if m == "text/csv" => TableFormat::Csv,
            (Some(m), _)
                if m == "application/vnd.apache.parquet" || m == "application/x-parquet" =>
            {
                TableFormat::Parquet
            }
            (None | Some(_), Some(f)) if f.ends_with(".parquet") => TableFormat::Parquet,
            (None, _) => TableFormat::Csv,
            (Some(m), _) if m == "application/octet-stream" || m == "text/plain" => {
                TableFormat::Csv
            }
            (Some(other), _) => {
                return Err(EngineError::Invalid(format!(
                "part `{type_name}` is `{other}`: send text/csv or application/vnd.apache.parquet"
            )))
            }
        };
        let mut file = tempfile::tempfile()?;
        while let Some(bytes) = part.chunk().await.map_err(malformed)? {
            tokio::task::block_in_place(|| file.write_all(&bytes))?;
        }
        file.rewind()?;
        files.push(TableFile {
            label: file_name.unwrap_or_else(|| format!("the {type_name} part")),
            type_name,
            format,
            source: TableSource::File(file),
        });
    }
    if files.is_empty() {
        return Err(EngineError::Invalid(
            "the multipart body has no part: send one file per node or edge type".into(),
        ));
    }
    Ok(files)
}

/// What the load task gives back.
type Loaded = Result<omnigraph_engine::LoadReport, EngineError>;

/// The answer of a finished load, or its error (413 when the body went past the limits).
fn outcome(
    loaded: Loaded,
    limits: &BodyLimits,
    branch: String,
    mode: IngestMode,
    actor_id: Option<String>,
) -> Result<LoadNdjsonResponse, HttpError> {
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
    Ok(LoadNdjsonResponse {
        branch,
        mode,
        manifest_version: report.version,
        nodes,
        edges,
        total_entities,
        bytes_read: limits.bytes_read(),
        actor_id,
    })
}

/// `?progress=true`: a progress line about every second while the load runs, then its
/// outcome as the last line.
fn progress_stream(
    mut load: tokio::task::JoinHandle<Loaded>,
    limits: BodyLimits,
    branch: String,
    mode: IngestMode,
    actor_id: Option<String>,
) -> Response {
    let started = std::time::Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.tick().await;
        let loaded = loop {
            tokio::select! {
                done = &mut load => break done,
                _ = tick.tick() => {
                    let seconds = started.elapsed().as_secs_f64();
                    let progress = LoadProgress {
                        bytes_read: limits.bytes_read(),
                        lines_read: limits.lines_read(),
                        seconds,
                        lines_per_second: limits.lines_read() as f64 / seconds.max(1e-3),
                    };
                    let line = serde_json::json!({ "progress": progress }).to_string();
                    if tx.send(line).await.is_err() {
                        // The client left: the load goes on to its end (or fails reading).
                    }
                }
            }
        };
        let last = match loaded {
            Err(e) => {
                serde_json::json!({ "error": { "error": format!("the load stopped: {e}"), "code": "internal" } })
            }
            Ok(loaded) => match outcome(loaded, &limits, branch, mode, actor_id) {
                Ok(result) => serde_json::json!({ "result": result }),
                Err(e) => serde_json::json!({ "error": e.0.body() }),
            },
        };
        let _ = tx.send(last.to_string()).await;
    });
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        Some((Ok::<_, std::io::Error>(Bytes::from(line + "\n")), rx))
    });
    (
        [(header::CONTENT_TYPE, NDJSON_CONTENT_TYPE)],
        Body::from_stream(lines),
    )
        .into_response()
}

/// How often a `?progress=true` load reports.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
