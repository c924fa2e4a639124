//! The registry: graph_id -> (uri, policy TEXT) at a generation number. Generation 1 is
//! what omnigraph.yaml held at start; every change adds one. Each generation is
//! published on a watch channel that the worker pushers follow.
//!
//! A graph being created holds a [`Reservation`] of its id and normalized uri from the
//! pre-check until it is published or abandoned, so two requests of this process can
//! never both create storage for the same id or uri.

pub mod push;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use omnigraph_api::{GraphInfo, RegistryDocument, RegistryGraph};
use omnigraph_config::{normalize_uri, GraphId};
use omnigraph_http::telemetry::TraceContext;
use tokio::sync::watch;

/// One graph as workers serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredGraph {
    pub uri: String,
    /// Per-graph policy file content, validated.
    pub policy: Option<String>,
}

/// A graph id or uri that is taken, or about to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryConflict {
    #[error("graph '{0}' already exists")]
    DuplicateId(GraphId),
    #[error("uri {uri} is already used by graph '{existing}'")]
    DuplicateUri { uri: String, existing: GraphId },
    #[error("graph '{0}' is being created by another request")]
    IdInFlight(GraphId),
    #[error("uri {0} is being used by another graph creation in progress")]
    UriInFlight(String),
}

struct RegistryState {
    generation: u64,
    graphs: BTreeMap<GraphId, RegisteredGraph>,
    reserved_ids: BTreeSet<GraphId>,
    reserved_uris: BTreeSet<String>,
    /// The generation at which each graph was added or last changed.
    changed_at: BTreeMap<GraphId, u64>,
    /// The newest generation and the trace span of the request that published it: the
    /// pushes of that generation continue its trace (README.md, "Observability").
    origin: (u64, TraceContext),
}

impl RegistryState {
    fn uri_owner(&self, normalized: &str) -> Option<&GraphId> {
        self.graphs
            .iter()
            .find(|(_, g)| normalize_uri(&g.uri) == normalized)
            .map(|(id, _)| id)
    }

    fn check_free(
        &self,
        id: &GraphId,
        uri: &str,
        normalized: &str,
    ) -> Result<(), RegistryConflict> {
        if self.graphs.contains_key(id) {
            return Err(RegistryConflict::DuplicateId(id.clone()));
        }
        if let Some(existing) = self.uri_owner(normalized) {
            return Err(RegistryConflict::DuplicateUri {
                uri: uri.to_owned(),
                existing: existing.clone(),
            });
        }
        Ok(())
    }

    fn document(&self) -> RegistryDocument {
        RegistryDocument {
            generation: self.generation,
            graphs: self
                .graphs
                .iter()
                .map(|(id, g)| RegistryGraph {
                    graph_id: id.to_string(),
                    uri: g.uri.clone(),
                    policy: g.policy.clone(),
                })
                .collect(),
        }
    }
}

pub struct Registry {
    state: Mutex<RegistryState>,
    published: watch::Sender<Arc<RegistryDocument>>,
}

impl Registry {
    /// The registry at generation 1.
    pub fn new(graphs: BTreeMap<GraphId, RegisteredGraph>) -> Arc<Registry> {
        let changed_at = graphs.keys().map(|id| (id.clone(), 1)).collect();
        let state = RegistryState {
            generation: 1,
            graphs,
            reserved_ids: BTreeSet::new(),
            reserved_uris: BTreeSet::new(),
            changed_at,
            origin: (1, TraceContext::default()),
        };
        let (published, _) = watch::channel(Arc::new(state.document()));
        Arc::new(Registry {
            state: Mutex::new(state),
            published,
        })
    }

    fn lock(&self) -> MutexGuard<'_, RegistryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation's document.
    pub fn document(&self) -> Arc<RegistryDocument> {
        self.published.borrow().clone()
    }

    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The trace span of the request that published `generation`, while it is the newest
    /// (empty for generation 1, with traces off, or once a newer one exists).
    pub fn origin(&self, generation: u64) -> TraceContext {
        let state = self.lock();
        match &state.origin {
            (g, context) if *g == generation => context.clone(),
            _ => TraceContext::default(),
        }
    }

