//! A graph handle: open or create a graph at a URI, pin versions for reading, and publish
//! changes as one compare-and-swap on the manifest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use lance::session::Session;
use lance::Dataset;
use omnigraph_lang::Catalog;

use crate::columns::{edge_schema, node_schema};
use crate::error::{EngineError, Result};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore, TableEntry};
use crate::table::{create_empty, open_at, StagedTable};
use crate::table_key::TableKey;

/// How many opened table versions a handle keeps (each holds only metadata and caches).
const DATASET_CACHE_ENTRIES: usize = 256;
/// How often a change whose tables nobody else touched is re-published on a newer version.
const MAX_REAPPLY: usize = 32;

pub struct Graph {
    loc: GraphLocation,
    manifests: ManifestStore,
    session: Arc<Session>,
    datasets: Mutex<HashMap<(String, u64), Arc<Dataset>>>,
    catalogs: Mutex<HashMap<String, Arc<Catalog>>>,
    /// Writers of this process queue here instead of conflicting with each other.
    write_lock: tokio::sync::Mutex<()>,
}

/// One graph version, pinned: every table is read at the version its manifest names.
#[derive(Clone)]
pub struct Snapshot {
    pub manifest: Arc<GraphManifest>,
    pub catalog: Arc<Catalog>,
    graph: Arc<Graph>,
}

/// A change ready to publish: staged tables plus the tables it read to validate itself.
pub struct Change {
    pub staged: BTreeMap<TableKey, StagedTable>,
    /// Tables whose content this change's validation depended on (e.g. endpoint node tables of
    /// inserted edges). If another writer moved one, the change cannot be re-applied.
    pub read_deps: BTreeSet<TableKey>,
}

impl Change {
    pub fn new() -> Self {
        Change {
            staged: BTreeMap::new(),
            read_deps: BTreeSet::new(),
        }
    }
}

impl Default for Change {
    fn default() -> Self {
        Self::new()
    }
}

pub fn table_dir(key: &TableKey, init_id: &str) -> String {
    match key.kind {
        crate::table_key::TableKind::Node => format!("nodes/{}.{init_id}.lance", key.type_name),
        crate::table_key::TableKind::Edge => format!("edges/{}.{init_id}.lance", key.type_name),
    }
}

impl Graph {
    /// Create a graph at `uri` with `schema_source`. Refuses a location that already holds one.
    pub async fn init(uri: &str, schema_source: &str, actor: &str) -> Result<Arc<Graph>> {
        let catalog = omnigraph_lang::parse_schema(schema_source)?;
        let loc = GraphLocation::parse(uri)?;
        if let Some(tombstone) = crate::tombstone::read_at(&loc).await? {
            return Err(crate::tombstone::deleted_error(&loc, &tombstone));
        }
        let manifests = ManifestStore::new(loc.clone());
        if manifests.latest_version().await.is_ok() {
            return Err(EngineError::AlreadyExists(loc.uri.clone()));
        }
        // Table directories carry an id unique to this init, so a concurrent or failed init
        // never shares files with this one, and clean-up can remove exactly what it made.
        let init_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let mut tables = BTreeMap::new();
        for node in &catalog.nodes {
            let key = TableKey::node(&node.name);
            let path = table_dir(&key, &init_id);
            let version = create_empty(&loc.child_uri(&path), node_schema(node)).await?;
            tables.insert(
                key.to_string(),
                TableEntry {
                    path,
                    version,
                    row_count: 0,
                    changed_in: 1,
                },
            );
        }
        for edge in &catalog.edges {
            let key = TableKey::edge(&edge.name);
            let path = table_dir(&key, &init_id);
            let version = create_empty(&loc.child_uri(&path), edge_schema(&catalog, edge)).await?;
            tables.insert(
                key.to_string(),
                TableEntry {
                    path,
                    version,
                    row_count: 0,
                    changed_in: 1,
                },
            );
        }
        let first = GraphManifest::first(schema_source.to_string(), tables, actor);
        match manifests.publish(&first).await {
            Ok(()) => {}
            Err(EngineError::VersionTaken(_)) => {
                return Err(EngineError::AlreadyExists(loc.uri.clone()))
            }
            Err(e) => return Err(e),
        }
        Ok(Arc::new(Self::from_location(loc)))
    }

    /// Open the graph at `uri`; fails with NotFound when there is none and with Deleted
    /// when it was deleted.
    pub async fn open(uri: &str) -> Result<Arc<Graph>> {
        let loc = GraphLocation::parse(uri)?;
        if let Some(tombstone) = crate::tombstone::read_at(&loc).await? {
            return Err(crate::tombstone::deleted_error(&loc, &tombstone));
        }
        let g = Self::from_location(loc);
        g.manifests.latest_version().await?;
        Ok(Arc::new(g))
    }

