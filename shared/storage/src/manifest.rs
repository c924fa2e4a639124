//! The graph manifest: which Lance version of every table forms one graph version.
//!
//! Each graph version is one immutable JSON object `_manifest/<version>.json`, created with
//! create-if-absent, which is the compare-and-swap that makes publishing atomic across
//! processes and machines (a local rename-without-overwrite, an S3 `If-None-Match: *`).
//! `_manifest/_latest` is only a hint that saves probing from version 1; it is rewritten every
//! [`HINT_EVERY`] versions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StorageError};
use crate::location::GraphLocation;

pub const MANIFEST_DIR: &str = "_manifest";
const LATEST_HINT: &str = "_latest";
/// The hint is rewritten when a version number is a multiple of this (and for the first
/// version of a chain): a process that starts reads it and finds the newest version in at
/// most about 2·log2(HINT_EVERY) probes ([`ManifestStore::probe_forward`]), and a write
/// pays no second PUT in all the others.
const HINT_EVERY: u64 = 256;
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Path of the Lance dataset relative to the graph root.
    pub path: String,
    /// Lance version of the dataset that belongs to this graph version.
    pub version: u64,
    pub row_count: u64,
    /// The graph version that last changed this table (what conflicts are reported in).
    pub changed_in: u64,
    /// Set by maintenance (shared/engine/src/maintenance.rs): this version holds exactly the
    /// rows of that earlier Lance version of the table (compacted). A write planned on that
    /// earlier version is not refused because of it (shared/engine/src/graph.rs, `check_untouched`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_rows_as: Option<u64>,
    /// The Lance dataset is not written yet. A graph created by the control plane (which
    /// links no Lance, shared/storage/src/create.rs) lists its tables empty at version 1,
    /// and the first process that opens the graph with the engine creates them
    /// (shared/engine/src/graph.rs, `make_pending_tables`). An entry a write replaced never
    /// carries it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphManifest {
    pub format: u32,
    pub version: u64,
    pub parent: Option<u64>,
    pub created_at: String,
    /// Who published this version (`cli`, or the server-resolved actor).
    pub actor: String,
    pub schema_source: String,
    /// Table key (`node:Person`) -> entry.
    pub tables: BTreeMap<String, TableEntry>,
    /// The commit this version was built on, when it is not simply version `parent` of
    /// the same chain (set by every write since branches exist; absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_commit: Option<String>,
    /// Set on the first manifest of a branch: the commit it was created from. Such a
    /// manifest is not a commit of its own; it *is* that commit, seen from the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<String>,
    /// Set on a merge commit: the merged branch's head, its second parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<String>,
    /// The incarnation of the graph this version belongs to: a random id chosen by `init`
    /// and copied into every later version, so that a handle opened on an earlier graph
    /// at the same uri (deleted, purged and created again) can tell it is not this graph.
    /// Absent in graphs created before incarnations existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<String>,
}

impl GraphManifest {
    pub fn first(schema_source: String, tables: BTreeMap<String, TableEntry>, actor: &str) -> Self {
        GraphManifest {
            format: FORMAT,
            version: 1,
            parent: None,
            created_at: now(),
            actor: actor.to_string(),
            schema_source,
            tables,
            parent_commit: None,
            forked_from: None,
            merged_from: None,
            incarnation: None,
        }
    }

    /// The successor of this version with some tables replaced.
    pub fn next(&self, changed: BTreeMap<String, TableEntry>, actor: &str) -> Self {
        let mut tables = self.tables.clone();
        let version = self.version + 1;
        tables.extend(changed.into_iter().map(|(k, mut e)| {
            e.changed_in = version;
            (k, e)
        }));
        GraphManifest {
            format: FORMAT,
            version,
            parent: Some(self.version),
            created_at: now(),
            actor: actor.to_string(),
            schema_source: self.schema_source.clone(),
            tables,
            parent_commit: None,
            forked_from: None,
            merged_from: None,
            incarnation: self.incarnation.clone(),
        }
    }
}

pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Reads and publishes one chain of manifest versions: the main branch's (`_manifest/`)
/// or one branch's (`_branches/<id>/`, whose first version is the one it was forked at).
#[derive(Debug, Clone)]
pub struct ManifestStore {
    loc: GraphLocation,
    /// Folder of the chain, relative to the graph root.
    dir: String,
    /// The chain's first version.
    floor: u64,
    seen: Arc<SeenManifests>,
}

