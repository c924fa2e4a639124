//! In-memory query data of one node table version: keys interned to dense ids, enumeration
//! in key order, lazily loaded property columns.
//!
//! Ids belong to a *lineage*: a version patched from an older one keeps the older one's ids
//! (a key keeps its id for the life of the lineage, even across update = delete + append, and
//! new keys get new ids at the end). So adjacency built against any version of the lineage
//! stays valid, and a write costs the next read a patch, not a rebuild.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use arrow::array::{make_comparator, new_null_array, Array, ArrayRef, StringArray, UInt32Array};
use arrow::compute::{concat, interleave, sort_to_indices, take, SortOptions};
use arrow::datatypes::SchemaRef;
use lance::Dataset;
use omnigraph_lang::NodeType;
use rustc_hash::FxHashMap;

use super::delta::{scan_fragments, scan_with_addresses, TableDelta};
use super::value::Scalar;
use crate::columns::node_schema;
use crate::error::{EngineError, Result};

static NEXT_LINEAGE: AtomicU64 = AtomicU64::new(1);

/// Key value -> node id.
#[derive(Clone)]
enum KeyMap {
    Str(FxHashMap<Box<str>, u32>),
    Int(FxHashMap<i64, u32>),
    UInt(FxHashMap<u64, u32>),
}

impl KeyMap {
    fn empty_like(&self) -> KeyMap {
        match self {
            KeyMap::Str(_) => KeyMap::Str(FxHashMap::default()),
            KeyMap::Int(_) => KeyMap::Int(FxHashMap::default()),
            KeyMap::UInt(_) => KeyMap::UInt(FxHashMap::default()),
        }
    }

    fn len(&self) -> usize {
        match self {
            KeyMap::Str(m) => m.len(),
            KeyMap::Int(m) => m.len(),
            KeyMap::UInt(m) => m.len(),
        }
    }

    fn get(&self, key: &Scalar) -> Option<u32> {
        match (self, key) {
            (KeyMap::Str(m), Scalar::Str(s)) => m.get(s.as_str()).copied(),
            (KeyMap::Int(m), Scalar::Int(i)) => m.get(i).copied(),
            (KeyMap::Int(m), Scalar::UInt(u)) => {
                i64::try_from(*u).ok().and_then(|i| m.get(&i).copied())
            }
            (KeyMap::UInt(m), Scalar::UInt(u)) => m.get(u).copied(),
            (KeyMap::UInt(m), Scalar::Int(i)) => {
                u64::try_from(*i).ok().and_then(|u| m.get(&u).copied())
            }
            _ => None,
        }
    }

    fn get_str(&self, s: &str) -> Option<u32> {
        match self {
            KeyMap::Str(m) => m.get(s).copied(),
            _ => None,
        }
    }

    /// Add the keys `keys[rows]` with ids `first_id..`.
    fn insert_all(&mut self, keys: &dyn Array, rows: impl Iterator<Item = (usize, u32)>) {
        for (row, id) in rows {
            match (&mut *self, Scalar::from_array(keys, row)) {
                (KeyMap::Str(m), Scalar::Str(s)) => {
                    m.insert(s.into_boxed_str(), id);
                }
                (KeyMap::Int(m), Scalar::Int(i)) => {
                    m.insert(i, id);
                }
                (KeyMap::UInt(m), Scalar::UInt(u)) => {
                    m.insert(u, id);
                }
                _ => {}
            }
        }
    }

    fn of(keys: &dyn Array) -> Result<KeyMap> {
        let n = keys.len();
        let mut map = match keys.data_type() {
            arrow::datatypes::DataType::Utf8 => {
                if let Some(a) = keys.as_any().downcast_ref::<StringArray>() {
                    let mut m = FxHashMap::with_capacity_and_hasher(n, Default::default());
                    for i in 0..n {
                        m.insert(Box::from(a.value(i)), i as u32);
                    }
                    return Ok(KeyMap::Str(m));
                }
                KeyMap::Str(FxHashMap::default())
            }
            arrow::datatypes::DataType::Int32 | arrow::datatypes::DataType::Int64 => {
                KeyMap::Int(FxHashMap::default())
            }
            arrow::datatypes::DataType::UInt32 | arrow::datatypes::DataType::UInt64 => {
                KeyMap::UInt(FxHashMap::default())
            }
            other => {
                return Err(EngineError::Corrupt(format!(
                    "unsupported key column type {other}"
                )))
            }
        };
        map.insert_all(keys, (0..n).map(|i| (i, i as u32)));
        Ok(map)
    }
}

/// Keys added since the base map was built are looked up in a small second map, so a patch
/// costs the size of the change, not of the table.
#[derive(Clone)]
struct KeyIndex {
    base: Arc<KeyMap>,
    added: Arc<KeyMap>,
}

