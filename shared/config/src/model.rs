//! The `omnigraph.yaml` model.
//!
//! Key names (the file is the deployment's source of truth; the control plane is its only
//! writer and rewrites it sorted and deterministic):
//!
//! ```yaml
//! server:                              # optional
//!   bind: 0.0.0.0:8080                 # optional; control plane listen address
//!   policy:                            # optional; server-scoped Cedar policy
//!     file: ./policies/server.yaml     # relative paths are resolved against this file's directory
//!   storage_roots: [/data/graphs]      # optional; where POST /graphs may create graphs
//! graphs:                              # multi mode: graph_id -> graph (may be empty)
//!   alpha:
//!     uri: /data/alpha.omni            # local path, file:// or s3://bucket/prefix
//!     policy:                          # optional; per-graph Cedar policy
//!       file: ./policies/alpha.yaml
//! # single mode instead of `graphs:` (exactly one of the two must be present):
//! # graph:
//! #   uri: /data/alpha.omni
//! #   policy: { file: ./policies/alpha.yaml }
//! ```
//!
//! Unknown keys are refused (a misspelt `polcy:` must not silently drop a policy).
//! Bearer tokens never appear here: they come from the environment.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::graph_id::GraphId;
use crate::hash::{hash_bytes, ConfigHash};
use crate::uri::{normalize_uri, uri_is_within};

/// The graph id under which the single graph of single mode is registered.
pub const SINGLE_MODE_GRAPH_ID: &str = "default";

/// The whole `omnigraph.yaml`. Construct with [`OmnigraphConfig::multi`] or
/// [`OmnigraphConfig::single`], or load with [`OmnigraphConfig::load`] (which validates).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OmnigraphConfig {
    #[serde(default, skip_serializing_if = "ServerSection::is_empty")]
    pub server: ServerSection,
    /// Multi mode: graph_id -> graph. A `BTreeMap` so the file is written sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphs: Option<BTreeMap<GraphId, GraphEntry>>,
    /// Single mode: the one graph, served on flat routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphEntry>,
}

/// `server:`: settings of the control plane itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// Server-scoped policy (`graph_list`, `graph_create`, `graph_delete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef>,
    /// Where `POST /graphs` may create graphs: absolute local directories or
    /// `s3://bucket/prefix` uris; a new graph's uri must lie strictly inside one of them.
    /// Empty: anywhere the control plane can write. Graphs already in the file are not
    /// checked (an operator put them there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_roots: Vec<String>,
}

impl ServerSection {
    fn is_empty(&self) -> bool {
        self.bind.is_none() && self.policy.is_none() && self.storage_roots.is_empty()
    }

    /// Whether `POST /graphs` may create a graph at `uri`.
    pub fn allows_new_graph_at(&self, uri: &str) -> bool {
        self.storage_roots.is_empty()
            || self
                .storage_roots
                .iter()
                .any(|root| uri_is_within(uri, root))
    }
}

/// One graph: where its storage is and which policy guards it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphEntry {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRef>,
}

impl GraphEntry {
    pub fn new(uri: impl Into<String>) -> Self {
        GraphEntry {
            uri: uri.into(),
            policy: None,
        }
    }

    pub fn with_policy_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.policy = Some(PolicyRef { file: file.into() });
        self
    }
}

/// `policy: { file: ... }`: a policy file, relative to the config file's directory
/// unless absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    pub file: PathBuf,
}

impl PolicyRef {
    /// The policy file's path as seen from the process: see [`resolve_relative_to_config`].
    pub fn resolve(&self, config_path: &Path) -> PathBuf {
        resolve_relative_to_config(config_path, &self.file)
    }
}

/// Resolves `path` (as written in the config file at `config_path`) against the config
/// file's directory; absolute paths are returned unchanged.
pub fn resolve_relative_to_config(config_path: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Which routes the data plane serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigMode {
    /// `graph:`: one graph on flat routes; `/graphs` answers 405.
    Single,
    /// `graphs:`: every graph under `/graphs/{graph_id}`.
    Multi,
}

/// A config file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("config file {}: {source}", path.display())]
    Content {
        path: PathBuf,
        #[source]
        source: ConfigContentError,
    },
}

/// The text of a config is not a valid `omnigraph.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigContentError {
    #[error("not a valid omnigraph.yaml: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error(transparent)]
    Invalid(#[from] ConfigInvalid),
}

