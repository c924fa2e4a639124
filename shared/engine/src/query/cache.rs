//! The process-wide cache of query data per table version.
//!
//! Entries are keyed by table URI and Lance version (and, for adjacency, the versions of the
//! endpoint node tables whose ids it uses), so an entry can never be stale: a new graph
//! version names new table versions and therefore new keys. Old entries age out
//! least-recently-used once the cache holds more than its byte budget, and each table keeps
//! at most [`VERSIONS_PER_TABLE`] versions: a table that takes writes all day gets a new
//! version with every write (a patched copy of the last one), and without that cap the
//! superseded copies filled the budget (2 GiB of one table's old versions after a few
//! thousand single-row inserts, each lookup slower for the entries it passed).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

use super::edges::EdgeData;
use super::nodes::NodeData;
use crate::error::Result;

/// Budget of the cache, in MiB, unless `OMNIGRAPH_QUERY_CACHE_MB` says otherwise.
const DEFAULT_BUDGET_MB: u64 = 2048;

/// Versions of one table (and id spaces) the cache keeps at most, least recently used out
/// first: the version reads use now, the ones readers that started just before a write
/// still use, and the heads of a few branches read at the same time.
pub const VERSIONS_PER_TABLE: usize = 4;

/// A table version's query data: the table (URI), its Lance version, and for adjacency the
/// node id spaces (lineages) it is expressed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    uri: String,
    version: u64,
    /// The graph version that published this table version: Lance numbers detached versions
    /// arbitrarily, so this is what orders the versions of one table.
    epoch: u64,
    lineages: Option<(u64, u64)>,
}

impl CacheKey {
    pub fn node(uri: &str, version: u64, epoch: u64) -> CacheKey {
        CacheKey {
            uri: uri.to_string(),
            version,
            epoch,
            lineages: None,
        }
    }

    pub fn edge(
        uri: &str,
        version: u64,
        epoch: u64,
        src_lineage: u64,
        dst_lineage: u64,
    ) -> CacheKey {
        CacheKey {
            uri: uri.to_string(),
            version,
            epoch,
            lineages: Some((src_lineage, dst_lineage)),
        }
    }

    /// Same table and id spaces, published earlier.
    fn is_earlier_than(&self, other: &CacheKey) -> bool {
        self.same_table(other) && self.epoch < other.epoch
    }

    /// Same table and id spaces, any version.
    fn same_table(&self, other: &CacheKey) -> bool {
        self.uri == other.uri && self.lineages == other.lineages
    }
}

#[derive(Clone)]
pub enum CachedTable {
    Node(Arc<NodeData>),
    Edge(Arc<EdgeData>),
}

impl CachedTable {
    fn approx_bytes(&self) -> u64 {
        match self {
            CachedTable::Node(n) => n.approx_bytes(),
            CachedTable::Edge(e) => e.approx_bytes(),
        }
    }
}

struct Slot {
    cell: Arc<OnceCell<CachedTable>>,
    last_used: u64,
}

pub struct TableDataCache {
    slots: Mutex<HashMap<CacheKey, Slot>>,
    clock: AtomicU64,
    budget_bytes: u64,
    built: AtomicU64,
    patched: AtomicU64,
}

/// How table data came to be, since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCounters {
    /// Built from a full scan of the table.
    pub built: u64,
    /// Derived from an earlier version's data and the delta between the versions.
    pub patched: u64,
}

/// The one cache of this process.
pub fn table_data_cache() -> &'static TableDataCache {
    static CACHE: OnceLock<TableDataCache> = OnceLock::new();
    CACHE.get_or_init(|| {
        TableDataCache::new(budget_from_env(
            "OMNIGRAPH_QUERY_CACHE_MB",
            DEFAULT_BUDGET_MB,
        ))
    })
}

