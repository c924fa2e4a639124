//! Shared state of the worker's handlers.

use std::sync::Arc;

use omnigraph_api::ServeMode;
use omnigraph_policy::BearerTokens;

use super::admission::Admission;
use super::registry::Registry;

#[derive(Clone)]
pub struct AppState(pub Arc<ServerState>);

pub struct ServerState {
    pub registry: Registry,
    /// Flat routes (single) or `/graphs/{graph_id}/...` (multi).
    pub mode: ServeMode,
    pub worker_id: String,
    /// `OMNIGRAPH_INTERNAL_TOKEN`, required on `/internal/*` when set.
    pub internal_token: Option<BearerTokens>,
    /// Per-actor cap on writes in flight (429 beyond it).
    pub admission: Arc<Admission>,
}

impl std::ops::Deref for AppState {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.0
    }
}