/// What this process already knows. Published manifests are immutable and versions only
/// grow, so the newest version seen is a safe place to resume probing from, and the
/// manifest read there never changes: resolving "latest" costs one HEAD of the next
/// version while nothing is published, instead of a hint read, two HEADs and a GET.
///
/// Probing forward from it is safe only while no version above it can have been deleted:
/// versions published after this process last confirmed the head are younger than that
/// confirmation, and cleanup keeps every version younger than its grace period
/// (shared/engine/src/cleanup.rs). A head confirmed longer than [`TRUST_SEEN_HEAD`] ago
/// is checked with a listing instead.
#[derive(Debug, Default)]
struct SeenManifests {
    /// Newest version seen to exist (0: none yet).
    latest: AtomicU64,
    /// The manifest of the newest version read or published.
    newest: Mutex<Option<GraphManifest>>,
    /// When a probe or a publish last confirmed that nothing newer than `latest` existed.
    confirmed: Mutex<Option<Instant>>,
}

/// How long a confirmed head is trusted as the place to probe from. Cleanup keeps versions
/// younger than its grace period: an hour by default; a grace under this window (only
/// tests use one) gives the guarantee up.
const TRUST_SEEN_HEAD: Duration = Duration::from_secs(30);

impl SeenManifests {
    fn confirmed_within(&self, window: Duration) -> bool {
        let confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        confirmed.is_some_and(|t| t.elapsed() < window)
    }

    fn confirm(&self) {
        *self.confirmed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn get(&self, version: u64) -> Option<GraphManifest> {
        let newest = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        newest.as_ref().filter(|m| m.version == version).cloned()
    }

    fn remember(&self, m: &GraphManifest) {
        self.latest.fetch_max(m.version, Ordering::AcqRel);
        let mut newest = self.newest.lock().unwrap_or_else(|p| p.into_inner());
        if newest.as_ref().is_none_or(|n| n.version < m.version) {
            *newest = Some(m.clone());
        }
    }
}

impl ManifestStore {
    /// The main branch's chain.
    pub fn new(loc: GraphLocation) -> Self {
        Self::chain(loc, MANIFEST_DIR, 1)
    }

    /// The graph this chain belongs to.
    pub fn location(&self) -> &GraphLocation {
        &self.loc
    }

    /// The chain in folder `dir` whose first version is `floor`.
    pub fn chain(loc: GraphLocation, dir: &str, floor: u64) -> Self {
        ManifestStore {
            loc,
            dir: dir.to_string(),
            floor: floor.max(1),
            seen: Arc::default(),
        }
    }

    fn version_path(&self, version: u64) -> String {
        format!("{}/{version:020}.json", self.dir)
    }

