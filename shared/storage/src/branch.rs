//! Branches of a graph and the commits they are made of.
//!
//! The main branch is the graph's own manifest chain (`_manifest/`). Another branch is a
//! second chain in a folder unique to that creation of the name (`_branches/<id>/`) plus a
//! ref, `_refs/branches/<name>.json`, naming the folder. Creating a branch writes one
//! manifest (a copy of the source head, which shares every table version: no data is
//! copied) and then the ref with create-if-absent, the commit point. Deleting a branch
//! deletes its ref only; its commits stay readable by id.
//!
//! Every published manifest is a commit. A commit id is `<chain>.<version>`, where the
//! chain is `main` or the branch folder's id, so ids stay unique and stable when a branch
//! name is deleted and created again.

use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore, MANIFEST_DIR};

/// The default branch: the graph's own manifest chain.
pub const MAIN: &str = "main";
/// Where refs of branches other than main live.
pub const REFS_DIR: &str = "_refs/branches";
/// Where the manifest chains of branches other than main live.
pub const BRANCHES_DIR: &str = "_branches";
const MAX_NAME_LEN: usize = 200;

/// A branch other than main: its name, its chain, and where it was created from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BranchRef {
    pub name: String,
    /// Id of the branch's chain (its folder under `_branches/`), unique per creation.
    pub chain: String,
    /// The commit the branch was created from, and that commit's manifest version (the
    /// branch chain's first version).
    pub forked_from: String,
    pub fork_version: u64,
    pub created_at: String,
    pub actor: String,
}

impl BranchRef {
    pub fn dir(&self) -> String {
        chain_dir(&self.chain)
    }
}

/// One commit: a published graph version of some branch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Commit {
    pub id: String,
    /// Commits this one was built on (none for a graph's first version).
    pub parents: Vec<String>,
    pub manifest_version: u64,
    pub actor: String,
    pub created_at: String,
}

/// Folder of a chain: `main` is the graph's `_manifest/`.
pub fn chain_dir(chain: &str) -> String {
    if chain == MAIN {
        MANIFEST_DIR.to_string()
    } else {
        format!("{BRANCHES_DIR}/{chain}")
    }
}

pub fn commit_id(chain: &str, version: u64) -> String {
    format!("{chain}.{version}")
}

/// `<chain>.<version>` -> (chain, version).
pub fn parse_commit_id(id: &str) -> Result<(String, u64)> {
    let bad = || {
        StorageError::Invalid(format!(
            "not a commit id: {id:?} (expected <chain>.<version>)"
        ))
    };
    let (chain, version) = id.rsplit_once('.').ok_or_else(bad)?;
    let version: u64 = version.parse().map_err(|_| bad())?;
    let chain_ok = chain == MAIN
        || (!chain.is_empty() && chain.len() <= 64 && chain.bytes().all(|b| b.is_ascii_hexdigit()));
    if !chain_ok || version == 0 {
        return Err(bad());
    }
    Ok((chain.to_string(), version))
}

/// The commit a manifest of `chain` stands for: a branch's first manifest is the commit
/// it was forked from.
pub fn manifest_commit_id(chain: &str, m: &GraphManifest) -> String {
    m.forked_from
        .clone()
        .unwrap_or_else(|| commit_id(chain, m.version))
}

/// The parents of the commit of manifest `m` of `chain`.
pub fn manifest_parents(chain: &str, m: &GraphManifest) -> Vec<String> {
    let mut parents = match (&m.parent_commit, m.parent) {
        (Some(p), _) => vec![p.clone()],
        (None, Some(v)) => vec![commit_id(chain, v)],
        (None, None) => vec![],
    };
    parents.extend(m.merged_from.clone());
    parents
}

/// Branch names: letters, digits and `._-/`, segments separated by single slashes (so
/// `agent/alice` works and policies can match `agent/*`), at most 200 bytes.
/// A name no new branch may take: `/branches/merge` is the merge route, so a branch of
/// that name could not be deleted over HTTP.
pub const RESERVED_NAME: &str = "merge";

pub fn validate_branch_name(name: &str) -> Result<()> {
    validate_ref_name("branch", name)
}

/// The naming rules of branches, for refs of any `kind` (`branch`, `tag`).
pub fn validate_ref_name(kind: &str, name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(StorageError::Invalid(format!(
            "invalid {kind} name {name:?}: {why}"
        )))
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad("must be 1 to 200 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return bad("use letters, digits and . _ - /");
    }
    if name
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return bad("empty, '.' or '..' path segment");
    }
    Ok(())
}

/// Object name of a ref: `_refs/branches/<name>.json`, a name's `/` making folders (names
/// are checked to be safe path segments, and need no escaping in object names).
fn ref_path(name: &str) -> String {
    format!("{REFS_DIR}/{name}.json")
}

pub async fn read_ref(loc: &GraphLocation, name: &str) -> Result<Option<BranchRef>> {
    loc.read_json(&ref_path(name), &format!("branch ref {name}"))
        .await
}

/// Every branch other than main, by name.
pub async fn list_refs(loc: &GraphLocation) -> Result<Vec<BranchRef>> {
    let mut refs = vec![];
    for name in loc.list_json_names(REFS_DIR).await? {
        if validate_branch_name(&name).is_err() {
            continue;
        }
        if let Some(r) = read_ref(loc, &name).await? {
            refs.push(r);
        }
    }
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(refs)
}

/// Create the ref if no branch of that name exists: the commit point of a branch creation.
pub async fn create_ref(loc: &GraphLocation, r: &BranchRef) -> Result<()> {
    if loc.create_json(&ref_path(&r.name), r).await? {
        Ok(())
    } else {
        Err(StorageError::AlreadyExists(format!("branch {}", r.name)))
    }
}

pub async fn delete_ref(loc: &GraphLocation, name: &str) -> Result<()> {
    loc.store.delete(&loc.path(&ref_path(name))).await?;
    Ok(())
}

/// The manifest chain of a branch ref.
pub fn chain_store(loc: &GraphLocation, r: &BranchRef) -> ManifestStore {
    ManifestStore::chain(loc.clone(), &r.dir(), r.fork_version)
}
