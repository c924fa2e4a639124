//! `GET /healthz`: public; status, version, mode, auth, drift, generation, workers.

use axum::extract::State;
use omnigraph_api::{
    ApiJson, AuthModeReport, HealthResponse, HealthStatus, ReadyResponse, ServeMode, WorkerStatus,
};
use omnigraph_config::ConfigMode;
use omnigraph_policy::AuthMode;

use crate::state::AppState;

/// Health of the control plane. `status` is `degraded` while omnigraph.yaml has
/// drifted; per-worker push errors and open mode are listed in `warnings`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    summary = "Status, config drift, registry generation and workers",
    tag = "health",
    responses((status = 200, description = "The control plane is serving", body = HealthResponse))
)]
pub async fn healthz(State(state): State<AppState>) -> ApiJson<HealthResponse> {
    let drift = state.config.drift();
    let mut warnings = Vec::new();
    if state.auth.is_open() {
        warnings.push(
            "open mode (--unauthenticated): every request is allowed; for local development only"
                .to_owned(),
        );
    }
    if let Some(drift) = &drift {
        warnings.push(drift.message.clone());
    }
    let reports = state.workers.reports();
    let mut workers = Vec::with_capacity(reports.len());
    for report in reports {
        if let Some(error) = &report.state.last_error {
            warnings.push(format!(
                "worker {}: last push failed: {error}",
                report.worker_id
            ));
        }
        workers.push(WorkerStatus {
            worker_id: report.worker_id,
            url: report.url,
            acknowledged_generation: report.state.acked,
        });
    }
    ApiJson(HealthResponse {
        status: if drift.is_some() {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        },
        version: env!("CARGO_PKG_VERSION").to_owned(),
        auth: match state.auth {
            AuthMode::Open => AuthModeReport::Open,
            AuthMode::Bearer(_) => AuthModeReport::Bearer,
        },
        mode: Some(match state.mode {
            ConfigMode::Single => ServeMode::Single,
            ConfigMode::Multi => ServeMode::Multi,
        }),
        registry_generation: Some(state.registry.generation()),
        config_drift: Some(drift.is_some()),
        workers: Some(workers),
        warnings,
    })
}

/// Readiness: the control plane serves once it has loaded omnigraph.yaml (it does not
/// listen before), so this is 200 whenever it answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    summary = "Readiness",
    responses((status = 200, description = "Serving the registry", body = ReadyResponse))
)]
pub async fn readyz(State(state): State<AppState>) -> ApiJson<ReadyResponse> {
    ApiJson(ReadyResponse {
        ready: true,
        registry_generation: state.registry.generation(),
    })
}
