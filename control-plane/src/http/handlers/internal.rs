//! Internal routes for data-plane workers (guarded by `auth::require_internal`):
//! registration and registry pull.

use axum::extract::State;
use omnigraph_api::{ErrorBody, RegistryDocument, WorkerAuth, WorkerRegistration};
use omnigraph_http::{ApiError, ApiJson};
use reqwest::Url;

use crate::state::AppState;

/// Longest accepted worker id.
const MAX_WORKER_ID_LEN: usize = 128;

/// `POST /internal/workers`: a worker announces `{ worker_id, url }` and receives the
/// current registry. Pushes to it start at once.
#[utoipa::path(
    post,
    path = "/internal/workers",
    operation_id = "internal_workers_register",
    tag = "internal",
    summary = "A worker registers and receives the registry",
    description = "Not for clients: data-plane workers call it at start. Pushes to the \
        worker's `url` start at once.",
    security(("internal_token" = [])),
    request_body = WorkerRegistration,
    responses(
        (status = 200, description = "The current registry", body = RegistryDocument),
        (status = 400, description = "Invalid body, worker id or url", body = ErrorBody),
        (status = 401, description = "Missing or wrong internal token", body = ErrorBody),
        (status = 403, description = "No internal token configured and the peer is not loopback, or this control plane has bearer tokens and the worker does not say `auth: bearer` (an open-mode worker would ignore every graph policy)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
    )
)]
pub async fn register_worker(
    State(state): State<AppState>,
    ApiJson(registration): ApiJson<WorkerRegistration>,
) -> Result<ApiJson<RegistryDocument>, ApiError> {
    let worker_id = validate_worker_id(&registration.worker_id)?;
    let url = validate_worker_url(&registration.url)?;
    if !state.auth.is_open() && registration.auth != Some(WorkerAuth::Bearer) {
        tracing::error!(
            worker_id,
            %url,
            auth = ?registration.auth,
            "registration refused: this control plane has bearer tokens and the worker does not authenticate"
        );
        return Err(ApiError::forbidden(format!(
            "worker '{worker_id}' does not authenticate its clients (auth: {}), and this \
             control plane has bearer tokens: an open-mode worker would ignore every graph \
             policy. Start the worker with the deployment's bearer tokens, without \
             --unauthenticated",
            match registration.auth {
                Some(WorkerAuth::Open) => "open",
                Some(WorkerAuth::Bearer) => "bearer",
                None => "not said",
            }
        )));
    }
    // The document first: the push task then has nothing older to send.
    let document = state.registry.document();
    state.workers.register(worker_id, url);
    Ok(ApiJson((*document).clone()))
}

/// `GET /internal/registry`: the current registry (workers pull it at start and
/// periodically).
#[utoipa::path(
    get,
    path = "/internal/registry",
    operation_id = "internal_registry_get",
    tag = "internal",
    summary = "The current registry",
    description = "Not for clients: workers pull it at start and periodically.",
    security(("internal_token" = [])),
    responses(
        (status = 200, description = "The registry at its current generation", body = RegistryDocument),
        (status = 401, description = "Missing or wrong internal token", body = ErrorBody),
        (status = 403, description = "No internal token configured and the peer is not loopback", body = ErrorBody),
    )
)]
pub async fn get_registry(State(state): State<AppState>) -> ApiJson<RegistryDocument> {
    ApiJson((*state.registry.document()).clone())
}

fn validate_worker_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(ApiError::bad_request("`worker_id` is empty"));
    }
    if id.len() > MAX_WORKER_ID_LEN {
        return Err(ApiError::bad_request(format!(
            "`worker_id` has {} bytes, at most {MAX_WORKER_ID_LEN} are allowed",
            id.len()
        )));
    }
    if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::bad_request(
            "`worker_id` may not contain whitespace or control characters",
        ));
    }
    Ok(id.to_owned())
}

fn validate_worker_url(raw: &str) -> Result<Url, ApiError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| ApiError::bad_request(format!("`url` {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ApiError::bad_request(format!(
            "`url` {raw:?} must be an http:// or https:// URL with a host"
        )));
    }
    Ok(url)
}
