//! Per-graph policy files: read by the control plane, validated, and carried to the
//! workers as TEXT (they cannot read the control plane's disk).

use std::io::Write;
use std::path::{Path, PathBuf};

use omnigraph_api::{GraphPolicySpec, PolicySource, PolicySpecError};
use omnigraph_config::GraphId;
use omnigraph_policy::{AuthMode, CompiledPolicy, PolicyError, PolicyErrorKind, PolicyScope};
use sha2::{Digest, Sha256};

use crate::config_file::ConfigFile;

/// Where policies sent as `policy: { content }` are stored, relative to omnigraph.yaml's
/// directory: `policies/<graph_id>.yaml` at creation, `policies/<graph_id>.<tag>.yaml`
/// when replaced (a new file each time, so a failed replacement changes nothing).
pub const STORED_POLICY_DIR: &str = "policies";

/// Reads and validates the per-graph policy file at `path`; returns its text.
pub fn read_graph_policy(path: &Path) -> Result<String, PolicyError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
        source_name: source_name.clone(),
        kind: PolicyErrorKind::Read(e),
    })?;
    validate_graph_policy(&text, &source_name)?;
    Ok(text)
}

/// Compiles `text` as a per-graph policy (a server action in it is an error).
pub fn validate_graph_policy(text: &str, source_name: &str) -> Result<(), PolicyError> {
    CompiledPolicy::from_text(text, source_name, PolicyScope::Graph).map(|_| ())
}

/// A validated per-graph policy from a request's `policy: { file | content }`.
pub enum PolicyChoice {
    /// `policy: { file }`: recorded in the yaml as written.
    File { as_written: PathBuf, text: String },
    /// `policy: { content }`: to be stored beside the yaml.
    Content(String),
}

impl PolicyChoice {
    pub fn text(&self) -> &str {
        match self {
            PolicyChoice::File { text, .. } | PolicyChoice::Content(text) => text,
        }
    }
}

/// Why a request's policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyChoiceError {
    #[error("invalid `policy`: {0}")]
    Spec(#[from] PolicySpecError),
    #[error("invalid policy: {0}")]
    Invalid(#[from] PolicyError),
    #[error("this control plane runs in open mode (--unauthenticated), where policies are not enforced and a policy in omnigraph.yaml would refuse the next start; configure bearer tokens to give graphs policies")]
    OpenMode,
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Reads (a file on this host, relative to omnigraph.yaml) or takes (content) the policy
/// and compiles it as a per-graph policy.
pub async fn choose_policy(
    config: &ConfigFile,
    auth: &AuthMode,
    spec: &GraphPolicySpec,
) -> Result<PolicyChoice, PolicyChoiceError> {
    if matches!(auth, AuthMode::Open) {
        return Err(PolicyChoiceError::OpenMode);
    }
    match spec.source()? {
        PolicySource::File(file) => {
            let as_written = PathBuf::from(file.trim());
            let resolved = config.resolve(&as_written);
            let text = tokio::task::spawn_blocking(move || read_graph_policy(&resolved)).await??;
            Ok(PolicyChoice::File { as_written, text })
        }
        PolicySource::Content(text) => {
            validate_graph_policy(text, "policy.content")?;
            Ok(PolicyChoice::Content(text.to_owned()))
        }
    }
}

/// The path (as written in omnigraph.yaml) of a policy stored for `id`; `tag` tells
/// replacements apart.
pub fn stored_policy_path(id: &GraphId, tag: Option<&str>) -> PathBuf {
    let name = match tag {
        None => format!("{id}.yaml"),
        Some(tag) => format!("{id}.{tag}.yaml"),
    };
    Path::new(STORED_POLICY_DIR).join(name)
}

/// Whether `as_written` is a policy this control plane stored for `id` (and may remove
/// when the graph or its policy goes). Graph ids have no `.`, so `<id>.` is unambiguous.
pub fn is_stored_policy_of(id: &GraphId, as_written: &Path) -> bool {
    let stored_dir = as_written.parent() == Some(Path::new(STORED_POLICY_DIR));
    let name = as_written
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    stored_dir && name.starts_with(&format!("{id}.")) && name.ends_with(".yaml")
}

/// Why a policy could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum StorePolicyError {
    #[error("policy file {} already exists; pass `policy: {{ file }}` to use it", .0.display())]
    Exists(PathBuf),
    #[error("cannot store the policy at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates `path` with `text` (fsynced), refusing to replace an existing file.
pub fn store_policy(path: &Path, text: &str) -> Result<(), StorePolicyError> {
    let fail = |source| StorePolicyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StorePolicyError::Exists(path.to_path_buf()))
        }
        Err(e) => return Err(fail(e)),
    };
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// Removes a stored policy that is no longer referenced; a failure is only logged.
pub async fn remove_stored_policy(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), "cannot remove a stored policy: {e}");
        }
    }
}

/// Lowercase hex SHA-256 of a text (schemas and policies in `GET /graphs/{id}`).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_policy_names_belong_to_one_graph() {
        let a = GraphId::parse("a").unwrap();
        assert!(is_stored_policy_of(&a, &stored_policy_path(&a, None)));
        assert!(is_stored_policy_of(
            &a,
            &stored_policy_path(&a, Some("1f2e"))
        ));
        let ab = GraphId::parse("a-b").unwrap();
        assert!(!is_stored_policy_of(&a, &stored_policy_path(&ab, None)));
        assert!(!is_stored_policy_of(&a, Path::new("other/a.yaml")));
        assert!(!is_stored_policy_of(&a, Path::new("a.yaml")));
    }
}