impl KeyIndex {
    fn get(&self, key: &Scalar) -> Option<u32> {
        self.added.get(key).or_else(|| self.base.get(key))
    }
}

pub struct NodeData {
    pub type_name: String,
    pub lineage: u64,
    /// Lance version this data describes.
    pub version: u64,
    schema: SchemaRef,
    dataset: Arc<Dataset>,
    /// Key per id; a deleted node keeps its key (and id) in case it comes back.
    keys: ArrayRef,
    alive: Vec<bool>,
    index: KeyIndex,
    /// (row address, id) of live nodes, by address.
    by_addr: Vec<(u64, u32)>,
    /// Row address per id (`u64::MAX` for deleted ids).
    addr_of: Vec<u64>,
    /// Live ids in key order, and each id's position in it.
    order: Vec<u32>,
    rank: Vec<u32>,
    /// Property columns loaded so far, indexed by id.
    columns: Mutex<HashMap<String, ArrayRef>>,
    /// Set on the data of one query's pushed-down scan: only the rows passing this Lance
    /// filter have ids, and columns are loaded for those rows only. Never cached.
    filter: Option<String>,
}

impl NodeData {
    /// Build from scratch: ids are the ranks of the keys, starting a new lineage.
    pub async fn build(node: &NodeType, dataset: Arc<Dataset>) -> Result<NodeData> {
        Self::build_with_filter(node, dataset, None).await
    }

    /// The data of only the rows passing `filter` (a Lance SQL predicate, answered from the
    /// table's scalar indexes where it names indexed columns): what one query needs when
    /// nothing is cached for the version. Its ids are private to it: never cache it.
    pub async fn build_filtered(
        node: &NodeType,
        dataset: Arc<Dataset>,
        filter: String,
    ) -> Result<NodeData> {
        Self::build_with_filter(node, dataset, Some(filter)).await
    }

    async fn build_with_filter(
        node: &NodeType,
        dataset: Arc<Dataset>,
        filter: Option<String>,
    ) -> Result<NodeData> {
        let schema = node_schema(node);
        let (parts, addrs) = scan_with_addresses(&dataset, &node.key, filter.as_deref()).await?;
        let raw = concat_parts(&parts, &schema, &node.key)?;
        let by_rank = sort_to_indices(&raw, None, None)?;
        let keys = take(&raw, &by_rank, None)?;
        let addr_of: Vec<u64> = by_rank
            .values()
            .iter()
            .map(|pos| addrs[*pos as usize])
            .collect();
        let mut by_addr: Vec<(u64, u32)> = addr_of
            .iter()
            .enumerate()
            .map(|(id, a)| (*a, id as u32))
            .collect();
        by_addr.sort_unstable();
        let n = keys.len() as u32;
        let map = KeyMap::of(keys.as_ref())?;
        Ok(NodeData {
            type_name: node.name.clone(),
            lineage: NEXT_LINEAGE.fetch_add(1, AtomicOrdering::Relaxed),
            version: dataset.version().version,
            schema,
            index: KeyIndex {
                added: Arc::new(map.empty_like()),
                base: Arc::new(map),
            },
            alive: vec![true; n as usize],
            order: (0..n).collect(),
            rank: (0..n).collect(),
            by_addr,
            addr_of,
            keys,
            dataset,
            columns: Mutex::new(HashMap::new()),
            filter,
        })
    }

