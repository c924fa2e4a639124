//! `GET /healthz`.

use crate::server::error::HttpError;
use axum::extract::State;
use omnigraph_api::{AuthModeReport, ErrorBody, HealthResponse, HealthStatus, ReadyResponse};
use omnigraph_http::{ApiError, ApiJson};
use serde::Serialize;
use utoipa::ToSchema;

use crate::server::state::AppState;

/// The shared health answer plus `ready`: the worker has applied a registry generation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerHealth {
    #[serde(flatten)]
    pub health: HealthResponse,
    /// True once the worker has applied a registry generation.
    pub ready: bool,
    pub worker_id: String,
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    summary = "Liveness, readiness and registry generation",
    responses((status = 200, description = "The worker is serving; `ready` once it has a registry generation", body = WorkerHealth))
)]
pub async fn healthz(State(state): State<AppState>) -> ApiJson<WorkerHealth> {
    let generation = state.registry.generation();
    let open = state.registry.auth().is_open();
    let mut warnings = Vec::new();
    if open {
        warnings.push("open mode (--unauthenticated): every request is allowed".to_owned());
    }
    if generation.is_none() {
        warnings.push("no registry generation applied yet".to_owned());
    }
    ApiJson(WorkerHealth {
        health: HealthResponse {
            status: HealthStatus::Ok,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            auth: if open {
                AuthModeReport::Open
            } else {
                AuthModeReport::Bearer
            },
            mode: Some(state.mode),
            registry_generation: generation,
            config_drift: None,
            workers: None,
            warnings,
        },
        ready: generation.is_some(),
        worker_id: state.worker_id.clone(),
    })
}

/// Readiness for load balancers and Kubernetes: 200 only once the worker has applied a
/// registry generation (until then it knows no graph and would answer 404 for all).
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    summary = "Readiness: ready once a registry generation is applied",
    responses(
        (status = 200, description = "Ready to serve graph requests", body = ReadyResponse),
        (status = 503, description = "No registry generation applied yet", body = ErrorBody),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<ApiJson<ReadyResponse>, HttpError> {
    match state.registry.generation() {
        Some(generation) => Ok(ApiJson(ReadyResponse {
            ready: true,
            registry_generation: generation,
        })),
        None => Err(ApiError::service_unavailable(
            "not ready: no registry generation applied yet (waiting for the control plane or omnigraph.yaml)",
        )
        .into()),
    }
}
