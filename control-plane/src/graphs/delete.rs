//! `DELETE /graphs/{graph_id}`: retire a graph. Steps 1 (mode) and 2 (auth) are the
//! handler's; then, each only after the previous one succeeded:
//!
//! 3. the graph id is valid (400) and registered (404);
//! 4. omnigraph.yaml has not drifted (503), before anything changes;
//! 5. **tombstone** the graph's storage: first its incarnation marker is removed (from
//!    then on a graph handle any worker still holds refuses reads and writes, 404), then
//!    `_tombstone.json` is written (create-if-absent): the commit point. From here every
//!    worker, and any later `POST /graphs` on the same uri, refuses to open or reuse the
//!    storage, whatever a registry still says;
//! 6. atomic rewrite of omnigraph.yaml without the entry (flock, drift 503), and removal
//!    of a policy file this control plane stored for the graph, unless another graph
//!    names it;
//! 7. the registry drops the graph as a new generation, pushed to every worker (which
//!    answer 404 for it from then on; requests already running finish); waits up to the
//!    push deadline for their acknowledgements;
//! 8. with `?purge=true`, the storage is deleted (only the graph's own objects).
//!
//! Failure modes (what is left after a failure or a crash at each step):
//! - before 5: nothing changed; within 5 (marker removed, tombstone not written): the
//!   graph is still listed but refuses reads and writes until the DELETE is retried;
//! - after 5, before 6 finished: the graph is tombstoned but still in omnigraph.yaml and
//!   the registry; workers refuse to open it (404 "deleted"). A retried DELETE goes on
//!   from step 6, and a restarted control plane completes the delete by itself
//!   (`recovery`);
//! - after 6, before 7: omnigraph.yaml no longer lists it, this process's registry still
//!   does until it restarts (workers still refuse the tombstoned storage);
//! - a purge that fails or is cut short leaves a tombstoned, partly deleted graph; the
//!   purge can be run again (`omnigraph-control-plane purge`).

use omnigraph_api::DeleteGraphResponse;
use omnigraph_config::{GraphEntry, GraphId, GraphIdError};
use omnigraph_policy::ActorId;
use omnigraph_storage::{purge, write_tombstone, StorageError, Tombstone};

use crate::config::file::EditGraphFileError;
use crate::graphs::policy::remove_unused_stored_policy;
use crate::state::AppState;
use omnigraph_storage::crash_point::crash_point;

/// Actor recorded in the tombstone when the request has none (open mode).
const OPEN_MODE_ACTOR: &str = "control-plane";

/// Why a graph was not (completely) deleted. Statuses are chosen in `crate::http::error`.
#[derive(Debug, thiserror::Error)]
pub enum DeleteGraphError {
    #[error(transparent)]
    InvalidGraphId(#[from] GraphIdError),
    #[error("graph '{0}' is not registered")]
    NotFound(GraphId),
    #[error("{0}")]
    Drift(String),
    #[error(
        "cannot mark the storage of graph '{graph_id}' at {uri} deleted; it is still listed (retry the DELETE): {source}"
    )]
    Tombstone {
        graph_id: GraphId,
        uri: String,
        source: Box<StorageError>,
    },
    #[error("graph '{graph_id}' is deleted (its storage is tombstoned), but omnigraph.yaml could not be rewritten; retry the DELETE or restart the control plane: {source}")]
    Rewrite {
        graph_id: GraphId,
        source: EditGraphFileError,
    },
    #[error("graph '{graph_id}' is deleted, but purging its storage at {uri} failed; run `omnigraph-control-plane purge --uri {uri}`: {source}")]
    Purge {
        graph_id: GraphId,
        uri: String,
        source: Box<StorageError>,
    },
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Steps 3-8. `actor` is the authenticated caller (`None` in open mode).
pub async fn delete_graph(
    state: &AppState,
    raw_id: String,
    purge_storage: bool,
    actor: Option<&ActorId>,
) -> Result<DeleteGraphResponse, DeleteGraphError> {
    let id = GraphId::try_from(raw_id)?;
    let (graph, _) = state
        .registry
        .get(&id)
        .ok_or_else(|| DeleteGraphError::NotFound(id.clone()))?;
    let config = state.config.clone();
    if let Some(drift) = tokio::task::spawn_blocking(move || config.check_drift()).await? {
        return Err(DeleteGraphError::Drift(drift.message));
    }

    let actor = actor.map_or(OPEN_MODE_ACTOR, ActorId::as_str);
    let tombstone = write_tombstone(&graph.uri, &Tombstone::now(id.as_str(), actor))
        .await
        .map_err(|source| DeleteGraphError::Tombstone {
            graph_id: id.clone(),
            uri: graph.uri.clone(),
            source: Box::new(source),
        })?;
    tracing::info!(graph_id = %id, uri = %graph.uri, "graph tombstoned");
    crash_point("delete:tombstoned");

    forget_graph(state, &id).await?;

    let purged = if purge_storage {
        purge(&graph.uri, None)
            .await
            .map_err(|source| DeleteGraphError::Purge {
                graph_id: id.clone(),
                uri: graph.uri.clone(),
                source: Box::new(source),
            })?;
        true
    } else {
        false
    };
    Ok(DeleteGraphResponse {
        graph_id: id.into_string(),
        uri: graph.uri,
        deleted_at: tombstone.deleted_at,
        purged,
        registry_generation: state.registry.generation(),
    })
}

/// Steps 6 and 7 for a tombstoned graph: out of omnigraph.yaml, out of the registry,
/// pushed. Also what start-up recovery runs for a graph it finds tombstoned.
pub async fn forget_graph(state: &AppState, id: &GraphId) -> Result<(), DeleteGraphError> {
    let config = state.config.clone();
    let target = id.clone();
    let removed: Result<(GraphEntry, _), EditGraphFileError> =
        tokio::task::spawn_blocking(move || config.remove_graph(&target)).await?;
    let entry = match removed {
        Ok((entry, _)) => Some(entry),
        // Already gone from the file (a retried delete, or a concurrent one): go on.
        Err(omnigraph_config::RewriteWithError::Update(
            omnigraph_config::EditGraphError::UnknownId(_),
        )) => None,
        Err(source) => {
            return Err(DeleteGraphError::Rewrite {
                graph_id: id.clone(),
                source,
            })
        }
    };
    crash_point("delete:rewritten");
    if let Some(policy) = entry.and_then(|e| e.policy) {
        remove_unused_stored_policy(&state.config, id, &policy.file).await;
    }
    if let Some((_, document)) = state.registry.remove(id) {
        tracing::info!(graph_id = %id, generation = document.generation, "graph removed from the registry");
        crash_point("delete:published");
        state
            .workers
            .wait_for(document.generation, state.push_wait)
            .await;
    }
    Ok(())
}
