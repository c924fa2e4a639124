//! In-memory query data of one table version: node keys interned to dense ids, property
//! columns loaded on first use, and edge tables as CSR adjacency (forward and reverse).
//!
//! Node ids are the ranks of the keys in key order, so scanning ids in order enumerates
//! nodes in key order, neighbour lists (sorted by id) are in key order too, and comparing
//! two ids of one type compares their keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::*;
use arrow::compute::{concat, sort_to_indices, take};
use futures::TryStreamExt;
use lance::Dataset;
use arrow::datatypes::SchemaRef;
use omnigraph_lang::{EdgeType, NodeType};

use super::cache::{table_data_cache, CachedTable};
use super::value::Scalar;
use crate::columns::{node_schema, DST_COLUMN, SRC_COLUMN};
use crate::error::{EngineError, Result};
use crate::graph::Snapshot;
use crate::table::scan_columns;
use crate::table_key::TableKey;

/// Key value -> node id.
enum KeyIndex {
    Str(HashMap<Box<str>, u32>),
    Int(HashMap<i64, u32>),
    UInt(HashMap<u64, u32>),
}

pub struct NodeData {
    pub type_name: String,
    schema: SchemaRef,
    /// The key column, in id order.
    keys: ArrayRef,
    index: KeyIndex,
    /// Scan position of each id, to put lazily loaded columns in id order.
    id_to_pos: UInt32Array,
    dataset: Arc<Dataset>,
    /// Property columns loaded so far, in id order.
    columns: Mutex<HashMap<String, ArrayRef>>,
}

