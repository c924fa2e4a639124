//! Tags: names for commits, kept by version cleanup until the tag is deleted. This module
//! reads and writes the tag objects; creating a tag on a branch head or commit is the
//! engine's (shared/engine/src/tag.rs).
//!
//! A tag is one object next to the branch refs, `_refs/tags/<name>.json`, written with
//! create-if-absent (no-clobber locally, `If-None-Match` on S3): of two workers creating
//! the same name, one wins and the other gets `AlreadyExists`. It names a commit
//! (`<chain>.<version>`, see shared/storage/src/branch.rs) and carries a copy of that
//! commit's manifest, so that what the tagged version reads (its table versions) is known
//! from the tag alone.
//!
//! Cleanup (shared/engine/src/cleanup.rs) keeps every file a tagged version reads; the
//! version's manifest lives on in the tag (the chain's copy goes with the others), so a
//! read by the tag or by the commit id ([`read_commit`]) still finds it. A tag
//! created while a cleanup runs is safe too: the tag is written first and the commit's
//! manifest is read again after it, and cleanup deletes graph versions first and lists the
//! tags again after that, before it deletes any table file. So either the creator finds
//! the manifest gone (the tag is removed again and the creation answers `Reclaimed`), or
//! the cleanup sees the tag and keeps the tagged version's files.

use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::branch;
use crate::error::{Result, StorageError};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore};

/// Where tags live, next to the branch refs (`_refs/branches`).
pub const TAGS_DIR: &str = "_refs/tags";

/// One tag: its name, the commit it names, and that commit's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    /// The commit, `<chain>.<version>` (a branch's first version is recorded as the
    /// commit it was created from).
    pub commit: String,
    pub created_at: String,
    pub actor: String,
    /// The commit's graph manifest, as it was published.
    pub manifest: GraphManifest,
}

impl Tag {
    /// The graph version of the tagged commit (in its chain).
    pub fn manifest_version(&self) -> u64 {
        self.manifest.version
    }

    /// The chain of the tagged commit (`main` or a branch chain's id).
    pub fn chain(&self) -> Option<String> {
        branch::parse_commit_id(&self.commit).ok().map(|(c, _)| c)
    }
}

/// What a new tag names.
#[derive(Debug, Clone, Copy)]
pub enum TagTarget<'a> {
    /// A commit id, `<chain>.<version>`.
    Commit(&'a str),
    /// The head of a branch, now.
    Branch(&'a str),
}

/// Tag names follow the rules of branch names (letters, digits, `._-`, and `/` between
/// segments; at most 200 bytes).
pub fn validate_tag_name(name: &str) -> Result<()> {
    branch::validate_ref_name("tag", name)
}

fn tag_path(name: &str) -> String {
    format!("{TAGS_DIR}/{name}.json")
}

/// Tag `name`, if it exists.
pub async fn read_tag(loc: &GraphLocation, name: &str) -> Result<Option<Tag>> {
    loc.read_json(&tag_path(name), &format!("tag {name}")).await
}

/// Every tag of the graph, by name.
pub async fn list_tags(loc: &GraphLocation) -> Result<Vec<Tag>> {
    let mut tags = vec![];
    for name in loc.list_json_names(TAGS_DIR).await? {
        if validate_tag_name(&name).is_err() {
            continue;
        }
        // Deleted between the listing and the read: not a tag any more.
        if let Some(tag) = read_tag(loc, &name).await? {
            tags.push(tag);
        }
    }
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tags)
}

/// Writes the tag if no tag of that name exists: the commit point of a tag creation.
pub async fn create_ref(loc: &GraphLocation, tag: &Tag) -> Result<()> {
    if loc.create_json(&tag_path(&tag.name), tag).await? {
        Ok(())
    } else {
        Err(StorageError::AlreadyExists(format!("tag {}", tag.name)))
    }
}

pub async fn delete_ref(loc: &GraphLocation, name: &str) -> Result<()> {
    match loc.store.delete(&loc.path(&tag_path(name))).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether the commit `tag` names is still there apart from `tag` itself: in its chain, or
/// held by another tag (which keeps its files).
pub async fn still_kept(loc: &GraphLocation, tag: &Tag) -> Result<bool> {
    let (chain, version) = branch::parse_commit_id(&tag.commit)?;
    let store = ManifestStore::chain(loc.clone(), &branch::chain_dir(&chain), 1);
    match store.read(version).await {
        Ok(_) => Ok(true),
        Err(StorageError::NotFound(_) | StorageError::Reclaimed(_)) => Ok(list_tags(loc)
            .await?
            .iter()
            .any(|t| t.name != tag.name && t.commit == tag.commit)),
        Err(e) => Err(e),
    }
}

/// The manifest behind commit `id`: its chain's, or, once version cleanup deleted that,
/// the copy a tag of the commit holds. It lives with the tags because of that fallback.
pub async fn read_commit(loc: &GraphLocation, id: &str) -> Result<(String, GraphManifest)> {
    let (chain, version) = branch::parse_commit_id(id)?;
    let store = ManifestStore::chain(loc.clone(), &branch::chain_dir(&chain), 1);
    match store.read(version).await {
        Ok(m) => Ok((chain, m)),
        Err(StorageError::NotFound(_)) => Err(StorageError::NotFound(format!("no commit {id}"))),
        Err(StorageError::Reclaimed(why)) => {
            let tagged = list_tags(loc).await?.into_iter().find(|t| t.commit == id);
            match tagged {
                Some(t) => Ok((chain, t.manifest)),
                None => Err(StorageError::Reclaimed(why)),
            }
        }
        Err(e) => Err(e),
    }
}
