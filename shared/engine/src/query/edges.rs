//! Adjacency of one edge table version, in the id spaces (lineages) of its endpoint node
//! tables: the edge list by row address, and CSR forward and reverse built from it. A later
//! version of the table is patched from an earlier one (deleted rows out, appended rows in).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array, UInt64Array};
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use lance::Dataset;

use super::delta::{scan_fragments, TableDelta};
use super::nodes::NodeData;
use crate::columns::{DST_COLUMN, SRC_COLUMN};
use crate::error::{EngineError, Result};

use crate::table::ROW_ADDR;

/// Compressed sparse rows: the neighbours of id `i` are `targets[offsets[i]..offsets[i+1]]`,
/// sorted by id. Parallel edges appear once each (join semantics).
pub struct Csr {
    offsets: Vec<usize>,
    targets: Vec<u32>,
}

impl Csr {
    fn build(nodes: usize, from: &[u32], to: &[u32]) -> Csr {
        let mut offsets = vec![0usize; nodes + 1];
        for s in from {
            offsets[*s as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; from.len()];
        for (s, d) in from.iter().zip(to) {
            targets[fill[*s as usize]] = *d;
            fill[*s as usize] += 1;
        }
        for i in 0..nodes {
            targets[offsets[i]..offsets[i + 1]].sort_unstable();
        }
        Csr { offsets, targets }
    }

    /// This adjacency with `removed` (one occurrence each) taken out and `added` put in, for
    /// an id space of `nodes`: untouched neighbour lists are copied as they are.
    fn patched(&self, nodes: usize, removed: &[(u32, u32)], added: &[(u32, u32)]) -> Csr {
        let mut changes: BTreeMap<u32, (Vec<u32>, Vec<u32>)> = BTreeMap::new();
        for (s, d) in removed {
            changes.entry(*s).or_default().0.push(*d);
        }
        for (s, d) in added {
            changes.entry(*s).or_default().1.push(*d);
        }
        let mut offsets = Vec::with_capacity(nodes + 1);
        let mut targets = Vec::with_capacity(self.targets.len() + added.len());
        offsets.push(0);
        for id in 0..nodes as u32 {
            match changes.get(&id) {
                None => targets.extend_from_slice(self.neighbors(id)),
                Some((gone, new)) => {
                    let mut list = self.neighbors(id).to_vec();
                    for d in gone {
                        if let Some(i) = list.iter().position(|x| x == d) {
                            list.remove(i);
                        }
                    }
                    list.extend(new);
                    list.sort_unstable();
                    targets.extend(list);
                }
            }
            offsets.push(targets.len());
        }
        Csr { offsets, targets }
    }

    /// Neighbours of `id` (none for ids beyond the space this was built for).
    pub fn neighbors(&self, id: u32) -> &[u32] {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.targets[a..b],
            _ => &[],
        }
    }

    /// Average out-degree over the nodes that could have edges.
    pub fn mean_degree(&self) -> f64 {
        let nodes = self.offsets.len().saturating_sub(1).max(1);
        self.targets.len() as f64 / nodes as f64
    }
}

/// Per node id, its edges as (other end, position in the edge list), sorted.
pub struct IncidenceList {
    offsets: Vec<usize>,
    entries: Vec<(u32, u32)>,
}

impl IncidenceList {
    /// The edges of `id` (none for ids beyond the space this was built for).
    pub fn of(&self, id: u32) -> &[(u32, u32)] {
        let i = id as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.entries[a..b],
            _ => &[],
        }
    }
}

/// The edges of an edge type by source (`forward`) and by target (`reverse`).
pub struct Incidence {
    pub forward: IncidenceList,
    pub reverse: IncidenceList,
}

impl Incidence {
    fn lists(nodes: usize, from: &[u32], to: &[u32]) -> IncidenceList {
        let mut offsets = vec![0usize; nodes + 1];
        for s in from {
            if let Some(o) = offsets.get_mut(*s as usize + 1) {
                *o += 1;
            }
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0u32); offsets[nodes]];
        for (pos, (s, d)) in from.iter().zip(to).enumerate() {
            if let Some(at) = fill.get_mut(*s as usize) {
                if *at < entries.len() {
                    entries[*at] = (*d, pos as u32);
                    *at += 1;
                }
            }
        }
        for i in 0..nodes {
            entries[offsets[i]..offsets[i + 1]].sort_unstable();
        }
        IncidenceList { offsets, entries }
    }
}

/// Live edges as parallel lists, ordered by row address.
#[derive(Default)]
struct EdgeList {
    addr: Vec<u64>,
    src: Vec<u32>,
    dst: Vec<u32>,
}

