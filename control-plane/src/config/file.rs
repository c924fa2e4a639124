//! The control plane's hold on `omnigraph.yaml`: the SHA-256 baseline of the bytes it
//! loaded or last wrote, graph additions through the atomic rewrite, and drift detection
//! (the file on disk is no longer the baseline: someone edited it by hand).
//!
//! Every method that touches the file blocks (file I/O, `flock`): async callers run it
//! in `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use omnigraph_config::{
    hash_config_file, hash_to_hex, resolve_relative_to_config, rewrite_atomic_with, ConfigError,
    ConfigHash, EditGraphError, GraphEntry, GraphId, InsertGraphError, OmnigraphConfig, PolicyRef,
    RewriteAtomicError, RewriteWithError,
};

/// Why adding a graph to the file failed; in every case the file is unchanged.
pub type AddGraphError = RewriteWithError<InsertGraphError>;
/// Why removing or changing a graph of the file failed; the file is unchanged.
pub type EditGraphFileError = RewriteWithError<EditGraphError>;

/// The file on disk differs from the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Lowercase hex SHA-256 of what is on disk, or `None` when the file cannot be read.
    pub on_disk: Option<String>,
    pub message: String,
}

pub struct ConfigFile {
    path: PathBuf,
    /// Held for the whole rewrite (inside `spawn_blocking`), so a drift check never
    /// compares the freshly written file with the previous baseline.
    baseline: Mutex<ConfigHash>,
    drift: Mutex<Option<Drift>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ConfigFile {
    /// Loads and validates the file; its hash becomes the baseline. `path` is made
    /// absolute so that its directory (watched, and the base of relative policy paths)
    /// is always known.
    pub fn load(path: &Path) -> Result<(ConfigFile, OmnigraphConfig), ConfigError> {
        let path = std::path::absolute(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let loaded = OmnigraphConfig::load_with_hash(&path)?;
        let file = ConfigFile {
            path,
            baseline: Mutex::new(loaded.hash),
            drift: Mutex::new(None),
        };
        Ok((file, loaded.config))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path as written in the file (policy files), resolved against its directory.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        resolve_relative_to_config(&self.path, relative)
    }

    /// Whether the server or any graph of the file as it is on disk now names the policy
    /// file `file` (as written; compared after resolving). True when the file cannot be
    /// read: then nothing may be removed.
    pub fn policy_file_in_use(&self, file: &Path) -> bool {
        let config = match OmnigraphConfig::load(&self.path) {
            Ok(config) => config,
            Err(e) => {
                tracing::warn!(config = %self.path.display(), "cannot read the config to check a policy file's users: {e}");
                return true;
            }
        };
        let same =
            |named: &PolicyRef| crate::graphs::policy::same_policy_file(self, &named.file, file);
        config.server.policy.as_ref().is_some_and(same)
            || config
                .entries()
                .iter()
                .any(|(_, entry)| entry.policy.as_ref().is_some_and(same))
    }

    pub fn baseline(&self) -> ConfigHash {
        *lock(&self.baseline)
    }

    /// The last drift seen by [`check_drift`](Self::check_drift) or a refused rewrite.
    pub fn drift(&self) -> Option<Drift> {
        lock(&self.drift).clone()
    }

    /// Adds `id -> entry` by atomic rewrite. Duplicates are checked against the file's
    /// own contents, re-read under the lock.
    pub fn add_graph(&self, id: GraphId, entry: GraphEntry) -> Result<ConfigHash, AddGraphError> {
        self.rewrite(|config| config.insert_graph(id, entry))
    }

    /// Removes graph `id` by atomic rewrite; refused when the file does not hold it.
    /// Returns the removed entry.
    pub fn remove_graph(
        &self,
        id: &GraphId,
    ) -> Result<(GraphEntry, ConfigHash), EditGraphFileError> {
        let mut removed = None;
        let hash = self.rewrite(|config| {
            removed = Some(config.remove_graph(id)?);
            Ok(())
        })?;
        let entry = removed
            .ok_or_else(|| RewriteWithError::Update(EditGraphError::UnknownId(id.clone())))?;
        Ok((entry, hash))
    }

    /// Replaces the policy of graph `id` by atomic rewrite; returns the previous one.
    pub fn set_graph_policy(
        &self,
        id: &GraphId,
        policy: Option<PolicyRef>,
    ) -> Result<(Option<PolicyRef>, ConfigHash), EditGraphFileError> {
        let mut previous = None;
        let hash = self.rewrite(|config| {
            previous = config
                .graph_entry(id)
                .and_then(|entry| entry.policy.clone());
            config.set_graph_policy(id, policy)
        })?;
        Ok((previous, hash))
    }

    /// One atomic rewrite of the file with `edit` applied to its current contents (read
    /// under the flock). A file that is not the baseline is refused (drift) and recorded;
    /// on success the new hash becomes the baseline. Every writer of this process goes
    /// through here, one at a time.
    fn rewrite<E>(
        &self,
        edit: impl FnOnce(&mut OmnigraphConfig) -> Result<(), E>,
    ) -> Result<ConfigHash, RewriteWithError<E>> {
        let mut baseline = lock(&self.baseline);
        let result = rewrite_atomic_with(&self.path, *baseline, edit);
        match &result {
            Ok(new_hash) => {
                *baseline = *new_hash;
                self.set_drift(None);
            }
            Err(RewriteWithError::Rewrite(RewriteAtomicError::Drift { actual, .. })) => {
                self.set_drift(Some(Drift {
                    on_disk: Some(hash_to_hex(actual)),
                    message: drift_message(&self.path),
                }));
            }
            Err(_) => {}
        }
        result
    }

    /// Re-hashes the file and compares it with the baseline; records and returns the
    /// result. Waits for an in-flight rewrite of this process to finish first.
    pub fn check_drift(&self) -> Option<Drift> {
        let baseline = lock(&self.baseline);
        let drift = match hash_config_file(&self.path) {
            Ok(hash) if hash == *baseline => None,
            Ok(hash) => Some(Drift {
                on_disk: Some(hash_to_hex(&hash)),
                message: drift_message(&self.path),
            }),
            Err(err) => Some(Drift {
                on_disk: None,
                message: format!(
                    "{} cannot be read ({err}); graph creation is refused until it is restored",
                    self.path.display()
                ),
            }),
        };
        self.set_drift(drift.clone());
        drop(baseline);
        drift
    }

    fn set_drift(&self, drift: Option<Drift>) {
        let mut current = lock(&self.drift);
        match (&*current, &drift) {
            (None, Some(new)) => {
                crate::metrics::drift_detected();
                tracing::warn!(
                    config = %self.path.display(),
                    on_disk_sha256 = new.on_disk.as_deref().unwrap_or("unreadable"),
                    "config drift: {}",
                    new.message
                )
            }
            (Some(_), None) => tracing::info!(
                config = %self.path.display(),
                "config drift cleared: the file matches what this control plane loaded or wrote"
            ),
            _ => {}
        }
        *current = drift;
    }
}

fn drift_message(path: &Path) -> String {
    format!(
        "{} was changed by hand since this control plane loaded or last wrote it; \
         changes of graphs (POST, PATCH and DELETE /graphs) are refused (503) so the \
         edit is not overwritten. Restart the control plane to adopt the file as it is now",
        path.display()
    )
}

#[cfg(test)]
mod tests;