/// A cache budget in bytes: the MiB the environment variable `var` gives, else
/// `default_mb` (a value that is not a whole number is reported and ignored). The query
/// cache's and Lance's caches' budgets (README.md, the table of caches).
pub(crate) fn budget_from_env(var: &str, default_mb: u64) -> u64 {
    let mb = match std::env::var(var) {
        Ok(text) => text.trim().parse::<u64>().unwrap_or_else(|_| {
            tracing::warn!(var, value = %text, default_mb, "not a number of MiB: the default is used");
            default_mb
        }),
        Err(_) => default_mb,
    };
    mb.saturating_mul(1 << 20)
}

impl TableDataCache {
    pub fn new(budget_bytes: u64) -> Self {
        TableDataCache {
            slots: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            budget_bytes,
            built: AtomicU64::new(0),
            patched: AtomicU64::new(0),
        }
    }

    pub fn counters(&self) -> CacheCounters {
        CacheCounters {
            built: self.built.load(Ordering::Relaxed),
            patched: self.patched.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_build(&self, patched: bool) {
        let counter = if patched { &self.patched } else { &self.built };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The entry under `key`, built by `build` if absent. Concurrent callers of one key share
    /// one build; a failed build leaves nothing behind.
    pub async fn get_or_build<F, Fut>(&self, key: CacheKey, build: F) -> Result<CachedTable>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedTable>>,
    {
        let cell = self.slot(&key);
        let fresh = !cell.initialized();
        let entry = cell.get_or_try_init(build).await?.clone();
        let metrics = &crate::metrics::CACHE;
        if fresh {
            metrics.misses.inc();
            self.evict_over_budget(&key);
        } else {
            metrics.hits.inc();
        }
        Ok(entry)
    }

    /// The entry under `key` if it is built (never builds).
    pub fn get_built(&self, key: &CacheKey) -> Option<CachedTable> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(key).and_then(|s| s.cell.get().cloned())
    }

    /// The built entry of the latest earlier-published version of the same table (and id
    /// spaces): the starting point for a patch.
    pub fn newest_before(&self, key: &CacheKey) -> Option<CachedTable> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|(k, s)| k.is_earlier_than(key) && s.cell.initialized())
            .max_by_key(|(k, _)| k.epoch)
            .and_then(|(_, s)| s.cell.get().cloned())
    }

    fn slot(&self, key: &CacheKey) -> Arc<OnceCell<CachedTable>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(key.clone()).or_insert_with(|| Slot {
            cell: Arc::new(OnceCell::new()),
            last_used: now,
        });
        slot.last_used = now;
        slot.cell.clone()
    }

    /// Drop least-recently-used entries (never `keep`) until `keep`'s table has at most
    /// [`VERSIONS_PER_TABLE`] versions and the cache fits its budget.
    fn evict_over_budget(&self, keep: &CacheKey) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let size = |s: &Slot| s.cell.get().map(|e| e.approx_bytes()).unwrap_or(0);
        loop {
            let versions = slots
                .iter()
                .filter(|(k, s)| k.same_table(keep) && s.cell.initialized());
            if versions.clone().count() <= VERSIONS_PER_TABLE {
                break;
            }
            let victim = versions
                .filter(|(k, _)| *k != keep)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            slots.remove(&victim);
            crate::metrics::CACHE.evictions.inc();
        }
        let mut total: u64 = slots.values().map(size).sum();
        while total > self.budget_bytes {
            let victim = slots
                .iter()
                .filter(|(k, s)| *k != keep && s.cell.initialized())
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            if let Some(slot) = slots.remove(&victim) {
                total = total.saturating_sub(size(&slot));
                crate::metrics::CACHE.evictions.inc();
            }
        }
        crate::metrics::CACHE
            .bytes
            .set(i64::try_from(total).unwrap_or(i64::MAX));
    }

    /// Number of built entries of the tables under `uri_prefix` (a graph's URI; for tests).
    pub fn entries_under(&self, uri_prefix: &str) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|(k, s)| k.uri.starts_with(uri_prefix) && s.cell.initialized())
            .count()
    }

    /// Number of built entries (for tests).
    pub fn len(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.values().filter(|s| s.cell.initialized()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