pub struct EdgeData {
    pub src_lineage: u64,
    pub dst_lineage: u64,
    /// Lance versions of the endpoint node tables it was built or patched with.
    pub node_versions: (u64, u64),
    dataset: Arc<Dataset>,
    /// Edges skipped because an endpoint key had no node (only in damaged tables).
    pub dangling: usize,
    edges: EdgeList,
    pub forward: Csr,
    pub reverse: Csr,
}

impl EdgeData {
    pub async fn build(
        dataset: Arc<Dataset>,
        src: Arc<NodeData>,
        dst: Arc<NodeData>,
    ) -> Result<EdgeData> {
        let mut scanner = dataset.scan();
        scanner.project(&[SRC_COLUMN, DST_COLUMN])?;
        scanner.with_row_address();
        let batches: Vec<RecordBatch> = scanner.try_into_stream().await?.try_collect().await?;
        // Resolving millions of endpoint keys is CPU work: off the async workers, on every core.
        tokio::task::spawn_blocking(move || {
            let (mut edges, dangling) = resolve_parallel(&batches, &src, &dst)?;
            sort_by_address(&mut edges);
            Ok(EdgeData::from_list(dataset, edges, dangling, &src, &dst))
        })
        .await
        .map_err(|e| EngineError::Corrupt(format!("adjacency build failed: {e}")))?
    }

    /// The adjacency of `dataset` (a later version of the parent's table), or None when the
    /// change is too large for a patch to pay off.
    pub async fn patch(
        parent: &EdgeData,
        dataset: Arc<Dataset>,
        delta: &TableDelta,
        src: Arc<NodeData>,
        dst: Arc<NodeData>,
    ) -> Result<Option<EdgeData>> {
        if (delta.appended_rows() + delta.deleted.len()) * 4 > parent.edges.addr.len().max(4096) {
            return Ok(None);
        }
        let (columns, addrs) =
            scan_fragments(&dataset, &delta.appended, &[SRC_COLUMN, DST_COLUMN]).await?;
        let doomed = parent.deleted_positions(delta);
        let old = &parent.edges;
        let removed: Vec<(u32, u32)> = doomed.iter().map(|i| (old.src[*i], old.dst[*i])).collect();
        let mut edges = EdgeList::default();
        if doomed.is_empty() {
            edges.addr = old.addr.clone();
            edges.src = old.src.clone();
            edges.dst = old.dst.clone();
        } else {
            for i in (0..old.addr.len()).filter(|i| !doomed.contains(i)) {
                edges.addr.push(old.addr[i]);
                edges.src.push(old.src[i]);
                edges.dst.push(old.dst[i]);
            }
        }
        let mut added = vec![];
        let mut dangling = parent.dangling;
        if let [s, d] = columns.as_slice() {
            let (s, d) = (src.lookup_all(s.as_ref()), dst.lookup_all(d.as_ref()));
            for ((a, b), addr) in s.into_iter().zip(d).zip(addrs) {
                if a == u32::MAX || b == u32::MAX {
                    dangling += 1;
                    continue;
                }
                edges.addr.push(addr);
                edges.src.push(a);
                edges.dst.push(b);
                added.push((a, b));
            }
        }
        sort_by_address(&mut edges);
        let swap = |pairs: &[(u32, u32)]| -> Vec<(u32, u32)> {
            pairs.iter().map(|(a, b)| (*b, *a)).collect()
        };
        Ok(Some(EdgeData {
            src_lineage: src.lineage,
            dst_lineage: dst.lineage,
            node_versions: (src.version, dst.version),
            dataset,
            dangling,
            forward: parent.forward.patched(src.id_count(), &removed, &added),
            reverse: parent
                .reverse
                .patched(dst.id_count(), &swap(&removed), &swap(&added)),
            edges,
        }))
    }

    fn from_list(
        dataset: Arc<Dataset>,
        edges: EdgeList,
        dangling: usize,
        src: &NodeData,
        dst: &NodeData,
    ) -> EdgeData {
        let forward = Csr::build(src.id_count(), &edges.src, &edges.dst);
        let reverse = Csr::build(dst.id_count(), &edges.dst, &edges.src);
        EdgeData {
            src_lineage: src.lineage,
            dst_lineage: dst.lineage,
            node_versions: (src.version, dst.version),
            dataset,
            dangling,
            edges,
            forward,
            reverse,
        }
    }

    /// The table version this data describes.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// Positions in the edge list of the rows the delta deletes.
    fn deleted_positions(&self, delta: &TableDelta) -> std::collections::HashSet<usize> {
        let addr = &self.edges.addr;
        let mut out = std::collections::HashSet::new();
        for frag in &delta.removed_fragments {
            let start = addr.partition_point(|a| (a >> 32) < *frag);
            out.extend((start..addr.len()).take_while(|i| (addr[*i] >> 32) == *frag));
        }
        for a in &delta.deleted {
            if let Ok(i) = addr.binary_search(a) {
                out.insert(i);
            }
        }
        out
    }

