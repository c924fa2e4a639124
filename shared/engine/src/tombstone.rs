//! Deleted graphs: a tombstone marks a graph's storage as deleted, and a purge removes
//! the storage of a tombstoned graph.
//!
//! The tombstone (`_tombstone.json` in the graph's root, written create-if-absent) is the
//! commit point of a delete: from then on [`Graph::open`](crate::Graph::open) and
//! [`Graph::init`](crate::Graph::init) refuse the location, in every process, whatever a
//! registry still says. Old versions stay on storage (readable by nobody through the
//! engine) until a purge.
//!
//! A purge deletes only what belongs to the graph: the objects under its own `nodes/`,
//! `edges/`, `_manifest/`, `_branches/` and `_refs/branches/` directories, then the
//! tombstone, last (so a purge that stops half-way is still a tombstoned graph, and can be run again). Paths are compared by
//! whole segments: purging `/data/g` never touches `/data/g2` nor a graph nested
//! elsewhere under `/data/g`.

use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::location::GraphLocation;
use crate::manifest::MANIFEST_DIR;

/// File name of the marker, in the graph's root.
pub const TOMBSTONE_FILE: &str = "_tombstone.json";
/// The directories a graph owns under its root; nothing else is ever purged.
const OWNED_DIRS: [&str; 5] = [
    "nodes",
    "edges",
    MANIFEST_DIR,
    crate::branch::BRANCHES_DIR,
    crate::branch::REFS_DIR,
];

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

/// Marks the graph at `uri` deleted. Idempotent: an existing tombstone is kept (and
/// returned), so a retried delete does not move the deletion time.
pub async fn write_tombstone(uri: &str, tombstone: &Tombstone) -> Result<Tombstone> {
    let loc = GraphLocation::parse(uri)?;
    let body = serde_json::to_vec_pretty(tombstone)
        .map_err(|e| EngineError::Corrupt(format!("serialize tombstone: {e}")))?;
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
            .ok_or_else(|| EngineError::Corrupt(format!("tombstone at {uri} vanished"))),
        Err(e) => Err(e.into()),
    }
}

/// The tombstone of the graph at `uri`, if it was deleted.
pub async fn read_tombstone(uri: &str) -> Result<Option<Tombstone>> {
    read_at(&GraphLocation::parse(uri)?).await
}

pub(crate) async fn read_at(loc: &GraphLocation) -> Result<Option<Tombstone>> {
    match loc.store.get(&loc.path(TOMBSTONE_FILE)).await {
        Ok(found) => {
            let bytes = found.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| EngineError::Corrupt(format!("tombstone at {}: {e}", loc.uri)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The error for a location whose graph was deleted.
pub(crate) fn deleted_error(loc: &GraphLocation, tombstone: &Tombstone) -> EngineError {
    EngineError::Deleted(format!(
        "the graph at {} was deleted (graph '{}', by {}, at {}); its storage awaits purge",
        loc.uri, tombstone.graph_id, tombstone.actor, tombstone.deleted_at
    ))
}

/// Deletes the storage of the tombstoned graph at `uri`. Refuses a graph that has no
/// tombstone, and (with `min_age`) one deleted more recently than that.
pub async fn purge(uri: &str, min_age: Option<chrono::Duration>) -> Result<PurgeReport> {
    let loc = GraphLocation::parse(uri)?;
    let Some(tombstone) = read_at(&loc).await? else {
        return Err(EngineError::Invalid(format!(
            "the graph at {} is not deleted; only a deleted graph's storage can be purged",
            loc.uri
        )));
    };
    if let Some(min_age) = min_age {
        let age = tombstone.deleted_time().map_or(min_age, |t| Utc::now() - t);
        if age < min_age {
            return Err(EngineError::Invalid(format!(
                "the graph at {} was deleted {} s ago, within the grace period of {} s",
                loc.uri,
                age.num_seconds(),
                min_age.num_seconds()
            )));
        }
    }
    let mut report = PurgeReport::default();
    for dir in OWNED_DIRS {
        report.objects_deleted += loc.delete_all(dir).await?;
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
    }
    let _ = std::fs::remove_dir(root);
}
