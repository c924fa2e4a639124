//! A graph handle: open or create a graph at a URI, pin versions for reading, and publish
//! changes as one compare-and-swap on the manifest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;

use lance::session::Session;
use lance::Dataset;
use omnigraph_lang::Catalog;

use crate::branch::{self, BranchRef, Commit, MAIN};
use crate::columns::{edge_schema, node_schema};
use crate::error::{EngineError, Result};
use crate::location::GraphLocation;
use crate::manifest::{GraphManifest, ManifestStore, TableEntry};
use crate::staged_table::StagedTable;
use crate::table::{create_empty, open_at};
pub use crate::table_key::table_dir;
use crate::table_key::{TableKey, TableKind};
use omnigraph_storage::StorageError;

/// How many opened table versions a handle keeps (each holds only metadata and caches).
const DATASET_CACHE_ENTRIES: usize = 256;
/// How often a change whose tables nobody else touched is re-published on a newer version.
const MAX_REAPPLY: usize = 32;
/// How often a read checks that the graph's incarnation marker still exists (a publish
/// checks it every time, in place of the tombstone read it replaces).
const INCARNATION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub struct Graph {
    loc: GraphLocation,
    manifests: ManifestStore,
    session: Arc<Session>,
    datasets: Mutex<HashMap<(String, u64), Arc<Dataset>>>,
    catalogs: Mutex<HashMap<String, Arc<Catalog>>>,
    /// Manifest chains of branches other than main, by chain id (what this process has
    /// learnt of each chain survives between calls).
    chains: Mutex<HashMap<String, ManifestStore>>,
    /// Writers of this process queue here, per branch, instead of conflicting with each other.
    write_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The write path's group committers of each branch (shared/engine/src/mutate/group.rs),
    /// made by the first change; kept here so that they end with the handle. Typed by their
    /// owner, so that the graph does not depend on the write path built on it.
    write_queues: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
    /// The incarnation this handle opened (`None`: a graph created before incarnations,
    /// checked by its tombstone only).
    incarnation: Option<String>,
    /// Set once this handle found its incarnation gone: it never reads or publishes again.
    stale: AtomicBool,
    /// When a read last found the incarnation marker in place.
    last_check: Mutex<Option<Instant>>,
    /// Versions this process published since the graph's last maintenance round here.
    published_since_maintenance: std::sync::atomic::AtomicU64,
    /// A publish crossed a maintenance trigger (shared/engine/src/maintenance.rs).
    maintenance_requested: AtomicBool,
}

/// One graph version, pinned: every table is read at the version its manifest names.
#[derive(Clone)]
pub struct Snapshot {
    pub manifest: Arc<GraphManifest>,
    pub catalog: Arc<Catalog>,
    /// The branch this version was read from (for a read at a commit id: the branch
    /// name when it is main, otherwise the chain id).
    pub branch: String,
    /// The manifest chain the version belongs to (`main`, or a branch's chain id).
    pub chain: String,
    store: ManifestStore,
    graph: Arc<Graph>,
}

/// A change ready to publish: staged tables plus the tables it read to validate itself.
pub struct Change {
    pub staged: BTreeMap<TableKey, StagedTable>,
    /// Tables whose content this change's validation depended on (e.g. endpoint node tables of
    /// inserted edges). If another writer moved one, the change cannot be re-applied.
    pub read_deps: BTreeSet<TableKey>,
    /// Table versions taken as they are from another branch (merges).
    pub adopted: BTreeMap<String, TableEntry>,
    /// The second parent of a merge commit: the merged branch's head.
    pub merged_from: Option<String>,
    /// A schema apply: the new schema text and the complete table list under it.
    pub schema: Option<SchemaChange>,
    /// Maintenance: every staged table keeps the rows of its base version (compaction), so
    /// the versions it publishes are marked `same_rows_as` that base.
    pub maintenance: bool,
}

