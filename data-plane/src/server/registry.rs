//! The applied registry: graph_id -> graph handle, at a generation. Graphs are opened
//! lazily on first use; a handle whose uri and policy did not change survives a new
//! generation (and keeps its opened graph). An opened graph that turns out stale (the
//! graph at its uri was deleted, or deleted and created again, behind this worker's back:
//! the request that found out got 404) is dropped, and the uri opened again on next use.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use omnigraph_api::{RegistryDocument, RegistryGraph};
use omnigraph_engine::Graph;
use omnigraph_http::ApiError;
use omnigraph_policy::{AuthMode, Authorizer, CompiledPolicy, PolicyScope};

use super::error::engine_error;

/// Why a worker refuses a registry document.
#[derive(Debug, thiserror::Error)]
pub enum RegistryRefused {
    #[error("registry generation {generation} gives graph '{graph_id}' a policy, and this worker runs in open mode (--unauthenticated), where it could not enforce it: an open-mode worker never joins an authenticated deployment; start it with the deployment's bearer tokens")]
    PoliciesInOpenMode { generation: u64, graph_id: String },
}

/// One served graph.
pub struct GraphHandle {
    pub graph_id: String,
    pub uri: String,
    policy_text: Option<String>,
    /// The graph's authorizer, or why its policy could not be compiled.
    authorizer: Result<Authorizer, String>,
    /// The opened graph, once opened (replaced when it turns out stale).
    graph: RwLock<Option<Arc<Graph>>>,
    /// Held while opening, so that concurrent first requests open the graph once.
    opening: tokio::sync::Mutex<()>,
}

impl GraphHandle {
    fn new(entry: &RegistryGraph, auth: &AuthMode) -> GraphHandle {
        let authorizer = match &entry.policy {
            None => Ok(Authorizer::for_scope(auth, None)),
            Some(text) => {
                let name = format!("policy of graph '{}'", entry.graph_id);
                CompiledPolicy::from_text(text, &name, PolicyScope::Graph)
                    .map(|p| Authorizer::for_scope(auth, Some(Arc::new(p))))
                    .map_err(|e| {
                        tracing::error!(graph_id = entry.graph_id, "invalid policy: {e}");
                        e.to_string()
                    })
            }
        };
        GraphHandle {
            graph_id: entry.graph_id.clone(),
            uri: entry.uri.clone(),
            policy_text: entry.policy.clone(),
            authorizer,
            graph: RwLock::new(None),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    pub fn authorizer(&self) -> Result<&Authorizer, ApiError> {
        self.authorizer.as_ref().map_err(|e| {
            ApiError::internal(format!(
                "graph '{}' has an invalid policy: {e}",
                self.graph_id
            ))
        })
    }

    /// The opened graph (opened on first use, and again after it turned out stale).
    pub async fn graph(&self) -> Result<Arc<Graph>, ApiError> {
        if let Some(graph) = self.opened() {
            return Ok(graph);
        }
        let _opening = self.opening.lock().await;
        if let Some(graph) = self.opened() {
            return Ok(graph);
        }
        // Its object-store requests are counted under its id (storage_metrics.rs).
        omnigraph_engine::location::name_graph(&self.uri, &self.graph_id);
        let graph = Graph::open(&self.uri).await.map_err(engine_error)?;
        *self.graph.write().unwrap_or_else(|p| p.into_inner()) = Some(graph.clone());
        Ok(graph)
    }

    /// The opened graph, unless it is stale.
    fn opened(&self) -> Option<Arc<Graph>> {
        let graph = self.graph.read().unwrap_or_else(|p| p.into_inner());
        graph.as_ref().filter(|g| !g.is_stale()).cloned()
    }
}

#[derive(Default)]
struct Applied {
    generation: Option<u64>,
    graphs: BTreeMap<String, Arc<GraphHandle>>,
}

pub struct Registry {
    auth: AuthMode,
    applied: RwLock<Applied>,
}

impl Registry {
    pub fn new(auth: AuthMode) -> Registry {
        Registry {
            auth,
            applied: RwLock::new(Applied::default()),
        }
    }

    pub fn auth(&self) -> &AuthMode {
        &self.auth
    }

    pub fn generation(&self) -> Option<u64> {
        self.read().generation
    }

    pub fn get(&self, graph_id: &str) -> Option<Arc<GraphHandle>> {
        self.read().graphs.get(graph_id).cloned()
    }

    /// Applies `doc` when it is newer than the applied generation, or always when
    /// `reset` (a (re)registration answer: the control plane may have restarted at a
    /// lower generation). Returns whether it was applied; refuses (and keeps what it
    /// serves) a document with policies on an open-mode worker, which could not enforce
    /// them.
    pub fn apply(&self, doc: &RegistryDocument, reset: bool) -> Result<bool, RegistryRefused> {
        if self.auth.is_open() {
            if let Some(g) = doc.graphs.iter().find(|g| g.policy.is_some()) {
                return Err(RegistryRefused::PoliciesInOpenMode {
                    generation: doc.generation,
                    graph_id: g.graph_id.clone(),
                });
            }
        }
        let mut applied = self.applied.write().unwrap_or_else(|p| p.into_inner());
        let newer = applied.generation.is_none_or(|g| doc.generation > g);
        if !newer && !(reset && applied.generation != Some(doc.generation)) {
            return Ok(false);
        }
        let mut graphs = BTreeMap::new();
        for entry in &doc.graphs {
            let handle = match applied.graphs.get(&entry.graph_id) {
                Some(old) if old.uri == entry.uri && old.policy_text == entry.policy => old.clone(),
                _ => Arc::new(GraphHandle::new(entry, &self.auth)),
            };
            graphs.insert(entry.graph_id.clone(), handle);
        }
        tracing::info!(
            generation = doc.generation,
            graphs = graphs.len(),
            "registry generation applied"
        );
        applied.generation = Some(doc.generation);
        applied.graphs = graphs;
        Ok(true)
    }

    /// The graphs this worker has opened (maintenance runs on those, never opens others).
    pub fn opened_graphs(&self) -> Vec<(String, Arc<Graph>)> {
        self.read()
            .graphs
            .iter()
            .filter_map(|(id, handle)| handle.opened().map(|g| (id.clone(), g)))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Applied> {
        self.applied.read().unwrap_or_else(|p| p.into_inner())
    }
}