/// A well-formed config that breaks a rule of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigInvalid {
    #[error("no graph is configured: add a `graphs:` map (multi mode) or a `graph:` entry (single mode)")]
    NoGraphSection,
    #[error(
        "both `graphs:` (multi mode) and `graph:` (single mode) are present; keep exactly one"
    )]
    BothGraphSections,
    #[error("graph {graph}: `uri` is empty")]
    EmptyUri { graph: String },
    #[error("graph {graph}: `policy.file` is empty")]
    EmptyPolicyFile { graph: String },
    #[error("`server.policy.file` is empty")]
    EmptyServerPolicyFile,
    #[error(
        "`server.storage_roots`: {root:?} is not an absolute path or a scheme://bucket/prefix uri"
    )]
    InvalidStorageRoot { root: String },
    #[error("graphs {first} and {second} use the same storage uri {uri}")]
    DuplicateUri {
        first: GraphId,
        second: GraphId,
        uri: String,
    },
}

/// Why a graph cannot be added to a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertGraphError {
    #[error("the config is in single mode (`graph:`); graphs can only be added in multi mode (`graphs:`)")]
    SingleMode,
    #[error("graph {0} already exists")]
    DuplicateId(GraphId),
    #[error("uri {uri} is already used by graph {existing}")]
    DuplicateUri { uri: String, existing: GraphId },
    #[error("graph {0}: `uri` is empty")]
    EmptyUri(GraphId),
}

/// Why a graph of a config cannot be changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditGraphError {
    #[error("the config is in single mode (`graph:`); graphs can only be changed in multi mode (`graphs:`)")]
    SingleMode,
    #[error("graph {0} is not in the config")]
    UnknownId(GraphId),
}

/// A config together with the SHA-256 of the exact bytes it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    pub config: OmnigraphConfig,
    pub hash: ConfigHash,
}

impl OmnigraphConfig {
    /// Multi mode with the given graphs (possibly none).
    pub fn multi(server: ServerSection, graphs: BTreeMap<GraphId, GraphEntry>) -> Self {
        OmnigraphConfig {
            server,
            graphs: Some(graphs),
            graph: None,
        }
    }