/// The new schema of a schema apply and every table of the graph version it publishes
/// (tables not listed are dropped from that version; earlier versions keep them).
pub struct SchemaChange {
    pub source: String,
    pub tables: BTreeMap<String, TableEntry>,
}

impl Change {
    pub fn new() -> Self {
        Change {
            staged: BTreeMap::new(),
            read_deps: BTreeSet::new(),
            adopted: BTreeMap::new(),
            merged_from: None,
            schema: None,
            maintenance: false,
        }
    }
}

impl Default for Change {
    fn default() -> Self {
        Self::new()
    }
}

/// A new empty table for `key` in a directory named with `init_id` (unique to one init or
/// schema apply, so that clean-up of a failed one can never touch another's files).
pub(crate) async fn new_table(
    loc: &GraphLocation,
    key: &TableKey,
    schema: arrow_schema::SchemaRef,
    init_id: &str,
) -> Result<TableEntry> {
    let path = table_dir(key, init_id);
    let version = create_empty(&loc.child_uri(&path), schema).await?;
    Ok(TableEntry {
        path,
        version,
        row_count: 0,
        changed_in: 1,
        same_rows_as: None,
        pending: false,
    })
}

/// MiB of Lance's caches of one graph, unless the environment says otherwise: opened table
/// metadata (manifests, file footers) and index pages.
const LANCE_METADATA_CACHE_MB: u64 = 256;
const LANCE_INDEX_CACHE_MB: u64 = 1024;

/// Lance's caches of one graph, bounded by `OMNIGRAPH_LANCE_METADATA_CACHE_MB` and
/// `OMNIGRAPH_LANCE_INDEX_CACHE_MB` (README.md, the table of caches). Lance's own defaults, 1 GiB of
/// metadata and 6 GiB of index pages per graph, let a worker that takes writes all day
/// (each write a new version of its tables, each version's metadata cached) or serves
/// many graphs grow by gigabytes before anything is evicted.
fn lance_session() -> Session {
    use crate::query::cache::budget_from_env;
    let bytes = |var: &str, default_mb: u64| {
        usize::try_from(budget_from_env(var, default_mb)).unwrap_or(usize::MAX)
    };
    Session::new(
        bytes("OMNIGRAPH_LANCE_INDEX_CACHE_MB", LANCE_INDEX_CACHE_MB),
        bytes("OMNIGRAPH_LANCE_METADATA_CACHE_MB", LANCE_METADATA_CACHE_MB),
        Arc::new(lance::io::ObjectStoreRegistry::default()),
    )
}

impl Graph {
    /// Create a graph at `uri` with `schema_source`. Refuses a location that already holds one.
    pub async fn init(uri: &str, schema_source: &str, actor: &str) -> Result<Arc<Graph>> {
        let catalog = omnigraph_lang::parse_schema(schema_source)?;
        let tables: Vec<TableKey> = catalog
            .nodes
            .iter()
            .map(|n| TableKey::node(&n.name))
            .chain(catalog.edges.iter().map(|e| TableKey::edge(&e.name)))
            .collect();
        let loc = omnigraph_storage::create_graph(uri, schema_source, &tables, actor).await?;
        // Opening creates the tables (empty) that the first manifest lists as pending.
        Self::open(&loc.uri).await
    }

    /// Open the graph at `uri`; fails with NotFound when there is none and with Deleted
    /// when it was deleted (or its delete has begun: its incarnation marker is gone).
    pub async fn open(uri: &str) -> Result<Arc<Graph>> {
        let (manifests, latest) = crate::tombstone::open_live(uri).await?;
        let loc = manifests.location().clone();
        let incarnation = latest.incarnation.clone();
        let mut g = Self::from_location(loc, incarnation);
        g.manifests = manifests;
        *g.last_check.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        g.make_pending_tables(&latest).await?;
        Ok(Arc::new(g))
    }

