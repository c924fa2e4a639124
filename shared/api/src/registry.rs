//! Internal protocol between the control plane and data-plane workers, authenticated
//! with the shared `OMNIGRAPH_INTERNAL_TOKEN`.
//!
//! - a worker registers with [`WorkerRegistration`] and receives the [`RegistryDocument`];
//! - the control plane pushes every new [`RegistryDocument`] to every worker, which
//!   answers [`RegistryAck`];
//! - a worker pulls the current [`RegistryDocument`] at start and periodically.
//!
//! A worker applies a document only if its generation is newer than the one it has.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Environment variable holding the shared internal token (both sides).
pub const INTERNAL_TOKEN_ENV: &str = "OMNIGRAPH_INTERNAL_TOKEN";
/// Control plane: `POST` a [`WorkerRegistration`], answered with the registry.
pub const REGISTER_WORKER_PATH: &str = "/internal/workers";
/// Control plane: `GET` the current registry. Worker: `POST` (push) a new one.
pub const REGISTRY_PATH: &str = "/internal/registry";

/// One graph as workers serve it. The policy travels as TEXT: workers run elsewhere
/// and cannot read the control plane's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistryGraph {
    pub graph_id: String,
    pub uri: String,
    /// Per-graph policy file content (YAML), absent when the graph has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// The whole registry at one generation; generations only increase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistryDocument {
    pub generation: u64,
    /// Sorted by `graph_id`.
    pub graphs: Vec<RegistryGraph>,
}

/// How a worker authenticates its clients, as it tells the control plane when it
/// registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerAuth {
    /// `--unauthenticated`: every request allowed, graph policies not enforced.
    Open,
    /// Bearer tokens; graph policies enforced.
    Bearer,
}

/// A worker announcing itself: the control plane pushes to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WorkerRegistration {
    pub worker_id: String,
    /// Base URL the control plane can reach the worker at, e.g. `http://10.0.0.7:8080`.
    pub url: String,
    /// The worker's authentication. A control plane with bearer tokens refuses a worker
    /// that is not `bearer` (absent counts as unknown, and is refused too): an open-mode
    /// worker would ignore every graph policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<WorkerAuth>,
}

/// A worker's answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistryAck {
    pub worker_id: String,
    /// The generation the worker now serves.
    pub generation: u64,
    /// False when the pushed generation was not newer and was ignored.
    pub applied: bool,
}
