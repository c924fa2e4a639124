//! The object-store metrics and storage spans of a graph's tables: Lance opens its own
//! stores for them, and [`store_params`] hands it the graph's counting wrapper
//! (shared/storage/src/storage_metrics.rs, where the metrics are described).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use lance::io::{ObjectStoreParams, WrappingObjectStore};
use object_store::list::PaginatedListStore;
use object_store::ObjectStore;
pub use omnigraph_storage::storage_metrics::*;

/// The graph's counting wrapper, as Lance wants it.
#[derive(Debug)]
struct LanceMeter(MeterWrapper);

impl WrappingObjectStore for LanceMeter {
    fn wrap(&self, _prefix: &str, original: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        self.0.wrap_store(original)
    }

    // Keeps Lance's paginated listing, counted too.
    fn wrap_paginated(
        &self,
        _prefix: &str,
        original: Arc<dyn PaginatedListStore>,
    ) -> Option<Arc<dyn PaginatedListStore>> {
        Some(self.0.wrap_lister(original))
    }
}

/// One Lance wrapper per counting wrapper (one per graph root), so that Lance's store cache
/// keeps one store per graph.
static LANCE_METERS: LazyLock<Mutex<HashMap<usize, Arc<LanceMeter>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Lance's store parameters for the table at `uri`: its graph's counting wrapper.
pub fn store_params(uri: &str) -> ObjectStoreParams {
    let meter = wrapper_for_table(uri);
    let wrapper: Arc<dyn WrappingObjectStore> = LANCE_METERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(Arc::as_ptr(&meter) as usize)
        .or_insert_with(|| Arc::new(LanceMeter((*meter).clone())))
        .clone();
    ObjectStoreParams {
        object_store_wrapper: Some(wrapper),
        ..Default::default()
    }
}
