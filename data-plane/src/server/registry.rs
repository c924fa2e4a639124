//! The applied registry: graph_id -> graph handle, at a generation. Graphs are opened
//! lazily on first use; a handle whose uri and policy did not change survives a new
//! generation (and keeps its opened graph).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use omnigraph_api::{ApiError, RegistryDocument, RegistryGraph};
use omnigraph_engine::Graph;
use omnigraph_policy::{AuthMode, Authorizer, CompiledPolicy, PolicyScope};
use tokio::sync::OnceCell;

use super::error::engine_error;

/// One served graph.
pub struct GraphHandle {
    pub graph_id: String,
    pub uri: String,
    policy_text: Option<String>,
    /// The graph's authorizer, or why its policy could not be compiled.
    authorizer: Result<Authorizer, String>,
    graph: OnceCell<Arc<Graph>>,
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
            graph: OnceCell::new(),
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

    /// The opened graph (opened on first use).
    pub async fn graph(&self) -> Result<Arc<Graph>, ApiError> {
        self.graph
            .get_or_try_init(|| Graph::open(&self.uri))
            .await
            .cloned()
            .map_err(engine_error)
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
    /// lower generation). Returns whether it was applied.
    pub fn apply(&self, doc: &RegistryDocument, reset: bool) -> bool {
        let mut applied = self.applied.write().unwrap_or_else(|p| p.into_inner());
        let newer = applied.generation.is_none_or(|g| doc.generation > g);
        if !newer && !(reset && applied.generation != Some(doc.generation)) {
            return false;
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
        true
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Applied> {
        self.applied.read().unwrap_or_else(|p| p.into_inner())
    }
}
