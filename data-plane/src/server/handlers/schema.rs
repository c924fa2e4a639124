//! `GET /schema`.

use omnigraph_api::{ApiError, ApiJson, ErrorBody, SchemaResponse};

use crate::server::auth::{Authorized, ReadAction};
use crate::server::error::engine_error;

#[utoipa::path(
    get,
    path = "/schema",
    operation_id = "schema_get",
    tag = "graph",
    summary = "The accepted schema text",
    security(("bearer_token" = [])),
    responses(
        (status = 200, description = "The schema the graph was initialised with", body = SchemaResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode)", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn schema(auth: Authorized<ReadAction>) -> Result<ApiJson<SchemaResponse>, ApiError> {
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot(None).await.map_err(engine_error)?;
    Ok(ApiJson(SchemaResponse {
        schema_source: snap.manifest.schema_source.clone(),
    }))
}