    /// Single mode with one graph.
    pub fn single(server: ServerSection, graph: GraphEntry) -> Self {
        OmnigraphConfig {
            server,
            graphs: None,
            graph: Some(graph),
        }
    }

    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with_hash(path).map(|loaded| loaded.config)
    }

    /// Like [`load`](Self::load), and also hashes the same bytes, so the hash is exactly
    /// that of the parsed content (the drift baseline).
    pub fn load_with_hash(path: impl AsRef<Path>) -> Result<LoadedConfig, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config = Self::from_yaml_slice(&bytes).map_err(|source| ConfigError::Content {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LoadedConfig {
            config,
            hash: hash_bytes(&bytes),
        })
    }

    /// Parses and validates config text.
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigContentError> {
        Self::from_yaml_slice(text.as_bytes())
    }

    fn from_yaml_slice(bytes: &[u8]) -> Result<Self, ConfigContentError> {
        let config: OmnigraphConfig = serde_yaml::from_slice(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// Serializes to YAML; graphs are sorted by id, so equal configs give equal bytes.
    pub fn to_yaml_string(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }

    /// Checks the model's rules: exactly one of `graphs:`/`graph:`, non-empty uris and
    /// policy paths, no two graphs on the same (normalized) uri.
    pub fn validate(&self) -> Result<(), ConfigInvalid> {
        if self
            .server
            .policy
            .as_ref()
            .is_some_and(|p| p.file.as_os_str().is_empty())
        {
            return Err(ConfigInvalid::EmptyServerPolicyFile);
        }
        for root in &self.server.storage_roots {
            let normalized = normalize_uri(root);
            if root.trim().is_empty()
                || !(normalized.starts_with('/') || normalized.contains("://"))
            {
                return Err(ConfigInvalid::InvalidStorageRoot { root: root.clone() });
            }
        }
        match (&self.graphs, &self.graph) {
            (None, None) => return Err(ConfigInvalid::NoGraphSection),
            (Some(_), Some(_)) => return Err(ConfigInvalid::BothGraphSections),
            _ => {}
        }
        let mut seen: BTreeMap<String, &GraphId> = BTreeMap::new();
        let entries = self.entries();
        for (id, entry) in &entries {
            if entry.uri.trim().is_empty() {
                return Err(ConfigInvalid::EmptyUri {
                    graph: id.to_string(),
                });
            }
            if entry
                .policy
                .as_ref()
                .is_some_and(|p| p.file.as_os_str().is_empty())
            {
                return Err(ConfigInvalid::EmptyPolicyFile {
                    graph: id.to_string(),
                });
            }
            let normalized = normalize_uri(&entry.uri);
            if let Some(first) = seen.insert(normalized.clone(), id) {
                return Err(ConfigInvalid::DuplicateUri {
                    first: first.clone(),
                    second: id.clone(),
                    uri: normalized,
                });
            }
        }
        Ok(())
    }

    /// Multi when a `graphs:` map is present, else single (a validated config has
    /// exactly one of the two).
    pub fn mode(&self) -> ConfigMode {
        if self.graphs.is_some() {
            ConfigMode::Multi
        } else {
            ConfigMode::Single
        }
    }

    /// Every configured graph with its id, sorted by id; single mode's graph is listed
    /// under [`SINGLE_MODE_GRAPH_ID`].
    pub fn entries(&self) -> Vec<(GraphId, &GraphEntry)> {
        let mut out: Vec<(GraphId, &GraphEntry)> = self
            .graphs
            .iter()
            .flatten()
            .map(|(id, entry)| (id.clone(), entry))
            .collect();
        if let Some(entry) = &self.graph {
            let id = GraphId::parse(SINGLE_MODE_GRAPH_ID)
                .expect("SINGLE_MODE_GRAPH_ID is a valid graph id");
            out.push((id, entry));
        }
        out
    }

    /// The graph whose storage is at `uri` (compared normalized), if any.
    pub fn graph_with_uri(&self, uri: &str) -> Option<GraphId> {
        let wanted = normalize_uri(uri);
        self.entries()
            .into_iter()
            .find(|(_, entry)| normalize_uri(&entry.uri) == wanted)
            .map(|(id, _)| id)
    }

    /// Adds a graph in multi mode, refusing a duplicate id or a duplicate (normalized)
    /// uri. Meant to run inside [`crate::rewrite_atomic_with`], against the file's own
    /// contents re-read under the lock.
    pub fn insert_graph(&mut self, id: GraphId, entry: GraphEntry) -> Result<(), InsertGraphError> {
        if entry.uri.trim().is_empty() {
            return Err(InsertGraphError::EmptyUri(id));
        }
        match &self.graphs {
            None => return Err(InsertGraphError::SingleMode),
            Some(graphs) if graphs.contains_key(&id) => {
                return Err(InsertGraphError::DuplicateId(id))
            }
            Some(_) => {}
        }
        if let Some(existing) = self.graph_with_uri(&entry.uri) {
            return Err(InsertGraphError::DuplicateUri {
                uri: entry.uri,
                existing,
            });
        }
        self.graphs
            .get_or_insert_with(BTreeMap::new)
            .insert(id, entry);
        Ok(())
    }

    /// Graph `id` of multi mode.
    pub fn graph_entry(&self, id: &GraphId) -> Option<&GraphEntry> {
        self.graphs.as_ref()?.get(id)
    }

    fn graph_mut(&mut self, id: &GraphId) -> Result<&mut GraphEntry, EditGraphError> {
        self.graphs
            .as_mut()
            .ok_or(EditGraphError::SingleMode)?
            .get_mut(id)
            .ok_or_else(|| EditGraphError::UnknownId(id.clone()))
    }

    /// Removes graph `id` (multi mode); returns its entry.
    pub fn remove_graph(&mut self, id: &GraphId) -> Result<GraphEntry, EditGraphError> {
        self.graph_mut(id)?;
        self.graphs
            .as_mut()
            .and_then(|graphs| graphs.remove(id))
            .ok_or_else(|| EditGraphError::UnknownId(id.clone()))
    }

    /// Replaces the policy of graph `id` (multi mode); `None` removes it.
    pub fn set_graph_policy(
        &mut self,
        id: &GraphId,
        policy: Option<PolicyRef>,
    ) -> Result<(), EditGraphError> {
        self.graph_mut(id)?.policy = policy;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