    pub async fn read(&self, version: u64) -> Result<GraphManifest> {
        let path = self.loc.path(&self.version_path(version));
        let bytes = match self.loc.store.get(&path).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                if self.was_reclaimed(version).await {
                    return Err(StorageError::Reclaimed(format!(
                        "graph version {version} of {} was deleted by version cleanup (older than the retention); read a newer version",
                        self.loc.uri
                    )));
                }
                return Err(StorageError::NotFound(format!(
                    "graph version {version} does not exist at {}",
                    self.loc.uri
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let m: GraphManifest = serde_json::from_slice(&bytes)
            .map_err(|e| StorageError::Corrupt(format!("manifest {version}: {e}")))?;
        if m.version != version || m.format != FORMAT {
            return Err(StorageError::Corrupt(format!(
                "manifest {version} has wrong version/format"
            )));
        }
        Ok(m)
    }

    /// Whether a missing `version` of this chain was published once and deleted by cleanup:
    /// it is below the newest version, and not below a branch chain's fork copy (which
    /// cleanup keeps, and below which the chain never had versions).
    async fn was_reclaimed(&self, version: u64) -> bool {
        if version < self.floor || !self.latest_version().await.is_ok_and(|l| version < l) {
            return false;
        }
        let Ok(versions) = self.list_versions().await else {
            return false;
        };
        match versions.first() {
            Some(oldest) if version < *oldest => {
                let path = self.loc.path(&self.version_path(*oldest));
                let found = match self.loc.store.get(&path).await {
                    Ok(found) => found,
                    // Deleted since the listing: a cleanup is deleting the oldest versions
                    // (it never deletes a fork copy), so `version` went before it.
                    Err(object_store::Error::NotFound { .. }) => return true,
                    Err(_) => return false,
                };
                let Ok(bytes) = found.bytes().await else {
                    return false;
                };
                serde_json::from_slice::<GraphManifest>(&bytes)
                    .is_ok_and(|m| m.forked_from.is_none())
            }
            Some(_) => true,
            None => false,
        }
    }

    async fn exists(&self, version: u64) -> Result<bool> {
        match self
            .loc
            .store
            .head(&self.loc.path(&self.version_path(version)))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The newest published version number: the hint, then probe forward.
    pub async fn latest_version(&self) -> Result<u64> {
        let known = self.seen.latest.load(Ordering::Acquire);
        let mut v = if known == 0 {
            self.first_probe().await?
        } else if self.seen.confirmed_within(TRUST_SEEN_HEAD) {
            known
        } else {
            // Not confirmed lately: versions right above `known` may have been published
            // and deleted by cleanup since, and probing would stop at the gap. A listing
            // cannot be fooled by one.
            self.newest_listed_after(known).await?.unwrap_or(known)
        };
        if self.exists(v + 1).await? {
            v = self.probe_forward(v + 1).await?;
        }
        self.seen.latest.fetch_max(v, Ordering::AcqRel);
        self.seen.confirm();
        Ok(v)
    }

    /// The newest version, knowing that `known` exists: versions of a chain are contiguous
    /// above the oldest kept one (a publish creates its parent's successor; cleanup deletes
    /// only older versions), so steps that double, then a binary search, find it in about
    /// 2·log2(distance) probes instead of one per version.
    async fn probe_forward(&self, known: u64) -> Result<u64> {
        let (mut low, mut step) = (known, 1u64);
        // `low` exists; find a `high` that does not.
        let mut high = loop {
            let candidate = low.saturating_add(step);
            if !self.exists(candidate).await? {
                break candidate;
            }
            low = candidate;
            step = step.saturating_mul(2);
        };
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if self.exists(mid).await? {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(low)
    }

    /// As if this process had confirmed the head longer than [`TRUST_SEEN_HEAD`] ago (tests
    /// of the path a long-idle process takes).
    #[doc(hidden)]
    pub fn distrust_seen_head(&self) {
        *self
            .seen
            .confirmed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Where a process that has seen no version yet starts probing: the newest version
    /// listed from the hint on (one GET and one LIST), else the newest listed at all.
    async fn first_probe(&self) -> Result<u64> {
        let hint = self.read_hint().await.unwrap_or(self.floor).max(self.floor);
        if let Some(v) = self.newest_listed_after(hint - 1).await? {
            return Ok(v);
        }
        // A hint never runs ahead of a published version unless storage was tampered with.
        match self.list_versions().await?.last() {
            Some(newest) => Ok(*newest),
            None => Err(StorageError::NotFound(format!(
                "no graph at {}",
                self.loc.uri
            ))),
        }
    }

    /// The newest version above `after` that a listing shows (one LIST request, or a few
    /// pages when thousands of versions follow), if any.
    async fn newest_listed_after(&self, after: u64) -> Result<Option<u64>> {
        use futures::TryStreamExt;
        let prefix = self.loc.path(&self.dir);
        let offset = self.loc.path(&self.version_path(after));
        let metas: Vec<_> = self
            .loc
            .store
            .list_with_offset(Some(&prefix), &offset)
            .try_collect()
            .await?;
        Ok(metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
            .filter(|v: &u64| *v > after)
            .max())
    }

    pub async fn read_latest(&self) -> Result<GraphManifest> {
        let v = self.latest_version().await?;
        if let Some(m) = self.seen.get(v) {
            return Ok(m);
        }
        let m = self.read(v).await?;
        self.seen.remember(&m);
        Ok(m)
    }

    async fn read_hint(&self) -> Option<u64> {
        let hint = format!("{}/{LATEST_HINT}", self.dir);
        let r = self.loc.store.get(&self.loc.path(&hint)).await.ok()?;
        let b = r.bytes().await.ok()?;
        std::str::from_utf8(&b).ok()?.trim().parse().ok()
    }

    /// Publish `m` as version `m.version` if and only if nobody has published that version yet.
    pub async fn publish(&self, m: &GraphManifest) -> Result<()> {
        let body = serde_json::to_vec_pretty(m)
            .map_err(|e| StorageError::Corrupt(format!("serialize manifest: {e}")))?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let path = self.loc.path(&self.version_path(m.version));
        match self
            .loc
            .store
            .put_opts(&path, PutPayload::from(Bytes::from(body)), opts)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                return Err(StorageError::VersionTaken(m.version))
            }
            Err(e) => return Err(e.into()),
        }
        self.seen.remember(m);
        self.seen.confirm();
        if m.version % HINT_EVERY != 0 && m.version != self.floor {
            return Ok(());
        }
        // The hint is advisory: a failure to write it costs a few probes later, nothing more.
        let hint = PutPayload::from(Bytes::from(m.version.to_string()));
        let hint_path = self.loc.path(&format!("{}/{LATEST_HINT}", self.dir));
        if let Err(e) = self.loc.store.put(&hint_path, hint).await {
            tracing::warn!(error = %e, "could not update the latest-version hint");
        }
        Ok(())
    }

    /// Every published version, oldest first (lists the manifest directory).
    pub async fn list_versions(&self) -> Result<Vec<u64>> {
        use futures::TryStreamExt;
        let prefix = self.loc.path(&self.dir);
        let metas: Vec<_> = self.loc.store.list(Some(&prefix)).try_collect().await?;
        let mut versions: Vec<u64> = metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }
}
