//! Per-graph policy files: read by the control plane, validated, and carried to the
//! workers as TEXT (they cannot read the control plane's disk).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use omnigraph_api::{GraphPolicySpec, PolicySource, PolicySpecError};
use omnigraph_config::GraphId;
use omnigraph_policy::{AuthMode, CompiledPolicy, PolicyError, PolicyErrorKind, PolicyScope};
use sha2::{Digest, Sha256};

use crate::config::file::ConfigFile;
use crate::registry::Registry;

/// The policy folder, relative to omnigraph.yaml's directory. Policies sent as
/// `policy: { content }` are stored in it: `policies/<graph_id>.yaml` at creation,
/// `policies/<graph_id>.<tag>.yaml` when replaced (a new file each time, so a failed
/// replacement changes nothing). A `policy: { file }` of `POST`/`PATCH /graphs` must be
/// in it too (after normalising, following symlinks): the API never reads another file
/// of this host. A file directly in it named like another registered graph's stored
/// policy (`<other_id>.yaml`, `<other_id>.<tag>.yaml`) belongs to that graph and cannot
/// be named; any other file (e.g. `policies/shared/readers.yaml`) may be shared.
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
    /// `policy.file` names a file the API may not read (outside the policy folder, or
    /// another graph's stored policy); nothing was read.
    #[error("invalid `policy.file`: {0}")]
    File(String),
    #[error("invalid policy: {0}")]
    Invalid(#[from] PolicyError),
    #[error("this control plane runs in open mode (--unauthenticated), where policies are not enforced and a policy in omnigraph.yaml would refuse the next start; configure bearer tokens to give graphs policies")]
    OpenMode,
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Reads (a file of the policy folder, see [`STORED_POLICY_DIR`]) or takes (content)
/// the policy of graph `id` and compiles it as a per-graph policy.
pub async fn choose_policy(
    config: &ConfigFile,
    auth: &AuthMode,
    registry: &Registry,
    id: &GraphId,
    spec: &GraphPolicySpec,
) -> Result<PolicyChoice, PolicyChoiceError> {
    if matches!(auth, AuthMode::Open) {
        return Err(PolicyChoiceError::OpenMode);
    }
    match spec.source()? {
        PolicySource::File(file) => {
            let as_written = policy_folder_path(config, file)?;
            if let Some(owner) = stored_policy_owner(&as_written) {
                if &owner != id && registry.get(&owner).is_some() {
                    return Err(PolicyChoiceError::File(format!(
                        "{} is the stored policy of graph '{owner}'; a graph may name only its own stored policies or another file of the policy folder (e.g. {STORED_POLICY_DIR}/shared/<name>.yaml)",
                        as_written.display()
                    )));
                }
            }
            let folder = config.resolve(Path::new(STORED_POLICY_DIR));
            let resolved = config.resolve(&as_written);
            let name = as_written.clone();
            let text = tokio::task::spawn_blocking(move || {
                read_policy_in_folder(&folder, &resolved, &name)
            })
            .await??;
            Ok(PolicyChoice::File { as_written, text })
        }
        PolicySource::Content(text) => {
            validate_graph_policy(text, "policy.content")?;
            Ok(PolicyChoice::Content(text.to_owned()))
        }
    }
}

/// `policy.file` as it will be written in omnigraph.yaml: `policies/<rest>`, normalised
/// (no `.`, no `..`, relative). Accepts a relative path from omnigraph.yaml's directory
/// or an absolute one, either inside the policy folder; refuses anything with `..`.
fn policy_folder_path(config: &ConfigFile, raw: &str) -> Result<PathBuf, PolicyChoiceError> {
    let refuse = |why: &str| Err(PolicyChoiceError::File(why.to_owned()));
    let raw = raw.trim();
    if raw.is_empty() {
        return refuse("`policy.file` is empty");
    }
    if raw.chars().any(char::is_control) {
        return refuse("`policy.file` contains control characters");
    }
    let path = Path::new(raw);
    if path.components().any(|c| c == Component::ParentDir) {
        return refuse("`..` is not allowed in `policy.file`; name a file of the policy folder (policies/ next to omnigraph.yaml)");
    }
    let relative = if path.is_absolute() {
        let folder = config.resolve(Path::new(STORED_POLICY_DIR));
        match path.strip_prefix(&folder) {
            Ok(rest) => Path::new(STORED_POLICY_DIR).join(rest),
            Err(_) => return refuse("`policy.file` must be a file of the control plane's policy folder (policies/ next to omnigraph.yaml); other files of this host are never read"),
        }
    } else {
        path.to_path_buf()
    };
    let parts: Vec<&std::ffi::OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    match parts.split_first() {
        Some((first, rest)) if *first == STORED_POLICY_DIR && !rest.is_empty() => {
            Ok(rest.iter().fold(PathBuf::from(STORED_POLICY_DIR), |p, part| p.join(part)))
        }
        _ => refuse("`policy.file` must be a file of the control plane's policy folder, written `policies/<name>.yaml` (relative to omnigraph.yaml); other files of this host are never read"),
    }
}

/// The graph whose stored-policy name `as_written` has (`policies/<id>.yaml` or
/// `policies/<id>.<tag>.yaml`), if any.
pub fn stored_policy_owner(as_written: &Path) -> Option<GraphId> {
    if as_written.parent() != Some(Path::new(STORED_POLICY_DIR)) {
        return None;
    }
    let name = as_written.file_name()?.to_str()?;
    let stem = name.strip_suffix(".yaml")?;
    let id = stem.split('.').next()?;
    GraphId::parse(id).ok()
}

/// Reads and validates the policy at `resolved` (named `name` in errors), refusing a
/// path that leads out of `folder` once symlinks are followed.
fn read_policy_in_folder(
    folder: &Path,
    resolved: &Path,
    name: &Path,
) -> Result<String, PolicyChoiceError> {
    let source_name = name.display().to_string();
    let missing = |e: std::io::Error| {
        PolicyChoiceError::Invalid(PolicyError {
            source_name: source_name.clone(),
            kind: PolicyErrorKind::Read(e),
        })
    };
    let folder = std::fs::canonicalize(folder).map_err(missing)?;
    let real = std::fs::canonicalize(resolved).map_err(missing)?;
    if !real.starts_with(&folder) {
        return Err(PolicyChoiceError::File(format!(
            "{source_name} leads out of the policy folder (a symlink?); other files of this host are never read"
        )));
    }
    if !real.is_file() {
        return Err(PolicyChoiceError::File(format!(
            "{source_name} is not a file"
        )));
    }
    let text = std::fs::read_to_string(&real).map_err(missing)?;
    validate_graph_policy(&text, &source_name)?;
    Ok(text)
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
    let as_written = &normalise(as_written);
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

/// The path with `.` dropped and `..` applied, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`; a relative path keeps the `..`s that go above its start.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

/// Whether two paths as written in omnigraph.yaml name the same file.
pub fn same_policy_file(config: &ConfigFile, a: &Path, b: &Path) -> bool {
    let (a, b) = (config.resolve(a), config.resolve(b));
    normalise(&a) == normalise(&b)
        || matches!(
            (std::fs::canonicalize(&a), std::fs::canonicalize(&b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Removes the stored policy `file` (as written) of graph `id`, which omnigraph.yaml no
/// longer gives it: only a file with `id`'s stored-policy name, and only when no graph
/// (nor the server) names it in omnigraph.yaml as it is on disk now. A delete or a
/// replacement never removes a file another graph still needs.
pub async fn remove_unused_stored_policy(
    config: &std::sync::Arc<ConfigFile>,
    id: &GraphId,
    file: &Path,
) {
    if !is_stored_policy_of(id, file) {
        return;
    }
    let (check, target) = (config.clone(), file.to_path_buf());
    let in_use = tokio::task::spawn_blocking(move || check.policy_file_in_use(&target))
        .await
        .unwrap_or(true);
    if in_use {
        tracing::info!(graph_id = %id, path = %file.display(), "stored policy kept: another graph names it");
        return;
    }
    remove_stored_policy(&config.resolve(file)).await;
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

    #[test]
    fn stored_policy_owner_reads_the_graph_id_from_the_name() {
        let owner = |p: &str| stored_policy_owner(Path::new(p)).map(GraphId::into_string);
        assert_eq!(owner("policies/beta.yaml").as_deref(), Some("beta"));
        assert_eq!(owner("policies/beta.1f2e.yaml").as_deref(), Some("beta"));
        assert_eq!(owner("policies/shared/beta.yaml"), None);
        assert_eq!(owner("policies/beta.yml"), None);
        assert_eq!(owner("beta.yaml"), None);
    }

    #[test]
    fn normalise_drops_dots_and_applies_parents() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), Path::new("/a/c"));
        assert_eq!(
            normalise(Path::new("./policies/x.yaml")),
            Path::new("policies/x.yaml")
        );
        assert_eq!(
            normalise(Path::new("../policies/x.yaml")),
            Path::new("../policies/x.yaml")
        );
        assert_eq!(normalise(Path::new("/../a")), Path::new("/a"));
        let a = GraphId::parse("a").unwrap();
        assert!(is_stored_policy_of(&a, Path::new("./policies/a.yaml")));
        assert!(!is_stored_policy_of(&a, Path::new("../policies/a.yaml")));
    }
}
