//! Management API of the control plane: `GET /graphs`, `POST /graphs`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One registered graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphInfo {
    pub graph_id: String,
    pub uri: String,
}

/// `GET /graphs`: every registered graph, sorted by `graph_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphListResponse {
    pub graphs: Vec<GraphInfo>,
}

/// `schema: { source }` of [`CreateGraphRequest`]. Nested (unlike the flat
/// `schema_source` of `SchemaApplyRequest`) to leave room for more fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemaSource {
    /// Schema text, e.g. `node Person { name: String @key }`.
    pub source: String,
}

/// `policy` of [`CreateGraphRequest`]: exactly one of
/// - `file`: a policy file path on the control plane's host, relative to the directory
///   of omnigraph.yaml unless absolute; recorded in omnigraph.yaml as given;
/// - `content`: the policy text itself, for clients that cannot place files on the
///   control plane's host; the control plane stores it beside omnigraph.yaml and records
///   that file, so a restart from omnigraph.yaml yields the same registry.
///
/// Either way it is validated before anything is created, and workers receive the text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct GraphPolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Where a [`GraphPolicySpec`] takes its policy from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource<'a> {
    File(&'a str),
    Content(&'a str),
}

/// A [`GraphPolicySpec`] that names no policy, or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicySpecError {
    #[error("`policy` needs exactly one of `file` or `content`, and it must not be blank")]
    Missing,
    #[error("`policy` takes `file` or `content`, not both")]
    Both,
}

impl GraphPolicySpec {
    pub fn source(&self) -> Result<PolicySource<'_>, PolicySpecError> {
        match (non_blank(&self.file), non_blank(&self.content)) {
            (Some(file), None) => Ok(PolicySource::File(file)),
            (None, Some(content)) => Ok(PolicySource::Content(content)),
            (Some(_), Some(_)) => Err(PolicySpecError::Both),
            (None, None) => Err(PolicySpecError::Missing),
        }
    }
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.trim().is_empty())
}

/// `POST /graphs` body. 201 answers with the new [`GraphInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "graph_id": "social",
    "uri": "/data/graphs/social.omni",
    "schema": { "source": "node Person { name: String @key  age: I32? }\nedge Knows: Person -> Person" }
}))]
pub struct CreateGraphRequest {
    /// `^[a-zA-Z0-9-]{1,64}$`, not starting with `_`, not a reserved route name.
    pub graph_id: String,
    /// Storage location: a local path or `s3://bucket/prefix`.
    pub uri: String,
    pub schema: SchemaSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<GraphPolicySpec>,
}

/// `PATCH /graphs/{graph_id}` body: the graph's new policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "policy": { "content": "version: 1\nrules:\n  - id: readers\n    allow: { actors: any, actions: [read] }\n" }
}))]
pub struct UpdateGraphRequest {
    pub policy: GraphPolicySpec,
}

/// Query string of `DELETE /graphs/{graph_id}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteGraphQuery {
    /// Also delete the graph's storage now, once every worker has stopped serving it.
    /// Without it the storage is only tombstoned, until a later purge.
    #[serde(default)]
    pub purge: bool,
}

/// Answer of `DELETE /graphs/{graph_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeleteGraphResponse {
    pub graph_id: String,
    pub uri: String,
    /// RFC 3339 time of the tombstone (the first one, when a delete is retried).
    pub deleted_at: String,
    /// True when the storage was deleted too (`?purge=true`).
    pub purged: bool,
    /// The registry generation without the graph.
    pub registry_generation: u64,
}

/// The per-graph policy, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicySummary {
    /// SHA-256 of the policy text workers enforce.
    pub sha256: String,
    /// Ids of its rules, in file order.
    pub rule_ids: Vec<String>,
}

/// Rows of one table at the graph's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TableRowCount {
    pub table_key: String,
    pub row_count: u64,
}

/// A worker, and whether it serves the graph: it acknowledged a registry generation at
/// or after the one that added or last changed the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphWorker {
    pub worker_id: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_generation: Option<u64>,
    pub serving: bool,
}

/// `GET /graphs/{graph_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GraphDetails {
    pub graph_id: String,
    pub uri: String,
    /// SHA-256 of the accepted schema text.
    pub schema_sha256: String,
    pub manifest_version: u64,
    pub tables: Vec<TableRowCount>,
    /// Absent when the graph has no policy of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySummary>,
    /// The registry's current generation.
    pub registry_generation: u64,
    /// The generation that added or last changed this graph.
    pub since_generation: u64,
    pub workers: Vec<GraphWorker>,
    /// Who maintains the graph and what its latest maintenance round did; absent before
    /// any worker maintained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<crate::MaintenanceState>,
}