    fn from_location(loc: GraphLocation) -> Graph {
        Graph {
            manifests: ManifestStore::new(loc.clone()),
            loc,
            session: Arc::new(Session::default()),
            datasets: Mutex::new(HashMap::new()),
            catalogs: Mutex::new(HashMap::new()),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn uri(&self) -> &str {
        &self.loc.uri
    }

    pub fn location(&self) -> &GraphLocation {
        &self.loc
    }

    pub fn manifests(&self) -> &ManifestStore {
        &self.manifests
    }

    /// Pin the latest version (or `version`) for reading.
    pub async fn snapshot(self: &Arc<Self>, version: Option<u64>) -> Result<Snapshot> {
        let manifest = match version {
            Some(v) => self.manifests.read(v).await?,
            None => self.manifests.read_latest().await?,
        };
        self.snapshot_of(manifest)
    }

    fn snapshot_of(self: &Arc<Self>, manifest: GraphManifest) -> Result<Snapshot> {
        let catalog = self.catalog_for(&manifest.schema_source)?;
        Ok(Snapshot {
            manifest: Arc::new(manifest),
            catalog,
            graph: self.clone(),
        })
    }

    fn catalog_for(&self, source: &str) -> Result<Arc<Catalog>> {
        let mut cache = self.catalogs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(source) {
            return Ok(c.clone());
        }
        let c = Arc::new(omnigraph_lang::parse_schema(source)?);
        cache.insert(source.to_string(), c.clone());
        Ok(c)
    }

    async fn dataset(&self, entry: &TableEntry) -> Result<Arc<Dataset>> {
        let cache_key = (entry.path.clone(), entry.version);
        if let Some(ds) = self
            .datasets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return Ok(ds.clone());
        }
        let ds = open_at(
            &self.session,
            &self.loc.child_uri(&entry.path),
            entry.version,
        )
        .await?;
        let mut cache = self.datasets.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DATASET_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(cache_key, ds.clone());
        Ok(ds)
    }

    /// Run `build` against the latest version and publish what it staged as the next version.
    /// Writers in this process are serialised; writers elsewhere are caught by the manifest CAS.
    pub async fn write<F, Fut, T>(
        self: &Arc<Self>,
        actor: &str,
        build: F,
    ) -> Result<(GraphManifest, T)>
    where
        F: FnOnce(Snapshot) -> Fut,
        Fut: std::future::Future<Output = Result<(Change, T)>>,
    {
        let _guard = self.write_lock.lock().await;
        let base = self.snapshot(None).await?;
        let (change, out) = build(base.clone()).await?;
        let manifest = self.publish(&base, change, actor).await?;
        Ok((manifest, out))
    }

    /// Commit the staged tables (detached) and publish one manifest naming them.
    pub async fn publish(
        self: &Arc<Self>,
        base: &Snapshot,
        change: Change,
        actor: &str,
    ) -> Result<GraphManifest> {
        let mut entries = BTreeMap::new();
        for (key, staged) in change.staged {
            if !staged.has_changes() {
                continue;
            }
            let path = base.entry(&key)?.path.clone();
            let (version, row_count) = staged.commit().await?;
            entries.insert(
                key.to_string(),
                TableEntry {
                    path,
                    version,
                    row_count,
                    changed_in: 0,
                },
            );
        }
        if entries.is_empty() {
            return Ok((*base.manifest).clone());
        }
        // A worker that has not yet heard of a delete must not write into the graph.
        if let Some(tombstone) = crate::tombstone::read_at(&self.loc).await? {
            return Err(crate::tombstone::deleted_error(&self.loc, &tombstone));
        }
        let mut parent = (*base.manifest).clone();
        for _ in 0..MAX_REAPPLY {
            let next = parent.next(entries.clone(), actor);
            match self.manifests.publish(&next).await {
                Ok(()) => return Ok(next),
                Err(EngineError::VersionTaken(_)) => {
                    let latest = self.manifests.read_latest().await?;
                    check_untouched(base, &latest, entries.keys(), &change.read_deps)?;
                    parent = latest;
                }
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::VersionTaken(parent.version + 1))
    }
}

/// A change can be re-published on top of `latest` only if no table it wrote or read moved
/// since `base`, and the schema is the same.
fn check_untouched<'a>(
    base: &Snapshot,
    latest: &GraphManifest,
    written: impl Iterator<Item = &'a String>,
    read: &BTreeSet<TableKey>,
) -> Result<()> {
    if latest.schema_source != base.manifest.schema_source {
        return Err(EngineError::Conflict {
            table_key: "schema".into(),
            expected: base.manifest.version,
            actual: latest.version,
        });
    }
    let mut keys: Vec<String> = written.cloned().collect();
    keys.extend(read.iter().map(|k| k.to_string()));
    for key in &keys {
        let before = base.manifest.tables.get(key);
        let now = latest.tables.get(key);
        if before.map(|e| e.version) != now.map(|e| e.version) {
            let expected = before.map(|e| e.changed_in).unwrap_or(0);
            let actual = now.map(|e| e.changed_in).unwrap_or(0);
            return Err(EngineError::Conflict {
                table_key: key.clone(),
                expected,
                actual,
            });
        }
    }
    Ok(())
}

impl Snapshot {
    pub fn version(&self) -> u64 {
        self.manifest.version
    }

    pub fn graph(&self) -> &Arc<Graph> {
        &self.graph
    }

    pub fn entry(&self, key: &TableKey) -> Result<&TableEntry> {
        self.manifest
            .tables
            .get(&key.to_string())
            .ok_or_else(|| EngineError::Corrupt(format!("manifest has no table {key}")))
    }

    /// The table at the version this snapshot pins.
    pub async fn table(&self, key: &TableKey) -> Result<Arc<Dataset>> {
        let entry = self.entry(key)?.clone();
        self.graph.dataset(&entry).await
    }

    pub fn row_count(&self, key: &TableKey) -> u64 {
        self.manifest
            .tables
            .get(&key.to_string())
            .map(|e| e.row_count)
            .unwrap_or(0)
    }
}
