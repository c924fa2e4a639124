//! Query data of the tables a snapshot pins, from the process-wide cache: built on first use,
//! or patched from the newest cached earlier version of the same table.

use std::sync::Arc;

use omnigraph_lang::query::typed::CompareOp;
use omnigraph_lang::{EdgeType, NodeType};

use super::cache::{table_data_cache, CacheKey, CachedTable};
use super::delta::{scan_fragments, table_delta};
pub use super::edges::{Csr, EdgeData};
pub use super::nodes::NodeData;
use super::value::{compare, Scalar};
use crate::error::{EngineError, Result};
use crate::graph::Snapshot;
use crate::table_key::TableKey;

/// The table's URI, Lance version and the graph version that published it.
fn table_version(snap: &Snapshot, key: &TableKey) -> Result<(String, u64, u64)> {
    let entry = snap.entry(key)?;
    Ok((
        snap.graph().location().child_uri(&entry.path),
        entry.version,
        entry.changed_in,
    ))
}

/// The query data of node type `type_name` at the snapshot's version.
pub async fn node_data(snap: &Snapshot, type_name: &str) -> Result<Arc<NodeData>> {
    let node = snap
        .catalog
        .node(type_name)
        .ok_or_else(|| EngineError::Invalid(format!("unknown node type `{type_name}`")))?;
    let tk = TableKey::node(type_name);
    let (uri, version, epoch) = table_version(snap, &tk)?;
    let key = CacheKey::node(&uri, version, epoch);
    let cache = table_data_cache();
    let entry = cache
        .get_or_build(key.clone(), || async {
            let ds = snap.table(&tk).await?;
            if let Some(CachedTable::Node(parent)) = cache.newest_before(&key) {
                if let Some(delta) = table_delta(parent.dataset(), &ds).await? {
                    if let Some(patched) =
                        NodeData::patch(&parent, node, ds.clone(), &delta).await?
                    {
                        cache.count_build(true);
                        return Ok(CachedTable::Node(Arc::new(patched)));
                    }
                }
            }
            cache.count_build(false);
            Ok(CachedTable::Node(Arc::new(
                NodeData::build(node, ds).await?,
            )))
        })
        .await?;
    match entry {
        CachedTable::Node(n) => Ok(n),
        CachedTable::Edge(_) => Err(EngineError::Corrupt(
            "node cache entry holds an edge table".into(),
        )),
    }
}

/// Whether node data of `type_name` at the snapshot's version is cached, or can be patched
/// from a cached earlier version (then building it is cheap).
pub fn node_data_at_hand(snap: &Snapshot, type_name: &str) -> Result<bool> {
    let (uri, version, epoch) = table_version(snap, &TableKey::node(type_name))?;
    let key = CacheKey::node(&uri, version, epoch);
    let cache = table_data_cache();
    Ok(cache.get_built(&key).is_some() || cache.newest_before(&key).is_some())
}

/// Appended rows a key probe scans on top of cached node data before giving up.
const MAX_PROBED_APPENDED_ROWS: usize = 10_000;
/// Appended fragments a key probe scans on top of cached node data; past them it caches the
/// probed version's node data first.
const PATCH_AFTER_FRAGMENTS: usize = 16;

