//! Version cleanup: old graph versions, and the Lance versions and files only they used,
//! deleted by the servers themselves (data-plane/src/server/maintenance.rs) or by
//! `omnigraph-data-plane cleanup`.
//!
//! What is kept, on main and on every branch chain:
//! - the last `keep_last` versions of the chain, and every version younger than `keep_for`;
//! - the first version of every branch chain (its fork point, as the branch sees it) and
//!   the version of the source chain it was forked from;
//! - every Lance table version that a kept graph version names, with every file that
//!   version reads (data files, deletion files, indexes, its transaction file);
//! - every file younger than `grace`: a write in flight has written files that no
//!   published version names yet. Files of writes that never published (crashed, refused,
//!   conflicting) are therefore deleted once older than `grace`;
//! - every file that a version a tag names reads (shared/engine/src/tag.rs), on any chain
//!   (a deleted branch's too), until the tag is deleted. The tag holds that version's
//!   manifest; the chain's copy goes like any other (a read of the version number on its
//!   branch is a 410; reads by the tag or by the commit id use the tag's copy). Keeping
//!   old manifests in a chain would leave versions isolated below a gap, where a process
//!   probing for the newest version from one it saw earlier would stop.
//!
//! Order: graph versions first (from then on a read of one is a 410), then the tags are
//! listed again (a tag created meanwhile keeps its version's files after all), then the
//! table files. A crash anywhere leaves nothing a kept version reads deleted, and the
//! next run deletes what is left. With a deadline (`POST /maintenance`), a run stops
//! before its next deletion once it is past.
//!
//! Only detached Lance versions (`_versions/d*.manifest`, what this project's writes
//! commit) are ever deleted; each table's own main lineage (its empty first version) stays.
//! A read at a deleted graph version gets `EngineError::Reclaimed` (HTTP 410).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lance::index::DatasetIndexExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use serde::Serialize;

use crate::branch::{self, MAIN};
use crate::crash_point::crash_point;
use crate::error::Result;
use crate::graph::Graph;
use crate::manifest::{GraphManifest, ManifestStore, TableEntry};
use crate::tag;

/// How much history a graph keeps.
#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// Versions of each chain always kept, newest first.
    pub keep_last: u64,
    /// Versions younger than this are kept.
    pub keep_for: Duration,
    /// Files and graph versions younger than this are never deleted (writes in flight, and
    /// processes that probe for the newest version from the one they saw last).
    pub grace: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            keep_last: 100,
            keep_for: Duration::from_secs(7 * 24 * 3600),
            grace: Duration::from_secs(3600),
        }
    }
}

/// What a cleanup deleted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanupReport {
    pub graph_versions_deleted: u64,
    pub table_versions_deleted: u64,
    pub files_deleted: u64,
    pub bytes_deleted: u64,
    /// The oldest graph version of main that is kept.
    pub oldest_kept_version: u64,
    /// The run stopped at its deadline before it was done (the next run goes on).
    pub deadline_reached: bool,
}

/// One chain of graph manifests and the versions of it to keep.
struct Chain {
    store: ManifestStore,
    dir: String,
    versions: Vec<u64>,
    keep: BTreeSet<u64>,
}

/// Deletes what `policy` no longer keeps (module documentation).
pub async fn cleanup(graph: &Arc<Graph>, policy: &RetentionPolicy) -> Result<CleanupReport> {
    cleanup_until(graph, policy, None).await
}

