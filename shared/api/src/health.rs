//! `GET /healthz` of both planes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `ok`, or `degraded` when the process serves but needs attention (config drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// How requests are authenticated. `open` is local development only and is reported
/// here so that it cannot go unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthModeReport {
    /// Bearer tokens are required.
    Bearer,
    /// `--unauthenticated`: every request is allowed.
    Open,
}

/// Whether graph routes are nested under `/graphs/{graph_id}` or flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServeMode {
    Single,
    Multi,
}

/// A data-plane worker as the control plane last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkerStatus {
    pub worker_id: String,
    pub url: String,
    /// The newest registry generation the worker acknowledged, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_generation: Option<u64>,
}

/// `GET /healthz`. Fields marked "control plane" are absent on workers. The control
/// plane answers `mode`, `registry_generation`, `config_drift`, `workers` and `warnings`
/// only to a caller with a bearer token (any configured actor) or in open mode; the
/// public answer is `status`, `version` and `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub status: HealthStatus,
    /// The binary's version (`CARGO_PKG_VERSION`).
    pub version: String,
    pub auth: AuthModeReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ServeMode>,
    /// Control plane: the registry's current generation; worker: the generation it has
    /// applied (absent before the first one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_generation: Option<u64>,
    /// Control plane: omnigraph.yaml differs from what was loaded or last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drift: Option<bool>,
    /// Control plane: workers that registered (with a token only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<WorkerStatus>>,
    /// Human-readable warnings (open mode, drift, per-worker push errors, ...); on the
    /// control plane with a token only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /readyz`: 200 when the process can serve requests; a worker is ready once it has
/// applied a registry generation (before that it answers 503 with the error envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadyResponse {
    pub ready: bool,
    /// The registry generation the process serves.
    pub registry_generation: u64,
}
