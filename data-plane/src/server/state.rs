//! Shared state of the worker's handlers.

use std::sync::Arc;

use omnigraph_api::ServeMode;
use omnigraph_policy::BearerTokens;

use super::admission::Admission;
use super::query_limits::{QueryLimits, ReadAdmission};
use super::registry::Registry;

#[derive(Clone)]
pub struct AppState(pub Arc<ServerState>);

pub struct ServerState {
    pub registry: Registry,
    /// Flat routes (single) or `/graphs/{graph_id}/...` (multi).
    pub mode: ServeMode,
    pub worker_id: String,
    /// How `/internal/*` is guarded, or that it is not mounted.
    pub internal: InternalAccess,
    /// Per-actor cap on writes in flight (429 beyond it).
    pub admission: Arc<Admission>,
    /// What one read may spend (deadline, rows).
    pub query_limits: QueryLimits,
    /// Cap on reads in flight on this worker (429 beyond it).
    pub reads: ReadAdmission,
    /// Who may read `GET /metrics`.
    pub metrics: omnigraph_http::metrics::MetricsAccess,
    /// What maintenance compacts and keeps (its rounds, and `POST /maintenance`).
    pub maintenance: super::maintenance::MaintenanceOptions,
    /// Bounds of a streamed load (`POST /load/ndjson`).
    pub load: LoadSettings,
}

/// Bounds of a streamed load: bytes in all (after decompression), and the longest wait
/// for the next chunk of the body.
#[derive(Debug, Clone, Copy)]
pub struct LoadSettings {
    pub max_bytes: u64,
    pub idle: std::time::Duration,
    /// The longest a whole body may take to arrive.
    pub total: std::time::Duration,
}

/// How the control plane's routes on this worker (`/internal/*`) are guarded.
pub enum InternalAccess {
    /// No control plane (`--config`): the routes are not mounted.
    NotMounted,
    /// `Authorization: Bearer $OMNIGRAPH_INTERNAL_TOKEN`.
    Token(BearerTokens),
    /// An open-mode worker without an internal token: loopback peers only.
    LoopbackOnly,
}

impl std::ops::Deref for AppState {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.0
    }
}
