//! Deleted graphs: a tombstone marks a graph's storage as deleted, and a purge removes
//! the storage of a tombstoned graph. Also the graph's incarnation marker, which a delete
//! removes first.
//!
//! Every graph created since incarnations exist has one: a random id that `init` writes
//! as `_incarnation/<id>` and into every manifest. A handle checks that its marker still
//! exists before each publish (instead of reading the tombstone: no extra request) and,
//! at most once a second, before a read; a handle whose marker is gone (the graph was
//! deleted, or deleted, purged and created again at the same uri) refuses to read or
//! write from then on, so a worker that missed the registry's news can never publish
//! into another graph.
//!
//! A delete first removes the incarnation marker (from then on no handle reads or
//! publishes), then writes the tombstone (`_tombstone.json`, create-if-absent), the
//! commit point of the delete: from then on opening the graph (shared/engine/src/graph.rs)
//! and creating one there ([`crate::create::create_graph`]) are refused, in every process,
//! whatever a registry still says. Old versions stay on storage (readable by nobody through the
//! engine) until a purge.
//!
//! A purge deletes only what the graph wrote: objects whose paths follow the graph's own
//! layout (table folders `nodes|edges/<Type>.<12 hex>.lance/`, manifests
//! `_manifest/<20 digits>.json` and `_latest`, branch chains `_branches/<12 hex>/...`,
//! refs `_refs/branches/<name>.json`, tags `_refs/tags/<name>.json`, `_dropped/` markers,
//! `_incarnation/<id>`, the maintenance lease and record `_maintenance/`); any
//! other file, even inside those folders, is kept. The tombstone goes last, so a purge
//! that stops half-way is still a tombstoned graph (no process opens it, no init reuses
//! it) and can be run again. Paths are compared by whole segments: purging `/data/g`
//! never touches `/data/g2` nor a graph nested elsewhere under `/data/g`.
//!
//! What a purge cannot undo: a write whose check passed before the delete and whose
//! manifest PUT is still in flight (one request, retried for at most 30 s) can land after
//! the purge. The grace period of `omnigraph-control-plane purge` (24 h by default) covers
//! it; `DELETE ?purge=true` skips the grace period on request. Such a late manifest makes
//! the location non-empty, so no new graph is created over it.

use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore, MANIFEST_DIR};

/// File name of the marker, in the graph's root.
pub const TOMBSTONE_FILE: &str = "_tombstone.json";
/// Folder of the incarnation marker, `_incarnation/<id>`.
pub const INCARNATION_DIR: &str = "_incarnation";
/// The directories a graph writes under its root; a purge lists only these, and deletes
/// only the objects in them that follow the graph's layout ([`written_by_graph`]).
const OWNED_DIRS: [&str; 9] = [
    INCARNATION_DIR,
    "nodes",
    "edges",
    MANIFEST_DIR,
    crate::branch::BRANCHES_DIR,
    crate::branch::REFS_DIR,
    crate::tag::TAGS_DIR,
    crate::table_key::DROPPED_DIR,
    crate::lease::LEASE_DIR,
];

/// A new incarnation id (32 hex digits).
pub fn new_incarnation() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn incarnation_path(id: &str) -> String {
    format!("{INCARNATION_DIR}/{id}")
}

/// Writes the marker of incarnation `id` (create-if-absent).
pub async fn write_incarnation(loc: &GraphLocation, id: &str) -> Result<()> {
    let body = serde_json::json!({ "incarnation": id, "created_at": crate::manifest::now() });
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    loc.store
        .put_opts(
            &loc.path(&incarnation_path(id)),
            PutPayload::from(body.to_string().into_bytes()),
            opts,
        )
        .await?;
    Ok(())
}