    /// Creates, empty, the tables that `manifest` lists as pending and that are not there
    /// yet: a graph the control plane created has its first manifest only
    /// (shared/storage/src/create.rs). Of two processes that open the new graph at once,
    /// one creates each table (`create_empty` commits version 1 only if no version is
    /// there: shared/engine/src/table.rs) and the other finds it made.
    async fn make_pending_tables(&self, manifest: &GraphManifest) -> Result<()> {
        let pending: Vec<(&String, &TableEntry)> =
            manifest.tables.iter().filter(|(_, e)| e.pending).collect();
        if pending.is_empty() {
            return Ok(());
        }
        let catalog = omnigraph_lang::parse_schema(&manifest.schema_source)?;
        for (key, entry) in pending {
            let uri = self.loc.child_uri(&entry.path);
            if open_at(&self.session, &uri, entry.version).await.is_ok() {
                continue;
            }
            let corrupt = || {
                EngineError::Corrupt(format!(
                    "the manifest lists table {key}, which its schema does not declare"
                ))
            };
            let table_key = TableKey::parse(key).ok_or_else(corrupt)?;
            let schema = match table_key.kind {
                TableKind::Node => {
                    node_schema(catalog.node(&table_key.type_name).ok_or_else(corrupt)?)
                }
                TableKind::Edge => edge_schema(
                    &catalog,
                    catalog.edge(&table_key.type_name).ok_or_else(corrupt)?,
                ),
            };
            match create_empty(&uri, schema).await {
                Ok(version) if version == entry.version => {}
                Ok(version) => {
                    return Err(EngineError::Corrupt(format!(
                        "table {key} was created at version {version}, its manifest names {}",
                        entry.version
                    )))
                }
                // Another process created it first.
                Err(e) => {
                    if open_at(&self.session, &uri, entry.version).await.is_err() {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    fn from_location(loc: GraphLocation, incarnation: Option<String>) -> Graph {
        Graph {
            manifests: ManifestStore::new(loc.clone()),
            loc,
            session: Arc::new(lance_session()),
            datasets: Mutex::new(HashMap::new()),
            catalogs: Mutex::new(HashMap::new()),
            chains: Mutex::new(HashMap::new()),
            write_locks: Mutex::new(HashMap::new()),
            write_queues: Default::default(),
            incarnation,
            stale: AtomicBool::new(false),
            last_check: Mutex::new(None),
            published_since_maintenance: Default::default(),
            maintenance_requested: AtomicBool::new(false),
        }
    }

    /// The incarnation this handle opened (`None` for a graph created before incarnations).
    pub fn incarnation(&self) -> Option<&str> {
        self.incarnation.as_deref()
    }

    /// True once this handle found that the graph it opened was deleted (or deleted and
    /// created again at the same uri): every later read and write through it is refused,
    /// and its owner should drop it (and open the uri again, if it still should).
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    fn stale_error(&self) -> EngineError {
        EngineError::Deleted(format!(
            "the graph at {} was deleted or deleted and created again since this process \
             opened it (its incarnation {} is gone); nothing was read or written",
            self.loc.uri,
            self.incarnation.as_deref().unwrap_or("-")
        ))
    }

    /// Refuses when this handle's incarnation is gone. `force`: check now (a publish);
    /// otherwise at most once per [`INCARNATION_CHECK_INTERVAL`] (a read).
    async fn check_incarnation(&self, force: bool) -> Result<()> {
        if self.is_stale() {
            return Err(self.stale_error());
        }
        let Some(id) = &self.incarnation else {
            return Ok(());
        };
        if !force {
            let last = *self.last_check.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < INCARNATION_CHECK_INTERVAL) {
                return Ok(());
            }
        }
        if crate::tombstone::incarnation_alive(&self.loc, id).await? {
            *self.last_check.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            return Ok(());
        }
        self.stale.store(true, Ordering::Release);
        tracing::warn!(uri = %self.loc.uri, incarnation = %id, "graph handle is stale: the graph was deleted or created again");
        Err(self.stale_error())
    }

    /// Refuses a write into a deleted graph: the incarnation marker for a graph that has
    /// one (one HEAD, in place of the tombstone read), the tombstone otherwise.
    async fn refuse_if_deleted(&self) -> Result<()> {
        if self.incarnation.is_some() {
            return self.check_incarnation(true).await;
        }
        if let Some(tombstone) = crate::tombstone::read_at(&self.loc).await? {
            return Err(crate::tombstone::deleted_error(&self.loc, &tombstone).into());
        }
        Ok(())
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

    /// Pin the latest version (or `version`) of the main branch for reading.
    pub async fn snapshot(self: &Arc<Self>, version: Option<u64>) -> Result<Snapshot> {
        self.snapshot_on(MAIN, version).await
    }

    /// Pin the head (or `version`) of `branch` for reading.
    pub async fn snapshot_on(
        self: &Arc<Self>,
        branch: &str,
        version: Option<u64>,
    ) -> Result<Snapshot> {
        self.check_incarnation(false).await?;
        let (chain, store, fork) = self.branch_chain(branch).await?;
        let manifest = match (version, fork) {
            // Below the fork: a version of the history the branch was created from.
            (Some(v), Some((fork_version, forked_from))) if v < fork_version => {
                return self.snapshot_before_fork(branch, &forked_from, v).await;
            }
            (Some(v), _) => store.read(v).await?,
            (None, _) => store.read_latest().await?,
        };
        self.snapshot_of(manifest, branch, &chain, store).await
    }

    /// Version `v` of the history a branch created at commit `forked_from` shares with its
    /// source (following the source's own fork when `v` is older still).
    async fn snapshot_before_fork(
        self: &Arc<Self>,
        branch: &str,
        forked_from: &str,
        v: u64,
    ) -> Result<Snapshot> {
        let mut commit = forked_from.to_string();
        loop {
            let (chain, at_fork) = omnigraph_storage::tag::read_commit(&self.loc, &commit).await?;
            if v > at_fork.version {
                break;
            }
            let store = ManifestStore::chain(self.loc.clone(), &branch::chain_dir(&chain), 1);
            match store.read(v).await {
                Ok(m) => return self.snapshot_of(m, branch, &chain, store).await,
                Err(StorageError::NotFound(_)) if chain != MAIN => {
                    // Older than this chain too: continue in the chain it was forked from.
                    let first = store.list_versions().await?.first().copied();
                    let Some(first) = first.filter(|f| v < *f) else {
                        break;
                    };
                    match store.read(first).await?.forked_from {
                        Some(f) => commit = f,
                        None => break,
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::NotFound(format!(
            "graph version {v} is not in the history of branch {branch}"
        )))
    }

    /// Pin the version behind commit `id`.
    pub async fn snapshot_at_commit(self: &Arc<Self>, id: &str) -> Result<Snapshot> {
        self.check_incarnation(false).await?;
        let (chain, manifest) = omnigraph_storage::tag::read_commit(&self.loc, id).await?;
        let store = self.chain_store(&chain, manifest.version);
        self.snapshot_of(manifest, &chain, &chain, store).await
    }

    async fn snapshot_of(
        self: &Arc<Self>,
        manifest: GraphManifest,
        branch: &str,
        chain: &str,
        store: ManifestStore,
    ) -> Result<Snapshot> {
        if manifest.incarnation != self.incarnation {
            // Another graph's version at this uri: this handle's graph is gone (a graph
            // without an incarnation never gains one), or (its marker still there) a write
            // that lagged a delete landed here.
            if self.incarnation.is_none() {
                self.stale.store(true, Ordering::Release);
                return Err(self.stale_error());
            }
            self.check_incarnation(true).await?;
            return Err(EngineError::Corrupt(format!(
                "graph version {} at {} belongs to another incarnation of the graph ({}) than the one opened ({})",
                manifest.version,
                self.loc.uri,
                manifest.incarnation.as_deref().unwrap_or("none"),
                self.incarnation.as_deref().unwrap_or("none"),
            )));
        }
        let catalog = self.catalog_for(&manifest.schema_source)?;
        Ok(Snapshot {
            manifest: Arc::new(manifest),
            catalog,
            branch: branch.to_string(),
            chain: chain.to_string(),
            store,
            graph: self.clone(),
        })
    }

    /// The chain of `branch`: main's, or the one its ref names now (read on every call, so
    /// a branch deleted or created again by another process is seen at once).
    /// With it, for a branch other than main, its fork version and the commit it was
    /// created from.
    async fn branch_chain(
        &self,
        branch: &str,
    ) -> Result<(String, ManifestStore, Option<(u64, String)>)> {
        if branch == MAIN {
            return Ok((MAIN.to_string(), self.manifests.clone(), None));
        }
        branch::validate_branch_name(branch)?;
        let r = branch::read_ref(&self.loc, branch)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no branch {branch}")))?;
        let store = self.chain_store(&r.chain, r.fork_version);
        Ok((r.chain, store, Some((r.fork_version, r.forked_from))))
    }

    fn chain_store(&self, chain: &str, floor: u64) -> ManifestStore {
        if chain == MAIN {
            return self.manifests.clone();
        }
        let mut chains = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        chains
            .entry(chain.to_string())
            .or_insert_with(|| {
                ManifestStore::chain(self.loc.clone(), &branch::chain_dir(chain), floor)
            })
            .clone()
    }

    /// Create branch `name` at the head of branch `from`. Cheap: one manifest naming the
    /// same table versions, and the ref.
    pub async fn create_branch(
        self: &Arc<Self>,
        name: &str,
        from: &str,
        actor: &str,
    ) -> Result<BranchRef> {
        branch::validate_branch_name(name)?;
        if name == branch::RESERVED_NAME {
            return Err(EngineError::Invalid(format!(
                "invalid branch name {name:?}: reserved (POST /branches/{name} is the merge route)"
            )));
        }
        if name == MAIN || branch::read_ref(&self.loc, name).await?.is_some() {
            return Err(EngineError::AlreadyExists(format!("branch {name}")));
        }
        let source = self.snapshot_on(from, None).await?;
        let chain = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let forked_from = source.commit_id();
        let mut first = (*source.manifest).clone();
        first.forked_from = Some(forked_from.clone());
        first.parent_commit = None;
        first.actor = actor.to_string();
        first.created_at = crate::manifest::now();
        let r = BranchRef {
            name: name.to_string(),
            chain: chain.clone(),
            forked_from,
            fork_version: first.version,
            created_at: first.created_at.clone(),
            actor: actor.to_string(),
        };
        branch::chain_store(&self.loc, &r).publish(&first).await?;
        self.refuse_if_deleted().await?;
        branch::create_ref(&self.loc, &r).await?;
        Ok(r)
    }

    /// Delete branch `name` (not main). Its commits stay readable by id.
    pub async fn delete_branch(&self, name: &str) -> Result<()> {
        if name == MAIN {
            return Err(EngineError::Invalid(
                "the main branch cannot be deleted".into(),
            ));
        }
        branch::validate_branch_name(name)?;
        if branch::read_ref(&self.loc, name).await?.is_none() {
            return Err(EngineError::NotFound(format!("no branch {name}")));
        }
        Ok(branch::delete_ref(&self.loc, name).await?)
    }

    /// Branch `name` other than main, if it exists.
    pub async fn branch(&self, name: &str) -> Result<Option<BranchRef>> {
        branch::validate_branch_name(name)?;
        Ok(branch::read_ref(&self.loc, name).await?)
    }

    /// Every branch other than main, by name.
    pub async fn branches(&self) -> Result<Vec<BranchRef>> {
        Ok(branch::list_refs(&self.loc).await?)
    }

    /// The commits of `branch`, newest first, following first parents (into the branch it
    /// was created from), at most `limit`.
    pub async fn commits(self: &Arc<Self>, branch: &str, limit: usize) -> Result<Vec<Commit>> {
        let head = self.snapshot_on(branch, None).await?;
        let mut out = vec![];
        let mut next = Some(head.commit_id());
        while let Some(id) = next.take() {
            if out.len() >= limit {
                break;
            }
            let (commit, _) = match self.commit(&id).await {
                Ok(found) => found,
                // History ends where version cleanup deleted it.
                Err(EngineError::Reclaimed(_)) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            next = commit.parents.first().cloned();
            out.push(commit);
        }
        Ok(out)
    }

    /// Commit `id` and its manifest.
    pub async fn commit(&self, id: &str) -> Result<(Commit, GraphManifest)> {
        let mut id = id.to_string();
        loop {
            let (chain, m) = omnigraph_storage::tag::read_commit(&self.loc, &id).await?;
            // A branch's first manifest stands for the commit it was created from.
            if let Some(f) = &m.forked_from {
                id = f.clone();
                continue;
            }
            let commit = Commit {
                id: branch::commit_id(&chain, m.version),
                parents: branch::manifest_parents(&chain, &m),
                manifest_version: m.version,
                actor: m.actor.clone(),
                created_at: m.created_at.clone(),
            };
            return Ok((commit, m));
        }
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
        let ds = match open_at(
            &self.session,
            &self.loc.child_uri(&entry.path),
            entry.version,
        )
        .await
        {
            Ok(ds) => ds,
            Err(e) => return Err(self.dropped_table_error(entry).await.unwrap_or(e)),
        };
        let mut cache = self.datasets.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= DATASET_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(cache_key, ds.clone());
        Ok(ds)
    }

    /// Counts a publish of a user's change and asks for maintenance when it crossed a
    /// trigger (shared/engine/src/maintenance.rs).
    fn note_published(&self, most_fragments: usize) {
        use std::sync::atomic::Ordering;
        let versions = self
            .published_since_maintenance
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if crate::maintenance_trigger::crosses_trigger(versions, most_fragments)
            && !self.maintenance_requested.swap(true, Ordering::AcqRel)
        {
            crate::maintenance_trigger::wanted().notify_one();
        }
    }

    /// Whether a publish asked for maintenance since the last call; the caller is about to
    /// maintain the graph, so the counts start again.
    pub fn take_maintenance_request(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.published_since_maintenance.store(0, Ordering::Relaxed);
        self.maintenance_requested.swap(false, Ordering::AcqRel)
    }

    /// Keep opened table versions (those a publish committed) for later reads and writes.
    fn keep_datasets(&self, opened: Vec<((String, u64), Arc<Dataset>)>) {
        let mut cache = self.datasets.lock().unwrap_or_else(|p| p.into_inner());
        for (key, ds) in opened {
            if cache.len() >= DATASET_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, ds);
        }
    }

    /// A table at the exact version `entry` names, from the cache when it is there, else
    /// opened without caching it (cleanup opens every kept version once: caching them
    /// would push out the versions reads and writes use).
    pub(crate) async fn dataset_uncached(&self, entry: &TableEntry) -> Result<Arc<Dataset>> {
        let cached = self
            .datasets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(entry.path.clone(), entry.version))
            .cloned();
        if let Some(ds) = cached {
            return Ok(ds);
        }
        open_at(
            &self.session,
            &self.loc.child_uri(&entry.path),
            entry.version,
        )
        .await
    }

    /// Forget every opened table version but those in `kept` (a cleanup deleted the files
    /// of others).
    pub(crate) fn forget_datasets_except(&self, kept: &BTreeSet<(String, u64)>) {
        self.datasets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|key, _| kept.contains(key));
    }

    /// Forget the opened versions of the tables at `paths` (their files were deleted).
    pub(crate) fn forget_tables(&self, paths: &[String]) {
        let mut cache = self.datasets.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(path, _), _| !paths.contains(path));
    }

    /// The error for a table whose data a schema apply deleted (`allow_data_loss`), if
    /// that is why it cannot be opened.
    async fn dropped_table_error(&self, entry: &TableEntry) -> Option<EngineError> {
        let marker = crate::table_key::dropped_marker(&entry.path);
        let bytes = self.loc.store.get(&self.loc.path(&marker)).await.ok()?;
        let bytes = bytes.bytes().await.ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        Some(EngineError::NotFound(format!(
            "the data of table {} was deleted by a schema apply with allow_data_loss (graph version {}, by {}, at {}); this version can no longer be read",
            entry.path,
            v["deleted_in_version"],
            v["actor"].as_str().unwrap_or("?"),
            v["deleted_at"].as_str().unwrap_or("?"),
        )))
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
        self.write_on(MAIN, actor, build).await
    }

    /// Like [`write`](Self::write), on the head of `branch`.
    pub async fn write_on<F, Fut, T>(
        self: &Arc<Self>,
        branch: &str,
        actor: &str,
        build: F,
    ) -> Result<(GraphManifest, T)>
    where
        F: FnOnce(Snapshot) -> Fut,
        Fut: std::future::Future<Output = Result<(Change, T)>>,
    {
        let lock = self.branch_lock(branch);
        let _guard = lock.lock().await;
        let base = self.head_for_write(branch).await?;
        let (change, out) = match build(base.clone()).await {
            Ok(built) => built,
            Err(e) => return Err(self.explain_write_error(e).await),
        };
        let manifest = self.publish(&base, change, actor).await?;
        Ok((manifest, out))
    }

    /// The lock that serialises this process's writers of `branch`.
    pub(crate) fn branch_lock(&self, branch: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.write_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(branch.to_string()).or_default().clone()
    }

    /// The write path's per-branch queues (`T` is always `mutate::group::Committers`).
    pub(crate) fn write_queues<T: Default + Send + Sync + 'static>(&self) -> &T {
        self.write_queues
            .get_or_init(|| Box::new(T::default()))
            .downcast_ref::<T>()
            .expect(
                "the write queues of a graph are of one type (shared/engine/src/mutate/group.rs)",
            )
    }

    /// The head of `branch`, for a writer holding its lock.
    pub(crate) async fn head_for_write(self: &Arc<Self>, branch: &str) -> Result<Snapshot> {
        self.snapshot_on(branch, None).await
    }

    /// A failure while building a change, or the reason behind it: tables missing under a
    /// handle whose graph was purged say so, not what broke.
    pub(crate) async fn explain_write_error(&self, e: EngineError) -> EngineError {
        if self.incarnation.is_some() && !e.is_user_error() {
            if let Err(gone) = self.check_incarnation(true).await {
                return gone;
            }
        }
        e
    }

    /// Commit the staged tables (detached) and publish one manifest naming them.
    pub async fn publish(
        self: &Arc<Self>,
        base: &Snapshot,
        change: Change,
        actor: &str,
    ) -> Result<GraphManifest> {
        let mut entries = BTreeMap::new();
        // The versions this change commits, opened: once published they are the next
        // writer's base and the next reader's tables, so the handle keeps them.
        let mut committed = vec![];
        // The tables are independent datasets: several are committed, and their indexes
        // built, each in a task of its own, at once (a bulk load's index builds are most of
        // its end); one is committed here.
        let staged: Vec<(TableKey, StagedTable)> = change
            .staged
            .into_iter()
            .filter(|(_, staged)| staged.has_changes())
            .collect();
        let mut done = Vec::with_capacity(staged.len());
        if staged.len() <= 1 {
            for (key, staged) in staged {
                done.push((key, staged.commit().await));
            }
        } else {
            use tracing::Instrument;
            let kind = crate::storage_metrics::current_kind();
            let tasks: Vec<_> = staged
                .into_iter()
                .map(|(key, staged)| {
                    let commit = crate::storage_metrics::with_request_kind(kind, staged.commit());
                    (key, tokio::spawn(commit.in_current_span()))
                })
                .collect();
            for (key, task) in tasks {
                let outcome = task
                    .await
                    .map_err(|e| EngineError::Corrupt(format!("table commit task failed: {e}")))?;
                done.push((key, outcome));
            }
        }
        for (key, outcome) in done {
            let base_entry = base.entry(&key)?.clone();
            let (dataset, row_count) = outcome?;
            let version = dataset.version().version;
            committed.push(((base_entry.path.clone(), version), dataset));
            // The rows a compacted version holds: those of its base, or of the version its
            // base was itself compacted from.
            let same_rows_as = change
                .maintenance
                .then(|| base_entry.same_rows_as.unwrap_or(base_entry.version));
            entries.insert(
                key.to_string(),
                TableEntry {
                    path: base_entry.path,
                    version,
                    row_count,
                    changed_in: 0,
                    same_rows_as,
                    pending: false,
                },
            );
        }
        entries.extend(change.adopted);
        if entries.is_empty() && change.merged_from.is_none() && change.schema.is_none() {
            return Ok((*base.manifest).clone());
        }
        // A worker that has not yet heard of a delete must not write into the graph, nor
        // into another graph created at the same uri since (its incarnation is not ours).
        self.refuse_if_deleted().await?;
        let mut parent = (*base.manifest).clone();
        for _ in 0..MAX_REAPPLY {
            let mut next = parent.next(entries.clone(), actor);
            next.parent_commit = Some(branch::manifest_commit_id(&base.chain, &parent));
            next.merged_from = change.merged_from.clone();
            if let Some(schema) = &change.schema {
                next.schema_source = schema.source.clone();
                next.tables = schema
                    .tables
                    .iter()
                    .map(|(k, e)| {
                        let mut e = e.clone();
                        let same = parent
                            .tables
                            .get(k)
                            .is_some_and(|p| p.path == e.path && p.version == e.version);
                        e.changed_in = match parent.tables.get(k) {
                            Some(p) if same => p.changed_in,
                            _ => next.version,
                        };
                        (k.clone(), e)
                    })
                    .collect();
            }
            match base.store.publish(&next).await {
                Ok(()) => {
                    if !change.maintenance {
                        let most_fragments = committed
                            .iter()
                            .map(|(_, ds)| ds.manifest().fragments.len())
                            .max()
                            .unwrap_or(0);
                        self.note_published(most_fragments);
                    }
                    self.keep_datasets(committed);
                    return Ok(next);
                }
                Err(StorageError::VersionTaken(_)) => {
                    let latest = base.store.read_latest().await?;
                    check_untouched(base, &latest, entries.keys(), &change.read_deps)?;
                    parent = latest;
                }
                Err(e) => return Err(e.into()),
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
        // Moved by maintenance only: the same rows, so nothing this change read or wrote
        // differs. Its own version of the table (built on `before`) then replaces the
        // compacted one: maintenance gives way.
        let compacted_only = match (before, now) {
            (Some(b), Some(n)) => {
                b.path == n.path
                    && n.same_rows_as.is_some()
                    && (n.same_rows_as == Some(b.version) || n.same_rows_as == b.same_rows_as)
            }
            _ => false,
        };
        if before.map(|e| e.version) != now.map(|e| e.version) && !compacted_only {
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
    /// The id of the commit this version is.
    pub fn commit_id(&self) -> String {
        branch::manifest_commit_id(&self.chain, &self.manifest)
    }

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
