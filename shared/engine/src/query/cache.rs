//! The process-wide cache of query data per table version.
//!
//! Entries are keyed by table URI and Lance version (and, for adjacency, the versions of the
//! endpoint node tables whose ids it uses), so an entry can never be stale: a new graph
//! version names new table versions and therefore new keys. Old entries age out
//! least-recently-used once the cache holds more than its byte budget.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

use super::data::{EdgeData, NodeData};
use crate::error::Result;

/// Budget of the cache, in MiB, unless `OMNIGRAPH_QUERY_CACHE_MB` says otherwise.
const DEFAULT_BUDGET_MB: u64 = 2048;

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
    slots: Mutex<HashMap<String, Slot>>,
    clock: AtomicU64,
    budget_bytes: u64,
}

/// The one cache of this process.
pub fn table_data_cache() -> &'static TableDataCache {
    static CACHE: OnceLock<TableDataCache> = OnceLock::new();
    CACHE.get_or_init(|| {
        let mb = std::env::var("OMNIGRAPH_QUERY_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(DEFAULT_BUDGET_MB);
        TableDataCache::new(mb * 1024 * 1024)
    })
}

impl TableDataCache {
    pub fn new(budget_bytes: u64) -> Self {
        TableDataCache { slots: Mutex::new(HashMap::new()), clock: AtomicU64::new(0), budget_bytes }
    }

    /// The entry under `key`, built by `build` if absent. Concurrent callers of one key share
    /// one build; a failed build leaves nothing behind.
    pub async fn get_or_build<F, Fut>(&self, key: String, build: F) -> Result<CachedTable>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CachedTable>>,
    {
        let cell = self.slot(&key);
        let fresh = !cell.initialized();
        let entry = cell.get_or_try_init(build).await?.clone();
        if fresh {
            self.evict_over_budget(&key);
        }
        Ok(entry)
    }

    fn slot(&self, key: &str) -> Arc<OnceCell<CachedTable>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots
            .entry(key.to_string())
            .or_insert_with(|| Slot { cell: Arc::new(OnceCell::new()), last_used: now });
        slot.last_used = now;
        slot.cell.clone()
    }

    /// Drop least-recently-used entries (never `keep`) until the cache fits its budget.
    fn evict_over_budget(&self, keep: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let size = |s: &Slot| s.cell.get().map(|e| e.approx_bytes()).unwrap_or(0);
        let mut total: u64 = slots.values().map(size).sum();
        while total > self.budget_bytes {
            let victim = slots
                .iter()
                .filter(|(k, s)| k.as_str() != keep && s.cell.initialized())
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            if let Some(slot) = slots.remove(&victim) {
                total = total.saturating_sub(size(&slot));
            }
        }
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