    /// The data of `dataset` (a later version of the parent's table) from the parent and the
    /// delta between them; None when the change is too large or not a plain delta.
    pub async fn patch(
        parent: &NodeData,
        node: &NodeType,
        dataset: Arc<Dataset>,
        delta: &TableDelta,
    ) -> Result<Option<NodeData>> {
        if (delta.appended_rows() + delta.deleted.len()) * 4 > parent.alive_count().max(1024) {
            return Ok(None);
        }
        let mut alive = parent.alive.clone();
        let deleted = parent.deleted_ids(delta);
        for id in &deleted {
            alive[*id as usize] = false;
        }
        let loaded: Vec<String> = parent
            .columns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut wanted: Vec<&str> = vec![node.key.as_str()];
        wanted.extend(loaded.iter().map(String::as_str));
        let (values, addrs) = scan_fragments(&dataset, &delta.appended, &wanted).await?;
        // Each appended row revives its key's id or gets a new one.
        let mut changed: Vec<(u32, usize)> = vec![];
        let mut fresh_rows = vec![];
        let next_id = parent.keys.len() as u32;
        if let Some(new_keys) = values.first() {
            for row in 0..new_keys.len() {
                match parent
                    .index
                    .get(&Scalar::from_array(new_keys.as_ref(), row))
                {
                    Some(id) if alive[id as usize] => return Ok(None),
                    Some(id) => {
                        alive[id as usize] = true;
                        changed.push((id, row));
                    }
                    None => {
                        changed.push((next_id + fresh_rows.len() as u32, row));
                        fresh_rows.push(row);
                    }
                }
            }
        }
        alive.resize(next_id as usize + fresh_rows.len(), true);
        let keys = match values.first() {
            Some(new_keys) if !fresh_rows.is_empty() => {
                let fresh = take(
                    new_keys,
                    &UInt32Array::from_iter_values(fresh_rows.iter().map(|r| *r as u32)),
                    None,
                )?;
                concat(&[parent.keys.as_ref(), fresh.as_ref()])?
            }
            _ => parent.keys.clone(),
        };
        let index = parent.patched_index(&keys, next_id)?;
        let mut by_addr: Vec<(u64, u32)> = parent
            .by_addr
            .iter()
            .filter(|(_, id)| !deleted.contains(id))
            .copied()
            .collect();
        let mut appended: Vec<(u64, u32)> =
            changed.iter().map(|(id, row)| (addrs[*row], *id)).collect();
        appended.sort_unstable();
        let mut addr_of = parent.addr_of.clone();
        addr_of.resize(keys.len(), u64::MAX);
        for id in &deleted {
            addr_of[*id as usize] = u64::MAX;
        }
        for (addr, id) in &appended {
            addr_of[*id as usize] = *addr;
        }
        by_addr.extend(appended);
        let (order, rank) = merged_order(parent, &keys, &alive, &changed)?;
        let mut columns = HashMap::new();
        for (i, name) in loaded.iter().enumerate() {
            if let (Some(old), Some(new)) = (parent.column(name), values.get(i + 1)) {
                columns.insert(
                    name.clone(),
                    patched_column(&old, new, &changed, keys.len())?,
                );
            }
        }
        Ok(Some(NodeData {
            type_name: parent.type_name.clone(),
            lineage: parent.lineage,
            version: dataset.version().version,
            schema: parent.schema.clone(),
            dataset,
            keys,
            alive,
            index,
            by_addr,
            addr_of,
            order,
            rank,
            columns: Mutex::new(columns),
            filter: None,
        }))
    }

    /// Ids of live nodes whose rows the delta deletes.
    fn deleted_ids(&self, delta: &TableDelta) -> std::collections::HashSet<u32> {
        let mut ids = std::collections::HashSet::new();
        for frag in &delta.removed_fragments {
            let start = self.by_addr.partition_point(|(a, _)| (a >> 32) < *frag);
            ids.extend(
                self.by_addr[start..]
                    .iter()
                    .take_while(|(a, _)| (a >> 32) == *frag)
                    .map(|(_, id)| *id),
            );
        }
        for addr in &delta.deleted {
            if let Ok(i) = self.by_addr.binary_search_by_key(addr, |(a, _)| *a) {
                ids.insert(self.by_addr[i].1);
            }
        }
        ids
    }

    /// The parent's index plus the ids `next_id..` of `keys`; folded into a new base map once
    /// the added part grows large.
    fn patched_index(&self, keys: &ArrayRef, next_id: u32) -> Result<KeyIndex> {
        let total = keys.len() as u32;
        if total == next_id {
            return Ok(self.index.clone());
        }
        if self.index.added.len() + (total - next_id) as usize
            > (self.index.base.len() / 4).max(10_000)
        {
            let map = KeyMap::of(keys.as_ref())?;
            return Ok(KeyIndex {
                added: Arc::new(map.empty_like()),
                base: Arc::new(map),
            });
        }
        let mut added = (*self.index.added).clone();
        added.insert_all(keys.as_ref(), (next_id..total).map(|id| (id as usize, id)));
        Ok(KeyIndex {
            base: self.index.base.clone(),
            added: Arc::new(added),
        })
    }

    /// The table version this data describes.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// Number of live nodes.
    pub fn alive_count(&self) -> usize {
        self.order.len()
    }

    /// Size of the id space (live and deleted ids).
    pub fn id_count(&self) -> usize {
        self.keys.len()
    }

    pub fn is_alive(&self, id: u32) -> bool {
        self.alive.get(id as usize).copied().unwrap_or(false)
    }

    /// Live ids in key order.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Position of a live id in key order (comparing ranks compares keys).
    pub fn rank(&self, id: u32) -> u32 {
        self.rank.get(id as usize).copied().unwrap_or(u32::MAX)
    }

    pub fn keys(&self) -> &ArrayRef {
        &self.keys
    }

    /// The id of the live node whose key is `key`.
    pub fn lookup(&self, key: &Scalar) -> Option<u32> {
        self.index.get(key).filter(|id| self.is_alive(*id))
    }