    /// Follows every published generation.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RegistryDocument>> {
        self.published.subscribe()
    }

    /// Every graph, sorted by id.
    pub fn graph_infos(&self) -> Vec<GraphInfo> {
        self.lock()
            .graphs
            .iter()
            .map(|(id, g)| GraphInfo {
                graph_id: id.to_string(),
                uri: g.uri.clone(),
            })
            .collect()
    }

    /// Pre-check (section 4 step 4): the id and the normalized uri are neither
    /// registered nor reserved by a creation in progress; reserves both.
    pub fn reserve(
        self: &Arc<Self>,
        id: &GraphId,
        uri: &str,
    ) -> Result<Reservation, RegistryConflict> {
        let normalized = normalize_uri(uri);
        let mut state = self.lock();
        state.check_free(id, uri, &normalized)?;
        if state.reserved_ids.contains(id) {
            return Err(RegistryConflict::IdInFlight(id.clone()));
        }
        if state.reserved_uris.contains(&normalized) {
            return Err(RegistryConflict::UriInFlight(uri.to_owned()));
        }
        state.reserved_ids.insert(id.clone());
        state.reserved_uris.insert(normalized.clone());
        Ok(Reservation {
            registry: self.clone(),
            id: id.clone(),
            normalized_uri: normalized,
        })
    }

    /// Publishes a reserved graph as the next generation, re-checking duplicates
    /// atomically (section 4 step 7).
    pub fn publish(
        &self,
        reservation: Reservation,
        graph: RegisteredGraph,
    ) -> Result<Arc<RegistryDocument>, RegistryConflict> {
        let mut state = self.lock();
        state.check_free(&reservation.id, &graph.uri, &reservation.normalized_uri)?;
        state.graphs.insert(reservation.id.clone(), graph);
        let document = self.advance(&mut state);
        state
            .changed_at
            .insert(reservation.id.clone(), document.generation);
        drop(state); // the reservation's release takes the lock again
        drop(reservation);
        Ok(document)
    }

    /// One graph and the generation at which it was added or last changed.
    pub fn get(&self, id: &GraphId) -> Option<(RegisteredGraph, u64)> {
        let state = self.lock();
        let graph = state.graphs.get(id)?.clone();
        let since = state.changed_at.get(id).copied().unwrap_or(1);
        Some((graph, since))
    }

    /// Removes a graph as the next generation; `None` when it is not registered.
    pub fn remove(&self, id: &GraphId) -> Option<(RegisteredGraph, Arc<RegistryDocument>)> {
        let mut state = self.lock();
        let graph = state.graphs.remove(id)?;
        state.changed_at.remove(id);
        Some((graph, self.advance(&mut state)))
    }

    /// Replaces a graph's policy as the next generation; `None` when it is not registered.
    pub fn set_policy(
        &self,
        id: &GraphId,
        policy: Option<String>,
    ) -> Option<Arc<RegistryDocument>> {
        let mut state = self.lock();
        state.graphs.get_mut(id)?.policy = policy;
        let document = self.advance(&mut state);
        state.changed_at.insert(id.clone(), document.generation);
        Some(document)
    }

    fn advance(&self, state: &mut RegistryState) -> Arc<RegistryDocument> {
        state.generation = state.generation.saturating_add(1);
        state.origin = (state.generation, TraceContext::current());
        let document = Arc::new(state.document());
        // Sent while the state lock is held, so generations are published in order.
        self.published.send_replace(document.clone());
        tracing::info!(
            generation = document.generation,
            graphs = document.graphs.len(),
            "registry generation published"
        );
        document
    }

    fn release(&self, id: &GraphId, normalized_uri: &str) {
        let mut state = self.lock();
        state.reserved_ids.remove(id);
        state.reserved_uris.remove(normalized_uri);
    }
}

/// A graph id and uri held for one creation; released on drop.
pub struct Reservation {
    registry: Arc<Registry>,
    id: GraphId,
    normalized_uri: String,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.registry.release(&self.id, &self.normalized_uri);
    }
}

#[cfg(test)]
mod tests;