    /// The edges by node, with their positions in the edge list (row address order), for
    /// a traversal that binds its edge (docs/languages.md, section 2: one row per edge).
    pub fn incidence(&self) -> Incidence {
        let e = &self.edges;
        Incidence {
            forward: Incidence::lists(self.forward.offsets.len().saturating_sub(1), &e.src, &e.dst),
            reverse: Incidence::lists(self.reverse.offsets.len().saturating_sub(1), &e.dst, &e.src),
        }
    }

    /// The columns `props` of every edge, indexed by its position in the edge list (the
    /// edge variable's ids, see `incidence`).
    pub async fn property_columns(&self, props: &[String]) -> Result<Vec<ArrayRef>> {
        let mut scanner = self.dataset.scan();
        scanner.project(props)?;
        scanner.with_row_address();
        let batches: Vec<RecordBatch> = scanner.try_into_stream().await?.try_collect().await?;
        let addr = &self.edges.addr;
        let mut rows: Vec<Option<u32>> = vec![None; addr.len()];
        let mut row = 0u32;
        for batch in &batches {
            let addrs = batch
                .column_by_name(ROW_ADDR)
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))?;
            for a in addrs.values().iter() {
                if let Ok(pos) = addr.binary_search(a) {
                    rows[pos] = Some(row);
                }
                row += 1;
            }
        }
        let take = UInt32Array::from(rows);
        let schema = arrow::datatypes::Schema::from(self.dataset.schema());
        let mut out = vec![];
        for prop in props {
            let parts: Vec<&dyn Array> = batches
                .iter()
                .filter_map(|b| b.column_by_name(prop).map(|c| c.as_ref()))
                .collect();
            let all = if parts.is_empty() {
                let field = schema.field_with_name(prop).map_err(|e| {
                    EngineError::Corrupt(format!("edge column {prop} is missing: {e}"))
                })?;
                arrow::array::new_empty_array(field.data_type())
            } else {
                arrow::compute::concat(&parts)?
            };
            out.push(arrow::compute::take(all.as_ref(), &take, None)?);
        }
        Ok(out)
    }

    pub fn approx_bytes(&self) -> u64 {
        let csr = |c: &Csr| c.offsets.len() * 8 + c.targets.len() * 4;
        (csr(&self.forward) + csr(&self.reverse) + self.edges.addr.len() * 16) as u64
    }
}

fn sort_by_address(edges: &mut EdgeList) {
    if edges.addr.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut idx: Vec<usize> = (0..edges.addr.len()).collect();
    idx.sort_unstable_by_key(|i| edges.addr[*i]);
    edges.addr = idx.iter().map(|i| edges.addr[*i]).collect();
    edges.src = idx.iter().map(|i| edges.src[*i]).collect();
    edges.dst = idx.iter().map(|i| edges.dst[*i]).collect();
}

/// Resolve endpoint keys to ids on every core.
fn resolve_parallel(
    batches: &[RecordBatch],
    src: &NodeData,
    dst: &NodeData,
) -> Result<(EdgeList, usize)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let per_thread = batches.len().div_ceil(threads).max(1);
    let parts: Vec<Result<(EdgeList, usize)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = batches
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || resolve(chunk, src, dst)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::Corrupt("adjacency worker panicked".into()))
                })
            })
            .collect()
    });
    let mut all = EdgeList::default();
    let mut dangling = 0;
    for part in parts {
        let (list, d) = part?;
        all.addr.extend(list.addr);
        all.src.extend(list.src);
        all.dst.extend(list.dst);
        dangling += d;
    }
    Ok((all, dangling))
}

/// Edges of `batches` whose endpoints both exist; writers refuse dangling endpoints, so
/// skipping only ever drops rows of a damaged table (counted).
fn resolve(batches: &[RecordBatch], src: &NodeData, dst: &NodeData) -> Result<(EdgeList, usize)> {
    let mut list = EdgeList::default();
    let mut dangling = 0;
    for batch in batches {
        let s = src.lookup_all(batch.column(0).as_ref());
        let d = dst.lookup_all(batch.column(1).as_ref());
        let addrs = batch
            .column_by_name(ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))?;
        for ((a, b), addr) in s.into_iter().zip(d).zip(addrs.values().iter()) {
            if a == u32::MAX || b == u32::MAX {
                dangling += 1;
                continue;
            }
            list.addr.push(*addr);
            list.src.push(a);
            list.dst.push(b);
        }
    }
    Ok((list, dangling))
}