/// The row address of the stored node of `type_name` with `key` at the snapshot's version,
/// answered from cached node data (of this version, or of an earlier one plus the delta to
/// this one); None when no cached data can answer (the caller asks Lance instead).
pub async fn probe_stored_key(
    snap: &Snapshot,
    node: &NodeType,
    key: &Scalar,
) -> Result<Option<Option<u64>>> {
    let tk = TableKey::node(&node.name);
    let (uri, version, epoch) = table_version(snap, &tk)?;
    let cache = table_data_cache();
    let cache_key = CacheKey::node(&uri, version, epoch);
    if let Some(CachedTable::Node(n)) = cache.get_built(&cache_key) {
        return Ok(Some(n.row_address(key)));
    }
    // Nothing cached, or cached only before a rewrite of the table (a compaction): Lance's
    // pushdown finds the key with the key index, plus a scan of every fragment written
    // since the index was built. Past a few such fragments (writes with no reads in
    // between), cache the node data once instead; later probes then patch it and scan only
    // what is appended after it.
    let by_index = |ds: Arc<lance::Dataset>| async move {
        if ds.get_fragments().len() > PATCH_AFTER_FRAGMENTS {
            let data = node_data(snap, &node.name).await?;
            return Ok(Some(data.row_address(key)));
        }
        Ok(None)
    };
    let Some(CachedTable::Node(parent)) = cache.newest_before(&cache_key) else {
        return by_index(snap.table(&tk).await?).await;
    };
    let ds = snap.table(&tk).await?;
    let Some(delta) = table_delta(parent.dataset(), &ds).await? else {
        return Ok(None);
    };
    if !delta.removed_fragments.is_empty() {
        // A compaction (or a delete of whole fragments) since the cached version. When it
        // rewrote few rows, patching the cache once is cheap and every later probe patches
        // from it; a whole table rewritten goes to the key index instead.
        if delta.appended_rows() <= MAX_PROBED_APPENDED_ROWS {
            let data = node_data(snap, &node.name).await?;
            return Ok(Some(data.row_address(key)));
        }
        return by_index(ds).await;
    }
    if delta.appended_rows() > MAX_PROBED_APPENDED_ROWS {
        return Ok(None);
    }
    if delta.appended.len() > PATCH_AFTER_FRAGMENTS {
        // Writes without reads in between: bring the cache up to this version (a patch of
        // the parent, which reads only the delta), so that later probes scan only what is
        // appended after it, not every fragment written since the last read.
        let data = node_data(snap, &node.name).await?;
        return Ok(Some(data.row_address(key)));
    }
    let (columns, addrs) = scan_fragments(&ds, &delta.appended, &[node.key.as_str()]).await?;
    if let Some(keys) = columns.first() {
        let hit = (0..keys.len())
            .find(|row| compare(&Scalar::from_array(keys.as_ref(), *row), CompareOp::Eq, key));
        if let Some(row) = hit {
            return Ok(Some(Some(addrs[row])));
        }
    }
    let gone = |addr: u64| {
        delta.removed_fragments.contains(&(addr >> 32)) || delta.deleted.contains(&addr)
    };
    Ok(Some(parent.row_address(key).filter(|addr| !gone(*addr))))
}

/// The adjacency of edge type `edge` at the snapshot's version, in the id spaces of `src`
/// and `dst` (its endpoint node tables at the same snapshot).
pub async fn edge_data(
    snap: &Snapshot,
    edge: &EdgeType,
    src: &Arc<NodeData>,
    dst: &Arc<NodeData>,
) -> Result<Arc<EdgeData>> {
    let tk = TableKey::edge(&edge.name);
    let (uri, version, epoch) = table_version(snap, &tk)?;
    let key = CacheKey::edge(&uri, version, epoch, src.lineage, dst.lineage);
    let cache = table_data_cache();
    let entry = cache
        .get_or_build(key.clone(), || async {
            let ds = snap.table(&tk).await?;
            if let Some(CachedTable::Edge(parent)) = cache.newest_before(&key) {
                if let Some(delta) = table_delta(parent.dataset(), &ds).await? {
                    if let Some(patched) =
                        EdgeData::patch(&parent, ds.clone(), &delta, src.clone(), dst.clone())
                            .await?
                    {
                        cache.count_build(true);
                        return Ok(CachedTable::Edge(Arc::new(patched)));
                    }
                }
            }
            cache.count_build(false);
            Ok(CachedTable::Edge(Arc::new(
                EdgeData::build(ds, src.clone(), dst.clone()).await?,
            )))
        })
        .await?;
    let data = match entry {
        CachedTable::Edge(e) => e,
        CachedTable::Node(_) => {
            return Err(EngineError::Corrupt(
                "edge cache entry holds a node table".into(),
            ))
        }
    };
    // Skipped dangling endpoints could exist in other node versions: do not reuse such data.
    if data.dangling > 0 && data.node_versions != (src.version, dst.version) {
        let ds = snap.table(&tk).await?;
        return Ok(Arc::new(
            EdgeData::build(ds, src.clone(), dst.clone()).await?,
        ));
    }
    Ok(data)
}