    /// The row address of the live node whose key is `key`.
    pub fn row_address(&self, key: &Scalar) -> Option<u64> {
        self.lookup(key)
            .and_then(|id| self.addr_of.get(id as usize).copied())
    }

    /// Ids of the live nodes whose keys are in `array`; `u32::MAX` where none.
    pub fn lookup_all(&self, array: &dyn Array) -> Vec<u32> {
        let missing = u32::MAX;
        let alive = |id: Option<u32>| id.filter(|i| self.is_alive(*i)).unwrap_or(missing);
        match array.as_any().downcast_ref::<StringArray>() {
            Some(a) => (0..a.len())
                .map(|row| {
                    if a.is_null(row) {
                        return missing;
                    }
                    let s = a.value(row);
                    alive(
                        self.index
                            .added
                            .get_str(s)
                            .or_else(|| self.index.base.get_str(s)),
                    )
                })
                .collect(),
            None => (0..array.len())
                .map(|row| alive(self.index.get(&Scalar::from_array(array, row))))
                .collect(),
        }
    }

    /// A property column already loaded, indexed by id.
    pub fn column(&self, name: &str) -> Option<ArrayRef> {
        self.columns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Load a property column (once per table version; patched versions inherit it).
    pub async fn load_column(&self, name: &str) -> Result<ArrayRef> {
        if let Some(c) = self.column(name) {
            return Ok(c);
        }
        let (parts, addrs) =
            scan_with_addresses(&self.dataset, name, self.filter.as_deref()).await?;
        let raw = concat_parts(&parts, &self.schema, name)?;
        let mut position: Vec<Option<u32>> = vec![None; self.id_count()];
        for (pos, addr) in addrs.iter().enumerate() {
            match self.by_addr.binary_search_by_key(addr, |(a, _)| *a) {
                Ok(i) => position[self.by_addr[i].1 as usize] = Some(pos as u32),
                Err(_) => {
                    return Err(EngineError::Corrupt(format!(
                        "{}: row {addr:#x} has no node id",
                        self.type_name
                    )));
                }
            }
        }
        let ordered = take(&raw, &UInt32Array::from(position), None)?;
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
        // Hash entries cost roughly their key, id and overhead; the base map may be shared.
        let index = (self.index.base.len() + self.index.added.len()) * 48;
        let ids = self.id_count() * (1 + 4 + 4 + 8) + self.by_addr.len() * 16;
        (self.keys.get_array_memory_size() + index + ids + columns) as u64
    }
}

fn concat_parts(parts: &[ArrayRef], schema: &SchemaRef, name: &str) -> Result<ArrayRef> {
    if parts.is_empty() {
        return Ok(arrow::array::new_empty_array(
            schema.field_with_name(name)?.data_type(),
        ));
    }
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    Ok(concat(&refs)?)
}

/// Key order after a patch: the parent's order without ids that died or changed, merged with
/// the changed ids sorted by key.
fn merged_order(
    parent: &NodeData,
    keys: &ArrayRef,
    alive: &[bool],
    changed: &[(u32, usize)],
) -> Result<(Vec<u32>, Vec<u32>)> {
    let cmp = make_comparator(keys.as_ref(), keys.as_ref(), SortOptions::default())?;
    let moved: std::collections::HashSet<u32> = changed.iter().map(|(id, _)| *id).collect();
    let mut inserted: Vec<u32> = moved.iter().copied().collect();
    inserted.sort_unstable_by(|a, b| cmp(*a as usize, *b as usize));
    let kept = parent
        .order
        .iter()
        .copied()
        .filter(|id| alive[*id as usize] && !moved.contains(id));
    let mut order = Vec::with_capacity(parent.order.len() + inserted.len());
    let mut ins = inserted.into_iter().peekable();
    for id in kept {
        while let Some(next) = ins.next_if(|n| cmp(*n as usize, id as usize).is_lt()) {
            order.push(next);
        }
        order.push(id);
    }
    order.extend(ins);
    let mut rank = vec![u32::MAX; keys.len()];
    for (pos, id) in order.iter().enumerate() {
        rank[*id as usize] = pos as u32;
    }
    Ok((order, rank))
}

/// A loaded column after a patch: the parent's values, with changed ids taking the values of
/// their appended rows.
fn patched_column(
    old: &ArrayRef,
    new: &ArrayRef,
    changed: &[(u32, usize)],
    ids: usize,
) -> Result<ArrayRef> {
    let nulls = new_null_array(old.data_type(), 1);
    let mut source: Vec<(usize, usize)> = (0..ids)
        .map(|id| if id < old.len() { (0, id) } else { (2, 0) })
        .collect();
    for (id, row) in changed {
        source[*id as usize] = (1, *row);
    }
    Ok(interleave(
        &[old.as_ref(), new.as_ref(), nulls.as_ref()],
        &source,
    )?)
}
