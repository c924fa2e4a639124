//! `GET /schema`.

use omnigraph_api::{ApiError, ApiJson, SchemaResponse};

use crate::server::auth::{Authorized, ReadAction};
use crate::server::error::engine_error;

pub async fn schema(auth: Authorized<ReadAction>) -> Result<ApiJson<SchemaResponse>, ApiError> {
    let graph = auth.graph.graph().await?;
    let snap = graph.snapshot(None).await.map_err(engine_error)?;
    Ok(ApiJson(SchemaResponse {
        schema_source: snap.manifest.schema_source.clone(),
    }))
}