/// Whether the marker of incarnation `id` still exists (one HEAD).
pub async fn incarnation_alive(loc: &GraphLocation, id: &str) -> Result<bool> {
    match loc.store.head(&loc.path(&incarnation_path(id))).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Removes the incarnation marker(s) of the graph at `loc`: from then on no handle reads
/// or publishes. Returns how many objects were deleted.
pub async fn remove_incarnations(loc: &GraphLocation) -> Result<u64> {
    delete_written(loc, INCARNATION_DIR).await
}

/// Whether `relative` (a path under a graph's root) follows the layout of the objects a
/// graph writes. A purge deletes nothing else.
pub fn written_by_graph(relative: &str) -> bool {
    let segments: Vec<&str> = relative.split('/').collect();
    match segments.as_slice() {
        ["nodes" | "edges", table, rest @ ..] => !rest.is_empty() && is_table_dir(table),
        [dir, file] if *dir == MANIFEST_DIR => is_version_file(file),
        [dir, chain, file] if *dir == crate::branch::BRANCHES_DIR => {
            is_hex(chain, 12) && is_version_file(file)
        }
        ["_refs", "branches", name @ ..] if !name.is_empty() => name
            .join("/")
            .strip_suffix(".json")
            .is_some_and(|n| crate::branch::validate_branch_name(n).is_ok()),
        ["_refs", "tags", name @ ..] if !name.is_empty() => name
            .join("/")
            .strip_suffix(".json")
            .is_some_and(|n| crate::tag::validate_tag_name(n).is_ok()),
        [dir, file] if *dir == crate::lease::LEASE_DIR => crate::lease::is_lease_file(file),
        [dir, "nodes" | "edges", marker] if *dir == crate::table_key::DROPPED_DIR => {
            marker.strip_suffix(".json").is_some_and(is_table_dir)
        }
        [dir, id] if *dir == INCARNATION_DIR => is_hex(id, 32),
        _ => false,
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `<Type>.<12 hex>.lance`, as [`crate::table_key::table_dir`] names a table's folder.
fn is_table_dir(name: &str) -> bool {
    let Some((type_name, id)) = name.strip_suffix(".lance").and_then(|n| n.rsplit_once('.')) else {
        return false;
    };
    !type_name.is_empty()
        && type_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && is_hex(id, 12)
}

/// `<20 digits>.json` or `_latest`, as a manifest chain names its files.
fn is_version_file(name: &str) -> bool {
    name == "_latest"
        || name
            .strip_suffix(".json")
            .is_some_and(|v| v.len() == 20 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// Who deleted a graph, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub graph_id: String,
    pub actor: String,
    /// RFC 3339, UTC.
    pub deleted_at: String,
}

impl Tombstone {
    pub fn now(graph_id: &str, actor: &str) -> Tombstone {
        Tombstone {
            graph_id: graph_id.to_owned(),
            actor: actor.to_owned(),
            deleted_at: Utc::now().to_rfc3339(),
        }
    }

    /// When the graph was deleted; `None` for an unreadable time (never too young to purge).
    pub fn deleted_time(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.deleted_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub objects_deleted: u64,
}

/// Marks the graph at `uri` deleted: removes its incarnation marker (from then on no open
/// handle reads or publishes), then writes the tombstone (from then on no process opens
/// it). Idempotent: an existing tombstone is kept (and returned), so a retried delete
/// does not move the deletion time.
pub async fn write_tombstone(uri: &str, tombstone: &Tombstone) -> Result<Tombstone> {
    let loc = GraphLocation::parse(uri)?;
    remove_incarnations(&loc).await?;
    let body = serde_json::to_vec_pretty(tombstone)
        .map_err(|e| StorageError::Corrupt(format!("serialize tombstone: {e}")))?;
    let opts = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    match loc
        .store
        .put_opts(&loc.path(TOMBSTONE_FILE), PutPayload::from(body), opts)
        .await
    {
        Ok(_) => Ok(tombstone.clone()),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => read_at(&loc)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("tombstone at {uri} vanished"))),
        Err(e) => Err(e.into()),
    }
}

/// The tombstone of the graph at `uri`, if it was deleted.
pub async fn read_tombstone(uri: &str) -> Result<Option<Tombstone>> {
    read_at(&GraphLocation::parse(uri)?).await
}

pub async fn read_at(loc: &GraphLocation) -> Result<Option<Tombstone>> {
    match loc.store.get(&loc.path(TOMBSTONE_FILE)).await {
        Ok(found) => {
            let bytes = found.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(format!("tombstone at {}: {e}", loc.uri)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The manifest chain and newest version of the live graph at `uri`: `NotFound` when there
/// is none, `Deleted` when it was deleted (or its delete has begun: its incarnation marker
/// is gone).
pub async fn open_live(uri: &str) -> Result<(ManifestStore, GraphManifest)> {
    let loc = GraphLocation::parse(uri)?;
    if let Some(tombstone) = read_at(&loc).await? {
        return Err(deleted_error(&loc, &tombstone));
    }
    let manifests = ManifestStore::new(loc.clone());
    let latest = manifests.read_latest().await?;
    if let Some(id) = &latest.incarnation {
        if !incarnation_alive(&loc, id).await? {
            return Err(StorageError::Deleted(format!(
                "the graph at {} is being deleted (its incarnation marker is gone); \
                 complete the delete, or purge it",
                loc.uri
            )));
        }
    }
    Ok((manifests, latest))
}

/// The error for a location whose graph was deleted.
pub fn deleted_error(loc: &GraphLocation, tombstone: &Tombstone) -> StorageError {
    StorageError::Deleted(format!(
        "the graph at {} was deleted (graph '{}', by {}, at {}); its storage awaits purge",
        loc.uri, tombstone.graph_id, tombstone.actor, tombstone.deleted_at
    ))
}

/// Deletes the storage of the tombstoned graph at `uri`. Refuses a graph that has no
/// tombstone, and (with `min_age`) one deleted more recently than that.
pub async fn purge(uri: &str, min_age: Option<chrono::Duration>) -> Result<PurgeReport> {
    let loc = GraphLocation::parse(uri)?;
    let Some(tombstone) = read_at(&loc).await? else {
        return Err(StorageError::Invalid(format!(
            "the graph at {} is not deleted; only a deleted graph's storage can be purged",
            loc.uri
        )));
    };
    if let Some(min_age) = min_age {
        let age = tombstone.deleted_time().map_or(min_age, |t| Utc::now() - t);
        if age < min_age {
            return Err(StorageError::Invalid(format!(
                "the graph at {} was deleted {} s ago, within the grace period of {} s",
                loc.uri,
                age.num_seconds(),
                min_age.num_seconds()
            )));
        }
    }
    let mut report = PurgeReport::default();
    for dir in OWNED_DIRS {
        report.objects_deleted += delete_written(&loc, dir).await?;
    }
    match loc.store.delete(&loc.path(TOMBSTONE_FILE)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    report.objects_deleted += 1;
    if loc.is_local() {
        remove_empty_dirs(std::path::Path::new(&loc.uri));
    }
    tracing::info!(uri = %loc.uri, objects = report.objects_deleted, "purged deleted graph");
    Ok(report)
}

/// Deletes the objects under `dir` that follow the graph's layout; returns how many.
async fn delete_written(loc: &GraphLocation, dir: &str) -> Result<u64> {
    use futures::TryStreamExt;
    let root = loc.path("");
    let objects: Vec<_> = match loc.store.list(Some(&loc.path(dir))).try_collect().await {
        Ok(objects) => objects,
        Err(object_store::Error::NotFound { .. }) => vec![],
        Err(e) => return Err(e.into()),
    };
    let mut deleted = 0;
    for object in objects {
        let full = object.location.as_ref();
        let relative = if root.as_ref().is_empty() {
            full
        } else {
            match full
                .strip_prefix(root.as_ref())
                .and_then(|r| r.strip_prefix('/'))
            {
                Some(relative) => relative,
                None => continue,
            }
        };
        if !written_by_graph(relative) {
            tracing::info!(uri = %loc.uri, object = relative, "purge keeps an object the graph did not write");
            continue;
        }
        match loc.store.delete(&object.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        deleted += 1;
    }
    Ok(deleted)
}

/// A local file system keeps the directories that held the deleted objects: remove the
/// owned ones when empty, then the graph's root when empty. Never removes a file.
fn remove_empty_dirs(root: &std::path::Path) {
    fn prune(dir: &std::path::Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    prune(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir); // fails, harmlessly, when not empty
    }
    for dir in OWNED_DIRS {
        prune(&root.join(dir));
        // `_refs/branches`, `_refs/tags`: their parent too.
        if let Some((parent, _)) = dir.split_once('/') {
            let _ = std::fs::remove_dir(root.join(parent));
        }
    }
    let _ = std::fs::remove_dir(root);
}
