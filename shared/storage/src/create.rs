//! Creating a graph: its incarnation marker and its first manifest, which lists one empty
//! table per node and edge type at version 1 with `pending` set. No table is written here,
//! so that the control plane creates graphs without linking Lance; the first process that
//! opens the graph through the engine creates the pending tables, empty, with the schema
//! the manifest holds (shared/engine/src/graph.rs, `make_pending_tables`). Until then the
//! graph's storage is two small objects, and a purge removes them like any graph's.
//!
//! The first manifest's create-if-absent is the commit point: of two creations at one
//! location, one publishes and the other gets `AlreadyExists` and removes its marker.

use std::collections::BTreeMap;

use object_store::ObjectStoreExt;

use crate::error::{Result, StorageError};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore, TableEntry};
use crate::table_key::{new_table_dir_id, table_dir, TableKey};
use crate::tombstone;

/// Creates the graph at `uri` with `schema_source`, whose node and edge types are
/// `tables` (the caller parsed the schema). Refuses a tombstoned location, one that
/// holds a graph, and one that holds any other object.
pub async fn create_graph(
    uri: &str,
    schema_source: &str,
    tables: &[TableKey],
    actor: &str,
) -> Result<GraphLocation> {
    let loc = GraphLocation::parse(uri)?;
    if let Some(tombstone) = tombstone::read_at(&loc).await? {
        return Err(tombstone::deleted_error(&loc, &tombstone));
    }
    let manifests = ManifestStore::new(loc.clone());
    if manifests.latest_version().await.is_ok() {
        return Err(StorageError::AlreadyExists(loc.uri.clone()));
    }
    // A graph owns its folder: created over other files, a later purge could not tell
    // them from its own, and they could collide with its layout.
    if let Some(found) = loc.first_object().await? {
        return Err(StorageError::Invalid(format!(
            "the location {} is not empty (it holds `{found}`, among others); a graph is \
             created only in an empty or missing folder or prefix: choose another uri",
            loc.uri
        )));
    }
    let incarnation = tombstone::new_incarnation();
    // Table folders carry an id unique to this creation, so a concurrent or failed one
    // never shares files with this one.
    let dir_id = new_table_dir_id();
    let entries: BTreeMap<String, TableEntry> = tables
        .iter()
        .map(|key| {
            let entry = TableEntry {
                path: table_dir(key, &dir_id),
                version: 1,
                row_count: 0,
                changed_in: 1,
                same_rows_as: None,
                pending: true,
            };
            (key.to_string(), entry)
        })
        .collect();
    let created: Result<()> = async {
        tombstone::write_incarnation(&loc, &incarnation).await?;
        let mut first = GraphManifest::first(schema_source.to_string(), entries, actor);
        first.incarnation = Some(incarnation.clone());
        match manifests.publish(&first).await {
            Err(StorageError::VersionTaken(_)) => Err(StorageError::AlreadyExists(loc.uri.clone())),
            other => other,
        }
    }
    .await;
    if let Err(e) = created {
        // Remove this creation's marker (a name no one else uses), so that the location
        // is empty again for a retry.
        let _ = loc
            .store
            .delete(&loc.path(&format!("{}/{incarnation}", tombstone::INCARNATION_DIR)))
            .await;
        if loc.is_local() {
            let _ = std::fs::remove_dir(
                std::path::Path::new(&loc.uri).join(tombstone::INCARNATION_DIR),
            );
        }
        return Err(e);
    }
    Ok(loc)
}