/// [`cleanup`], stopping before its next deletion once `deadline` is past (what it did is
/// safe to stop after; the next run goes on).
pub async fn cleanup_until(
    graph: &Arc<Graph>,
    policy: &RetentionPolicy,
    deadline: Option<Instant>,
) -> Result<CleanupReport> {
    let past = || deadline.is_some_and(|d| Instant::now() >= d);
    let loc = graph.location().clone();
    let now = chrono::Utc::now();
    let keep_for = chrono::Duration::from_std(policy.keep_for).unwrap_or(chrono::Duration::MAX);
    let grace = chrono::Duration::from_std(policy.grace).unwrap_or(chrono::Duration::MAX);
    // Versions younger than the grace are kept too: a process that confirmed the head
    // within the grace probes forward from it and must find every version above it
    // (shared/storage/src/manifest.rs, `SeenManifests`).
    let keep_for = keep_for.max(grace);

    // The chains: main and every branch; fork points are kept on both sides.
    let refs = graph.branches().await?;
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let mut forks: Vec<(String, u64)> = Vec::new();
    let mut stores = vec![(MAIN.to_string(), graph.manifests().clone(), 1u64)];
    for r in &refs {
        stores.push((
            r.chain.clone(),
            branch::chain_store(&loc, r),
            r.fork_version,
        ));
        if let Ok((source_chain, version)) = branch::parse_commit_id(&r.forked_from) {
            forks.push((source_chain, version));
        }
    }
    for (chain, store, floor) in stores {
        let versions = store.list_versions().await?;
        let mut keep: BTreeSet<u64> = versions
            .iter()
            .rev()
            .take(policy.keep_last.max(1) as usize)
            .copied()
            .collect();
        if chain != MAIN {
            keep.insert(floor); // the branch's first manifest: its fork point
        }
        chains.insert(
            chain.clone(),
            Chain {
                store,
                dir: branch::chain_dir(&chain),
                versions,
                keep,
            },
        );
    }
    for (chain, version) in forks {
        if let Some(c) = chains.get_mut(&chain) {
            c.keep.insert(version);
        }
    }
    // Tagged versions, whatever their age: their files (the tags hold their manifests).
    let tags = tag::list_tags(&loc).await?;

    // Versions younger than keep_for: read from the newest older candidate down until
    // one is older (a chain's versions are published in time order).
    let mut kept_manifests: Vec<GraphManifest> = Vec::new();
    for chain in chains.values_mut() {
        let candidates: Vec<u64> = chain
            .versions
            .iter()
            .rev()
            .copied()
            .filter(|v| !chain.keep.contains(v))
            .collect();
        for v in candidates {
            let m = chain.store.read(v).await?;
            let young = chrono::DateTime::parse_from_rfc3339(&m.created_at)
                .map(|t| now.signed_duration_since(t) < keep_for)
                .unwrap_or(true);
            if !young {
                break;
            }
            chain.keep.insert(v);
        }
        for v in chain.keep.iter() {
            if chain.versions.contains(v) {
                kept_manifests.push(chain.store.read(*v).await?);
            }
        }
    }
    kept_manifests.extend(tags.iter().map(|t| t.manifest.clone()));

    let mut report = CleanupReport {
        oldest_kept_version: chains
            .get(MAIN)
            .and_then(|c| c.keep.iter().next().copied())
            .unwrap_or(1),
        ..Default::default()
    };
    let mut needed = NeededFiles::default();
    let mut opened = BTreeSet::new();
    if !needed
        .add(graph, &kept_manifests, &mut opened, past)
        .await?
    {
        report.deadline_reached = true;
        return Ok(report);
    }

    // Graph versions first: from here on a read of one is a 410.
    for chain in chains.values() {
        for v in &chain.versions {
            if chain.keep.contains(v) {
                continue;
            }
            if past() {
                report.deadline_reached = true;
                return Ok(report);
            }
            let path = loc.path(&format!("{}/{v:020}.json", chain.dir));
            match loc.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            report.graph_versions_deleted += 1;
        }
    }
    crash_point("cleanup:versions-deleted");

    // A tag created since the listing above keeps its version's files after all (tag.rs).
    let late_manifests: Vec<GraphManifest> = tag::list_tags(&loc)
        .await?
        .into_iter()
        .filter(|t| {
            !tags
                .iter()
                .any(|k| k.name == t.name && k.commit == t.commit)
        })
        .map(|t| t.manifest)
        .collect();
    if !needed
        .add(graph, &late_manifests, &mut opened, past)
        .await?
    {
        report.deadline_reached = true;
        return Ok(report);
    }

    // Then, in the table directories, what no kept version reads and is past the grace.
    let mut deleted_versions: HashSet<ObjectPath> = HashSet::new();
    'roots: for root in ["nodes", "edges"] {
        let prefix = loc.path(root);
        let objects: Vec<object_store::ObjectMeta> =
            loc.store.list(Some(&prefix)).try_collect().await?;
        for object in objects {
            if now.signed_duration_since(object.last_modified) < grace {
                continue;
            }
            let rest: Vec<String> = match object.location.prefix_match(&prefix) {
                Some(parts) => parts.map(|p| p.as_ref().to_string()).collect(),
                None => continue,
            };
            if !is_collectable(&rest) || needed.contains(&object.location) {
                continue;
            }
            if past() {
                report.deadline_reached = true;
                break 'roots;
            }
            match loc.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if rest.get(1).is_some_and(|c| c == "_versions") {
                deleted_versions.insert(object.location.clone());
            }
            report.files_deleted += 1;
            report.bytes_deleted += object.size;
            crash_point("cleanup:files-deleted");
        }
    }
    report.table_versions_deleted = deleted_versions.len() as u64;
    graph.forget_datasets_except(&opened);
    Ok(report)
}