impl NodeData {
    async fn build(node: &NodeType, dataset: Arc<Dataset>) -> Result<NodeData> {
        let schema = node_schema(node);
        let raw = scan_one_column(&dataset, &schema, &node.key).await?;
        let id_to_pos = sort_to_indices(&raw, None, None)?;
        let keys = take(&raw, &id_to_pos, None)?;
        let index = build_key_index(&keys)?;
        Ok(NodeData {
            type_name: node.name.clone(),
            schema,
            keys,
            index,
            id_to_pos,
            dataset,
            columns: Mutex::new(HashMap::new()),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &ArrayRef {
        &self.keys
    }

    /// The id of the node whose key is `key`.
    pub fn lookup(&self, key: &Scalar) -> Option<u32> {
        match (&self.index, key) {
            (KeyIndex::Str(m), Scalar::Str(s)) => m.get(s.as_str()).copied(),
            (KeyIndex::Int(m), Scalar::Int(i)) => m.get(i).copied(),
            (KeyIndex::Int(m), Scalar::UInt(u)) => i64::try_from(*u).ok().and_then(|i| m.get(&i).copied()),
            (KeyIndex::UInt(m), Scalar::UInt(u)) => m.get(u).copied(),
            (KeyIndex::UInt(m), Scalar::Int(i)) => u64::try_from(*i).ok().and_then(|u| m.get(&u).copied()),
            _ => None,
        }
    }

    /// The id of the node whose key is in `array[row]` (an edge endpoint column).
    fn lookup_cell(&self, array: &dyn Array, row: usize) -> Option<u32> {
        if array.is_null(row) {
            return None;
        }
        let any = array.as_any();
        match &self.index {
            KeyIndex::Str(m) => any.downcast_ref::<StringArray>().and_then(|a| m.get(a.value(row)).copied()),
            _ => self.lookup(&Scalar::from_array(array, row)),
        }
    }

    /// A property column already loaded by `load_column`, in id order.
    pub fn column(&self, name: &str) -> Option<ArrayRef> {
        self.columns.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Load a property column (once per table version).
    pub async fn load_column(&self, name: &str) -> Result<ArrayRef> {
        if let Some(c) = self.column(name) {
            return Ok(c);
        }
        let raw = scan_one_column(&self.dataset, &self.schema, name).await?;
        if raw.len() != self.len() {
            return Err(EngineError::Corrupt(format!(
                "{}: column {name} has {} rows, keys have {}",
                self.type_name,
                raw.len(),
                self.len()
            )));
        }
        let ordered = take(&raw, &self.id_to_pos, None)?;
        let mut columns = self.columns.lock().unwrap_or_else(|p| p.into_inner());
        Ok(columns.entry(name.to_string()).or_insert(ordered).clone())
    }

    pub fn approx_bytes(&self) -> u64 {
        let columns: usize = self
            .columns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|c| c.get_array_memory_size())
            .sum();
        // A hash entry costs roughly its key, its id and the table's overhead.
        let index = self.len() * 48;
        (self.keys.get_array_memory_size() * 2 + index + self.id_to_pos.get_array_memory_size() + columns) as u64
    }
}

fn build_key_index(keys: &ArrayRef) -> Result<KeyIndex> {
    let n = keys.len();
    let any = keys.as_any();
    macro_rules! ints {
        ($t:ty, $variant:ident, $conv:expr) => {
            if let Some(a) = any.downcast_ref::<$t>() {
                let mut m = HashMap::with_capacity(n);
                for i in 0..n {
                    m.insert($conv(a.value(i)), i as u32);
                }
                return Ok(KeyIndex::$variant(m));
            }
        };
    }
    if let Some(a) = any.downcast_ref::<StringArray>() {
        let mut m = HashMap::with_capacity(n);
        for i in 0..n {
            m.insert(Box::from(a.value(i)), i as u32);
        }
        return Ok(KeyIndex::Str(m));
    }
    ints!(Int32Array, Int, i64::from);
    ints!(Int64Array, Int, |v| v);
    ints!(UInt32Array, UInt, u64::from);
    ints!(UInt64Array, UInt, |v| v);
    Err(EngineError::Corrupt(format!("unsupported key column type {}", keys.data_type())))
}

/// One column of a whole table version, in scan order.
async fn scan_one_column(dataset: &Dataset, schema: &SchemaRef, name: &str) -> Result<ArrayRef> {
    let batches = scan_columns(dataset, &[name], false).await?;
    let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
    if arrays.is_empty() {
        return Ok(new_empty_array(schema.field_with_name(name)?.data_type()));
    }
    Ok(concat(&arrays)?)
}

/// Compressed sparse rows: the neighbours of id `i` are `targets[offsets[i]..offsets[i+1]]`,
/// sorted by id. Parallel edges appear once each (join semantics).
pub struct Csr {
    offsets: Vec<usize>,
    targets: Vec<u32>,
}

impl Csr {
    fn build(nodes: usize, pairs: &[(u32, u32)]) -> Csr {
        let mut offsets = vec![0usize; nodes + 1];
        for (s, _) in pairs {
            offsets[*s as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; pairs.len()];
        for (s, d) in pairs {
            targets[fill[*s as usize]] = *d;
            fill[*s as usize] += 1;
        }
        for i in 0..nodes {
            targets[offsets[i]..offsets[i + 1]].sort_unstable();
        }
        Csr { offsets, targets }
    }

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

pub struct EdgeData {
    pub forward: Csr,
    pub reverse: Csr,
}

impl EdgeData {
    async fn build(dataset: &Dataset, src: &NodeData, dst: &NodeData) -> Result<EdgeData> {
        let mut scanner = dataset.scan();
        scanner.project(&[SRC_COLUMN, DST_COLUMN])?;
        let mut stream = scanner.try_into_stream().await?;
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        while let Some(batch) = stream.try_next().await? {
            let (s, d) = (batch.column(0), batch.column(1));
            pairs.reserve(batch.num_rows());
            for row in 0..batch.num_rows() {
                // An endpoint missing from its node table cannot be traversed; writers refuse
                // to create one, so this only skips rows of a damaged table.
                if let (Some(a), Some(b)) = (src.lookup_cell(s.as_ref(), row), dst.lookup_cell(d.as_ref(), row)) {
                    pairs.push((a, b));
                }
            }
        }
        let forward = Csr::build(src.len(), &pairs);
        let reversed: Vec<(u32, u32)> = pairs.iter().map(|(a, b)| (*b, *a)).collect();
        drop(pairs);
        let reverse = Csr::build(dst.len(), &reversed);
        Ok(EdgeData { forward, reverse })
    }

    pub fn approx_bytes(&self) -> u64 {
        let csr = |c: &Csr| c.offsets.len() * 8 + c.targets.len() * 4;
        (csr(&self.forward) + csr(&self.reverse)) as u64
    }
}

fn table_cache_key(snap: &Snapshot, key: &TableKey) -> Result<String> {
    let entry = snap.entry(key)?;
    Ok(format!("{}@{}", snap.graph().location().child_uri(&entry.path), entry.version))
}

/// The query data of node type `type_name` at the snapshot's version.
pub async fn node_data(snap: &Snapshot, type_name: &str) -> Result<Arc<NodeData>> {
    let node = snap
        .catalog
        .node(type_name)
        .ok_or_else(|| EngineError::Invalid(format!("unknown node type `{type_name}`")))?;
    let tk = TableKey::node(type_name);
    let cache_key = format!("node|{}", table_cache_key(snap, &tk)?);
    let entry = table_data_cache()
        .get_or_build(cache_key, || async {
            let ds = snap.table(&tk).await?;
            let data = NodeData::build(node, ds).await?;
            Ok(CachedTable::Node(Arc::new(data)))
        })
        .await?;
    match entry {
        CachedTable::Node(n) => Ok(n),
        CachedTable::Edge(_) => Err(EngineError::Corrupt("node cache entry holds an edge table".into())),
    }
}

/// The adjacency of edge type `edge` at the snapshot's version, with ids of its endpoint
/// node tables at the same version.
pub async fn edge_data(snap: &Snapshot, edge: &EdgeType, src: &NodeData, dst: &NodeData) -> Result<Arc<EdgeData>> {
    let tk = TableKey::edge(&edge.name);
    let cache_key = format!(
        "edge|{}|{}|{}",
        table_cache_key(snap, &tk)?,
        table_cache_key(snap, &TableKey::node(&edge.from))?,
        table_cache_key(snap, &TableKey::node(&edge.to))?
    );
    let entry = table_data_cache()
        .get_or_build(cache_key, || async {
            let ds = snap.table(&tk).await?;
            Ok(CachedTable::Edge(Arc::new(EdgeData::build(&ds, src, dst).await?)))
        })
        .await?;
    match entry {
        CachedTable::Edge(e) => Ok(e),
        CachedTable::Node(_) => Err(EngineError::Corrupt("edge cache entry holds a node table".into())),
    }
}
