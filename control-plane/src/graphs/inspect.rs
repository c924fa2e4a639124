//! `GET /graphs/{graph_id}`: one graph as the control plane and its storage see it.

use omnigraph_api::{
    GraphDetails, GraphWorker, MaintenanceRun, MaintenanceState, PolicySummary, TableRowCount,
};
use omnigraph_config::{GraphId, GraphIdError};
use omnigraph_policy::PolicyDocument;
use omnigraph_storage::{GraphLocation, StorageError};

use crate::graphs::policy::sha256_hex;
use crate::state::AppState;

/// Why a graph could not be described. Statuses are chosen in `crate::http::error`.
#[derive(Debug, thiserror::Error)]
pub enum InspectGraphError {
    #[error(transparent)]
    InvalidGraphId(#[from] GraphIdError),
    #[error("graph '{0}' is not registered")]
    NotFound(GraphId),
    #[error("cannot read graph '{graph_id}' at {uri}: {source}")]
    Storage {
        graph_id: GraphId,
        uri: String,
        source: Box<StorageError>,
    },
}

/// The graph's registry entry, its storage at the newest version, and which workers
/// serve it.
pub async fn inspect_graph(
    state: &AppState,
    raw_id: String,
) -> Result<GraphDetails, InspectGraphError> {
    let id = GraphId::try_from(raw_id)?;
    let (graph, since) = state
        .registry
        .get(&id)
        .ok_or_else(|| InspectGraphError::NotFound(id.clone()))?;
    let storage = |source| InspectGraphError::Storage {
        graph_id: id.clone(),
        uri: graph.uri.clone(),
        source: Box::new(source),
    };
    omnigraph_storage::location::name_graph(&graph.uri, id.as_str());
    let (manifests, manifest) = omnigraph_storage::tombstone::open_live(&graph.uri)
        .await
        .map_err(storage)?;
    let policy = graph.policy.as_deref().map(|text| PolicySummary {
        sha256: sha256_hex(text),
        rule_ids: PolicyDocument::from_yaml_str(text)
            .map(|doc| doc.rules.into_iter().map(|r| r.id).collect())
            .unwrap_or_default(),
    });
    let workers = state
        .workers
        .reports()
        .into_iter()
        .map(|w| GraphWorker {
            serving: w.state.acked.is_some_and(|acked| acked >= since),
            acknowledged_generation: w.state.acked,
            worker_id: w.worker_id,
            url: w.url,
        })
        .collect();
    let maintenance = maintenance_state(manifests.location()).await;
    Ok(GraphDetails {
        graph_id: id.into_string(),
        uri: graph.uri,
        schema_sha256: sha256_hex(&manifest.schema_source),
        manifest_version: manifest.version,
        tables: manifest
            .tables
            .iter()
            .map(|(key, entry)| TableRowCount {
                table_key: key.clone(),
                row_count: entry.row_count,
            })
            .collect(),
        policy,
        registry_generation: state.registry.generation(),
        since_generation: since,
        workers,
        maintenance,
    })
}

/// Who holds the graph's maintenance lease and what the latest round recorded
/// (shared/storage/src/lease.rs); `None` before any worker maintained the graph. Unreadable
/// records are left out rather than failing the whole description.
async fn maintenance_state(loc: &GraphLocation) -> Option<MaintenanceState> {
    let lease = omnigraph_storage::lease::current(loc).await.ok().flatten();
    let last_run = omnigraph_storage::lease::read_last_run(loc)
        .await
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value::<MaintenanceRun>(v).ok());
    if lease.is_none() && last_run.is_none() {
        return None;
    }
    Some(MaintenanceState {
        lease_holder: lease.as_ref().map(|l| l.holder.clone()),
        lease_expires_at: lease.map(|l| l.expires_at),
        last_run,
    })
}