/// Every file that kept table versions read: their version manifests, data, deletion and
/// transaction files, and their index folders.
#[derive(Default)]
struct NeededFiles {
    files: HashSet<ObjectPath>,
    index_dirs: Vec<ObjectPath>,
}

impl NeededFiles {
    fn contains(&self, location: &ObjectPath) -> bool {
        self.files.contains(location)
            || self
                .index_dirs
                .iter()
                .any(|dir| location.prefix_match(dir).is_some())
    }

    /// Adds what the tables of `manifests` read (each table version once, `opened`
    /// remembering those done); false when `past` said to stop first.
    async fn add(
        &mut self,
        graph: &Arc<Graph>,
        manifests: &[GraphManifest],
        opened: &mut BTreeSet<(String, u64)>,
        past: impl Fn() -> bool,
    ) -> Result<bool> {
        let loc = graph.location();
        for m in manifests {
            for entry in m.tables.values() {
                if !opened.insert((entry.path.clone(), entry.version)) {
                    continue;
                }
                if past() {
                    return Ok(false);
                }
                let entry = TableEntry {
                    path: entry.path.clone(),
                    version: entry.version,
                    row_count: 0,
                    changed_in: 0,
                    same_rows_as: None,
                    pending: false,
                };
                let ds = graph.dataset_uncached(&entry).await?;
                let base = loc.path(&entry.path);
                self.files.insert(ds.manifest_location().path.clone());
                for fragment in ds.get_fragments() {
                    let meta = fragment.metadata();
                    for file in &meta.files {
                        self.files
                            .insert(join(&base, &format!("data/{}", file.path)));
                    }
                    if let Some(deletion) = &meta.deletion_file {
                        let rel = lance_table::io::deletion::relative_deletion_file_path(
                            meta.id, deletion,
                        );
                        self.files.insert(join(&base, &rel));
                    }
                }
                if let Some(txn) = &ds.manifest().transaction_file {
                    self.files
                        .insert(join(&base, &format!("_transactions/{txn}")));
                }
                for index in ds.load_indices().await?.iter() {
                    self.index_dirs
                        .push(join(&base, &format!("_indices/{}", index.uuid)));
                }
            }
        }
        Ok(true)
    }
}

/// Files of a table directory that cleanup may delete, by their path below `nodes/` or
/// `edges/` (`<table>.lance/<folder>/...`): data, deletion, index and transaction files,
/// and detached version manifests (never the table's own lineage).
fn is_collectable(rest: &[String]) -> bool {
    match rest {
        [_table, folder, file] if folder == "_versions" => {
            file.starts_with('d') && file.ends_with(".manifest")
        }
        [_table, folder, _, ..] => {
            matches!(
                folder.as_str(),
                "data" | "_deletions" | "_indices" | "_transactions"
            )
        }
        _ => false,
    }
}

/// `base` with the `/`-separated `relative` path below it.
fn join(base: &ObjectPath, relative: &str) -> ObjectPath {
    ObjectPath::from(format!("{}/{relative}", base.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::is_collectable;

    fn parts(p: &str) -> Vec<String> {
        p.split('/').map(str::to_string).collect()
    }

    #[test]
    fn only_data_index_deletion_transaction_files_and_detached_manifests_are_collectable() {
        assert!(is_collectable(&parts("Person.x.lance/data/a.lance")));
        assert!(is_collectable(&parts(
            "Person.x.lance/_deletions/1-2-3.arrow"
        )));
        assert!(is_collectable(&parts(
            "Person.x.lance/_indices/uuid/index.idx"
        )));
        assert!(is_collectable(&parts(
            "Person.x.lance/_transactions/5-x.txn"
        )));
        assert!(is_collectable(&parts(
            "Person.x.lance/_versions/d123.manifest"
        )));
        assert!(!is_collectable(&parts(
            "Person.x.lance/_versions/1.manifest"
        )));
        assert!(!is_collectable(&parts("Person.x.lance/_latest.manifest")));
        assert!(!is_collectable(&parts(
            "Person.x.lance/_versions/d1.manifest/x"
        )));
    }
}
