//! `GET /healthz`: public status, version and auth mode; the details (mode, drift,
//! generation, workers, warnings) only for a caller with a bearer token.

use axum::extract::State;
use axum::http::HeaderMap;
use omnigraph_api::{
    AuthModeReport, ErrorBody, HealthResponse, HealthStatus, ReadyResponse, ServeMode, WorkerStatus,
};
use omnigraph_config::ConfigMode;
use omnigraph_http::{ApiError, ApiJson};
use omnigraph_policy::AuthMode;

use crate::http::auth::authenticate;
use crate::state::AppState;

/// Health of the control plane. `status` is `degraded` while omnigraph.yaml has
/// drifted. Without a bearer token (in bearer mode) only `status`, `version` and `auth`
/// are answered: worker urls and push errors (which quote what a registered url
/// answered) are for actors.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    summary = "Status; with a bearer token also drift, registry generation and workers",
    description = "Public: `status`, `version` and `auth`. With `Authorization: Bearer <token>` \
        of any configured actor (or in open mode) also `mode`, `registry_generation`, \
        `config_drift`, `workers` and `warnings` (per-worker push errors, drift, open mode).",
    tag = "health",
    responses(
        (status = 200, description = "The control plane is serving", body = HealthResponse),
        (status = 401, description = "An Authorization header that names no configured token", body = ErrorBody),
    )
)]
pub async fn healthz(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<ApiJson<HealthResponse>, ApiError> {
    let drift = state.config.drift();
    let status = if drift.is_some() {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    let auth = match state.auth {
        AuthMode::Open => AuthModeReport::Open,
        AuthMode::Bearer(_) => AuthModeReport::Bearer,
    };
    let details = state.auth.is_open() || headers.contains_key(axum::http::header::AUTHORIZATION);
    if !details {
        return Ok(ApiJson(HealthResponse {
            status,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            auth,
            mode: None,
            registry_generation: None,
            config_drift: None,
            workers: None,
            warnings: Vec::new(),
        }));
    }
    // A wrong token is a 401, not silently the public answer.
    authenticate(&state.auth, &headers)?;
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
    Ok(ApiJson(HealthResponse {
        status,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        auth,
        mode: Some(match state.mode {
            ConfigMode::Single => ServeMode::Single,
            ConfigMode::Multi => ServeMode::Multi,
        }),
        registry_generation: Some(state.registry.generation()),
        config_drift: Some(drift.is_some()),
        workers: Some(workers),
        warnings,
    }))
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
