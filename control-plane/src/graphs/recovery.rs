//! Start-up convergence: a delete that was cut short after its commit point (the
//! tombstone) is completed before the control plane serves, so omnigraph.yaml, the
//! registry, the workers and storage agree again.

use omnigraph_config::GraphId;
use omnigraph_storage::read_tombstone;

use crate::graphs::delete::forget_graph;
use crate::state::AppState;

/// Finishes the deletion of every listed graph whose storage is tombstoned. A graph
/// whose storage cannot be read now is left as it is (and logged): recovery never
/// guesses.
pub async fn complete_interrupted_deletes(state: &AppState) {
    let listed: Vec<(String, String)> = state
        .registry
        .document()
        .graphs
        .iter()
        .map(|g| (g.graph_id.clone(), g.uri.clone()))
        .collect();
    for (graph_id, uri) in listed {
        match read_tombstone(&uri).await {
            Ok(None) => {}
            Ok(Some(tombstone)) => {
                let Ok(id) = GraphId::parse(&graph_id) else {
                    continue;
                };
                tracing::warn!(
                    graph_id,
                    uri,
                    deleted_at = tombstone.deleted_at,
                    "completing an interrupted delete: the graph's storage is tombstoned"
                );
                if let Err(e) = forget_graph(state, &id).await {
                    tracing::error!(graph_id, "cannot complete the interrupted delete: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(
                    graph_id,
                    uri,
                    "cannot check the graph's storage at start: {e}"
                )
            }
        }
    }
}
