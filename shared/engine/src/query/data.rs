//! Query data of the tables a snapshot pins, from the process-wide cache: built on first use,
//! or patched from the newest cached earlier version of the same table.

use std::sync::Arc;

use omnigraph_lang::EdgeType;

use super::cache::{table_data_cache, CacheKey, CachedTable};
use super::delta::table_delta;
pub use super::edges::{Csr, EdgeData};
pub use super::nodes::NodeData;
use crate::error::{EngineError, Result};
use crate::graph::Snapshot;
use crate::table_key::TableKey;

/// The table's URI, Lance version and the graph version that published it.
fn table_version(snap: &Snapshot, key: &TableKey) -> Result<(String, u64, u64)> {
    let entry = snap.entry(key)?;
    Ok((snap.graph().location().child_uri(&entry.path), entry.version, entry.changed_in))
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
                    if let Some(patched) = NodeData::patch(&parent, node, ds.clone(), &delta).await? {
                        cache.count_build(true);
                        return Ok(CachedTable::Node(Arc::new(patched)));
                    }
                }
            }
            cache.count_build(false);
            Ok(CachedTable::Node(Arc::new(NodeData::build(node, ds).await?)))
        })
        .await?;
    match entry {
        CachedTable::Node(n) => Ok(n),
        CachedTable::Edge(_) => Err(EngineError::Corrupt("node cache entry holds an edge table".into())),
    }
}

/// The node data of `type_name` at the snapshot's version if some query already built it.
pub fn cached_node_data(snap: &Snapshot, type_name: &str) -> Option<Arc<NodeData>> {
    let (uri, version, epoch) = table_version(snap, &TableKey::node(type_name)).ok()?;
    match table_data_cache().get_built(&CacheKey::node(&uri, version, epoch))? {
        CachedTable::Node(n) => Some(n),
        CachedTable::Edge(_) => None,
    }
}

/// The adjacency of edge type `edge` at the snapshot's version, in the id spaces of `src`
/// and `dst` (its endpoint node tables at the same snapshot).
pub async fn edge_data(snap: &Snapshot, edge: &EdgeType, src: &Arc<NodeData>, dst: &Arc<NodeData>) -> Result<Arc<EdgeData>> {
    let tk = TableKey::edge(&edge.name);
    let (uri, version, epoch) = table_version(snap, &tk)?;
    let key = CacheKey::edge(&uri, version, epoch, src.lineage, dst.lineage);
    let cache = table_data_cache();
    let entry = cache
        .get_or_build(key.clone(), || async {
            let ds = snap.table(&tk).await?;
            if let Some(CachedTable::Edge(parent)) = cache.newest_before(&key) {
                if let Some(delta) = table_delta(parent.dataset(), &ds).await? {
                    if let Some(patched) = EdgeData::patch(&parent, ds.clone(), &delta, src.clone(), dst.clone()).await? {
                        cache.count_build(true);
                        return Ok(CachedTable::Edge(Arc::new(patched)));
                    }
                }
            }
            cache.count_build(false);
            Ok(CachedTable::Edge(Arc::new(EdgeData::build(ds, src.clone(), dst.clone()).await?)))
        })
        .await?;
    let data = match entry {
        CachedTable::Edge(e) => e,
        CachedTable::Node(_) => return Err(EngineError::Corrupt("edge cache entry holds a node table".into())),
    };
    // Skipped dangling endpoints could exist in other node versions: do not reuse such data.
    if data.dangling > 0 && data.node_versions != (src.version, dst.version) {
        let ds = snap.table(&tk).await?;
        return Ok(Arc::new(EdgeData::build(ds, src.clone(), dst.clone()).await?));
    }
    Ok(data)
}
