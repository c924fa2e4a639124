//! `POST /internal/registry`: the control plane pushes a registry generation.

use crate::server::error::HttpError;
use axum::extract::State;
use omnigraph_api::{ErrorBody, RegistryAck, RegistryDocument};
use omnigraph_http::{ApiError, ApiJson};

use crate::server::state::AppState;

#[utoipa::path(
    post,
    path = "/internal/registry",
    operation_id = "internal_registry_push",
    tag = "internal",
    summary = "The control plane pushes a registry generation",
    description = "Applied only when its generation is newer than the worker's. \
        Not for clients: the control plane calls it.",
    security(("internal_token" = [])),
    request_body = RegistryDocument,
    responses(
        (status = 200, description = "The worker's generation after the push", body = RegistryAck),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or wrong internal token", body = ErrorBody),
        (status = 403, description = "No internal token configured and the peer is not loopback, or the document gives a graph a policy and this worker runs in open mode (it could not enforce it)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn push_registry(
    State(state): State<AppState>,
    ApiJson(doc): ApiJson<RegistryDocument>,
) -> Result<ApiJson<RegistryAck>, HttpError> {
    let applied = state.registry.apply(&doc, false).map_err(|e| {
        tracing::error!("pushed registry refused: {e}");
        ApiError::forbidden(e.to_string())
    })?;
    Ok(ApiJson(RegistryAck {
        worker_id: state.worker_id.clone(),
        generation: state.registry.generation().unwrap_or(doc.generation),
        applied,
    }))
}
