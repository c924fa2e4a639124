//! Merging one branch into another.
//!
//! The common ancestor (merge base) of the two heads decides the kind of merge:
//! - the source head is an ancestor of the target: already up to date, nothing written;
//! - the target head is the base: fast-forward, one new target version naming the
//!   source's table versions (no data read or written, whatever the graph's size);
//! - otherwise three-way: a table changed on one side only is taken from that side as
//!   it is (again no rows read); a table changed on both sides is merged row by row
//!   against the base (rows are identified by node key, edges by their endpoints). Only
//!   the Lance fragments that differ between the three versions are read: a fragment
//!   with the same files and deletions in all three holds the same rows in all three,
//!   and such rows change nothing. A row changed on both sides in different ways is a
//!   conflict; so is a merged graph that breaks an edge endpoint, `@unique`, `@card` or a
//!   value constraint (checked where the merge can have broken them: tables taken whole,
//!   rows it adds, node keys it removes). Any conflict fails the whole merge; nothing is
//!   written.
//!
//! A merge publishes one target version with two parents (the target head, then the
//! source head), so the next merge of the same branches finds a newer base. It is
//! checked against every table of the target: a target that moved meanwhile fails the
//! publish with a manifest conflict, and the caller merges again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::row::{RowConverter, Rows, SortField};
use arrow_schema::SchemaRef;
use omnigraph_lang::catalog::Catalog;
use serde::Serialize;

use crate::columns::{cell_json, cell_key_text, DST_COLUMN, SRC_COLUMN};
use crate::constraints::RowRules;
pub use crate::error::{ConflictKind, MergeConflict};
use crate::error::{EngineError, Result};
use crate::graph::{Change, Graph, SchemaChange, Snapshot};
use crate::manifest::TableEntry;
use crate::staged_table::StagedTable;
use crate::table::{scan_columns, scan_fragments, ROW_ADDR};
use crate::table_key::{TableKey, TableKind};

/// Whether two schemas have the same tables with the same columns (types, properties,
/// their types and nullability, keys, endpoints): they differ at most in rules.
fn same_layout(a: &Catalog, b: &Catalog) -> bool {
    let props = |ps: &[omnigraph_lang::Property]| -> Vec<(String, omnigraph_lang::PropType, bool)> {
        ps.iter()
            .map(|p| (p.name.clone(), p.ty.clone(), p.nullable))
            .collect()
    };
    a.nodes.len() == b.nodes.len()
        && a.edges.len() == b.edges.len()
        && a.nodes.iter().all(|n| {
            b.node(&n.name)
                .is_some_and(|m| m.key == n.key && props(&m.properties) == props(&n.properties))
        })
        && a.edges.iter().all(|e| {
            b.edge(&e.name).is_some_and(|f| {
                f.from == e.from && f.to == e.to && props(&f.properties) == props(&e.properties)
            })
        })
}

/// Conflicts reported by one failed merge, at most.
const MAX_CONFLICTS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeOutcome {
    UpToDate,
    FastForward,
    Merged,
}

impl MergeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeOutcome::UpToDate => "up_to_date",
            MergeOutcome::FastForward => "fast_forward",
            MergeOutcome::Merged => "merged",
        }
    }
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    pub outcome: MergeOutcome,
    /// The target head after the merge (unchanged when up to date).
    pub commit_id: String,
    pub manifest_version: u64,
    /// The common ancestor the merge was computed against.
    pub base_commit: String,
    /// Tables whose version in the target changed.
    pub tables_changed: Vec<String>,
    /// Rows taken from the source in tables merged row by row (deleted + written).
    pub rows_merged: u64,
}

impl Graph {
    /// Merge branch `source` into branch `target` (see the module docs).
    pub async fn merge(
        self: &Arc<Self>,
        source: &str,
        target: &str,
        actor: &str,
    ) -> Result<MergeReport> {
        if source == target {
            return Err(EngineError::Invalid(format!(
                "cannot merge branch {source} into itself"
            )));
        }
        let theirs = self.snapshot_on(source, None).await?;
        let graph = self.clone();
        let (manifest, (outcome, base_commit, rows_merged, chain, changed)) = self
            .write_on(target, actor, |ours| async move {
                graph.plan_merge(&theirs, ours).await
            })
            .await?;
        Ok(MergeReport {
            outcome,
            commit_id: crate::branch::manifest_commit_id(&chain, &manifest),
            manifest_version: manifest.version,
            base_commit,
            tables_changed: changed,
            rows_merged,
        })
    }

    /// The change that merges `theirs` into `ours` (the target head).
    async fn plan_merge(
        self: &Arc<Self>,
        theirs: &Snapshot,
        ours: Snapshot,
    ) -> Result<(Change, (MergeOutcome, String, u64, String, Vec<String>))> {
        let ours_id = ours.commit_id();
        let theirs_id = theirs.commit_id();
        let base_id = self
            .merge_base(&ours_id, &theirs_id)
            .await?
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "branches {} and {} have no common history",
                    theirs.branch, ours.branch
                ))
            })?;
        let chain = ours.chain.clone();
        let mut change = Change::new();
        if base_id == theirs_id {
            return Ok((change, (MergeOutcome::UpToDate, base_id, 0, chain, vec![])));
        }
        // Checked against every table: a target that moved meanwhile is a conflict.
        change.read_deps = ours
            .manifest
            .tables
            .keys()
            .filter_map(|k| TableKey::parse(k))
            .collect();
        change.merged_from = Some(theirs_id.clone());
        if base_id == ours_id {
            if theirs.manifest.schema_source != ours.manifest.schema_source {
                // The source migrated its schema: the target takes it with every table.
                change.schema = Some(SchemaChange {
                    source: theirs.manifest.schema_source.clone(),
                    tables: theirs.manifest.tables.clone(),
                });
            }
            for (key, entry) in &theirs.manifest.tables {
                if ours.manifest.tables.get(key).map(same_version) != Some(same_version(entry)) {
                    change.adopted.insert(key.clone(), entry.clone());
                }
            }
            let changed = change.adopted.keys().cloned().collect();
            return Ok((
                change,
                (MergeOutcome::FastForward, base_id, 0, chain, changed),
            ));
        }
        let base = self.snapshot_at_commit(&base_id).await?;
        // Rows are merged under the target's schema. Three-way merges across a schema
        // change are possible only where the rows mean the same on both sides: the source
        // kept the schema of the common ancestor, and the target changed only its rules
        // (constraints, indexes), not a type or property. Then every row the source
        // brings is checked against the target's rules, even in tables the target left
        // alone.
        let rules_changed = theirs.manifest.schema_source != ours.manifest.schema_source
            || base.manifest.schema_source != ours.manifest.schema_source;
        if rules_changed
            && (theirs.manifest.schema_source != base.manifest.schema_source
                || !same_layout(&base.catalog, &ours.catalog))
        {
            return Err(EngineError::Invalid(format!(
                "branches {} and {} have different schemas since they parted; a three-way \
                 merge needs the source to keep the schema and the target to change only \
                 constraints or indexes: apply the same schema to both first",
                theirs.branch, ours.branch
            )));
        }
        let mut conflicts = vec![];
        let mut merged: BTreeMap<TableKey, RowChange> = BTreeMap::new();
        let mut rows_merged = 0;
        for (key_text, their_entry) in &theirs.manifest.tables {
            let Some(key) = TableKey::parse(key_text) else {
                continue;
            };
            let base_entry = base.manifest.tables.get(key_text).map(same_version);
            let our_entry = ours.manifest.tables.get(key_text).map(same_version);
            if base_entry == Some(same_version(their_entry))
                || our_entry == Some(same_version(their_entry))
            {
                continue; // unchanged on their side, or the same version on both
            }
            if base_entry == our_entry && !rules_changed {
                change.adopted.insert(key_text.clone(), their_entry.clone());
                continue;
            }
            let table = RowMerge::new(&ours.catalog, &key, &base, theirs, &ours).await?;
            let (staged, rows, n) = table.apply(&mut conflicts, &ours).await?;
            rows_merged += n;
            if n > 0 {
                merged.insert(key.clone(), rows);
            }
            if let Some(staged) = staged {
                change.staged.insert(key, staged);
            }
        }
        let view = MergedView {
            ours: &ours,
            theirs,
            adopted: &change.adopted,
            merged: &merged,
        };
        view.check(&ours.catalog, &mut conflicts).await?;
        if !conflicts.is_empty() {
            conflicts.truncate(MAX_CONFLICTS);
            return Err(EngineError::MergeConflicts(conflicts));
        }
        let mut changed: Vec<String> = change.adopted.keys().cloned().collect();
        changed.extend(change.staged.keys().map(|k| k.to_string()));
        changed.sort();
        Ok((
            change,
            (MergeOutcome::Merged, base_id, rows_merged, chain, changed),
        ))
    }

    /// The nearest common ancestor of two commits: both histories are walked breadth
    /// first, in turns, over every parent, until one reaches a commit the other has seen.
    pub async fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>> {
        if a == b {
            return Ok(Some(a.to_string()));
        }
        let mut seen = [HashSet::new(), HashSet::new()];
        let mut queues = [
            VecDeque::from([a.to_string()]),
            VecDeque::from([b.to_string()]),
        ];
        seen[0].insert(a.to_string());
        seen[1].insert(b.to_string());
        while !queues[0].is_empty() || !queues[1].is_empty() {
            for side in 0..2 {
                let Some(id) = queues[side].pop_front() else {
                    continue;
                };
                if seen[1 - side].contains(&id) {
                    return Ok(Some(id));
                }
                let (commit, _) = self.commit(&id).await?;
                for p in commit.parents {
                    if seen[1 - side].contains(&p) {
                        return Ok(Some(p));
                    }
                    if seen[side].insert(p.clone()) {
                        queues[side].push_back(p);
                    }
                }
            }
        }
        Ok(None)
    }
}

/// A table entry's identity: the same path and version is the same content.
fn same_version(e: &TableEntry) -> (String, u64) {
    (e.path.clone(), e.version)
}

/// One version of a table in memory: its rows, their identities, comparable row bytes.
struct TableRows {
    batch: RecordBatch,
    /// Row addresses (only read for the target's version).
    addrs: Option<UInt64Array>,
    /// Identity -> row indices (one for a node, one or more for an edge's endpoints).
    groups: HashMap<String, Vec<usize>>,
    rows: Rows,
}

impl TableRows {
    fn group(&self, id: &str) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = self
            .groups
            .get(id)
            .map(|ix| ix.iter().map(|&i| self.rows.row(i).data()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Rows of one table changed on both sides, merged against the base.
struct RowMerge {
    key: TableKey,
    schema: SchemaRef,
    base: TableRows,
    theirs: TableRows,
    ours: TableRows,
    /// Column of the identity (nodes), or none (edges: endpoints).
    key_column: Option<String>,
    rules: RowRules,
}

impl RowMerge {
    async fn new(
        catalog: &Catalog,
        key: &TableKey,
        base: &Snapshot,
        theirs: &Snapshot,
        ours: &Snapshot,
    ) -> Result<Self> {
        let (key_column, rules) = match key.kind {
            TableKind::Node => {
                let n = catalog
                    .node(&key.type_name)
                    .ok_or_else(|| EngineError::Corrupt(format!("no node type {key}")))?;
                (Some(n.key.clone()), RowRules::new(&n.ranges, &n.checks)?)
            }
            TableKind::Edge => {
                let e = catalog
                    .edge(&key.type_name)
                    .ok_or_else(|| EngineError::Corrupt(format!("no edge type {key}")))?;
                (None, RowRules::new(&e.ranges, &e.checks)?)
            }
        };
        let ds = ours.table(key).await?;
        let schema: SchemaRef = Arc::new(arrow_schema::Schema::from(ds.schema()));
        let converter = RowConverter::new(
            schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let datasets = [base.table(key).await?, theirs.table(key).await?, ds];
        let touched = touched_fragments(&datasets);
        let read = |ds: Arc<lance::Dataset>, with_addr: bool| {
            let (schema, converter, key_column, touched) =
                (&schema, &converter, &key_column, &touched);
            async move {
                let columns: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                let fragments: Vec<_> = ds
                    .fragments()
                    .iter()
                    .filter(|f| touched.contains(&f.id))
                    .cloned()
                    .collect();
                let batches = if fragments.is_empty() {
                    vec![]
                } else {
                    scan_fragments(&ds, &columns, Some(fragments), with_addr).await?
                };
                let all = if batches.is_empty() {
                    let s = if with_addr {
                        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
                        fields.push(Arc::new(arrow_schema::Field::new(
                            ROW_ADDR,
                            arrow_schema::DataType::UInt64,
                            true,
                        )));
                        Arc::new(arrow_schema::Schema::new(fields))
                    } else {
                        schema.clone()
                    };
                    RecordBatch::new_empty(s)
                } else {
                    arrow_select::concat::concat_batches(&batches[0].schema(), &batches)?
                };
                let n = schema.fields().len();
                let addrs = with_addr.then(|| {
                    all.column(n)
                        .as_any()
                        .downcast_ref::<UInt64Array>()
                        .cloned()
                        .unwrap_or_else(|| UInt64Array::from(Vec::<u64>::new()))
                });
                let batch = all.project(&(0..n).collect::<Vec<_>>())?;
                let rows = converter.convert_columns(batch.columns())?;
                let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
                for i in 0..batch.num_rows() {
                    groups
                        .entry(identity(&batch, key_column.as_deref(), i))
                        .or_default()
                        .push(i);
                }
                Ok::<_, EngineError>(TableRows {
                    batch,
                    addrs,
                    groups,
                    rows,
                })
            }
        };
        let [base_ds, their_ds, our_ds] = datasets;
        let base_rows = read(base_ds, false).await?;
        let their_rows = read(their_ds, false).await?;
        let our_rows = read(our_ds, true).await?;
        Ok(RowMerge {
            key: key.clone(),
            schema,
            base: base_rows,
            theirs: their_rows,
            ours: our_rows,
            key_column,
            rules,
        })
    }

    /// Three-way merge of every identity; conflicts are pushed, and the target's rows
    /// replaced by theirs where only their side changed. Returns the staged change (none
    /// when nothing is taken from their side), what it does, and how many rows moved.
    async fn apply(
        self,
        conflicts: &mut Vec<MergeConflict>,
        ours: &Snapshot,
    ) -> Result<(Option<StagedTable>, RowChange, u64)> {
        let mut ids: BTreeSet<&String> = self.theirs.groups.keys().collect();
        ids.extend(self.ours.groups.keys());
        ids.extend(self.base.groups.keys());
        let mut delete_ours: Vec<usize> = vec![];
        let mut take_theirs: Vec<u32> = vec![];
        let mut removes_ids = false;
        for id in ids {
            let (b, s, t) = (
                self.base.group(id),
                self.theirs.group(id),
                self.ours.group(id),
            );
            if s == t || s == b {
                continue;
            }
            if t == b {
                removes_ids |= s.is_empty() && !t.is_empty();
                delete_ours.extend(self.ours.groups.get(id).into_iter().flatten());
                take_theirs.extend(
                    self.theirs
                        .groups
                        .get(id)
                        .into_iter()
                        .flatten()
                        .map(|&i| i as u32),
                );
                continue;
            }
            let (kind, what) = if b.is_empty() {
                (
                    ConflictKind::DivergentInsert,
                    "inserted with different values on both branches",
                )
            } else if s.is_empty() || t.is_empty() {
                (
                    ConflictKind::DeleteVsUpdate,
                    "deleted on one branch and updated on the other",
                )
            } else {
                (
                    ConflictKind::DivergentUpdate,
                    "updated differently on both branches",
                )
            };
            conflicts.push(MergeConflict {
                kind,
                table_key: self.key.to_string(),
                key: Some(self.display_id(id)),
                message: format!(
                    "{} `{}` was {what}",
                    self.key.type_name,
                    self.display_id(id)
                ),
            });
        }
        // Rows taken from their side must satisfy the target's value constraints.
        let names: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let cols: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != SRC_COLUMN && **n != DST_COLUMN)
            .map(|(i, _)| i)
            .collect();
        if !self.rules.is_empty() {
            for &i in &take_theirs {
                let values: Vec<_> = cols
                    .iter()
                    .map(|&c| cell_json(self.theirs.batch.column(c).as_ref(), i as usize))
                    .collect();
                let refs: Vec<&serde_json::Value> = values.iter().collect();
                let col_names: Vec<&str> = cols.iter().map(|&c| names[c]).collect();
                if let Err(e) = self.rules.check(&col_names, &refs) {
                    let id = identity(&self.theirs.batch, self.key_column.as_deref(), i as usize);
                    conflicts.push(MergeConflict {
                        kind: ConflictKind::ValueConstraintViolation,
                        table_key: self.key.to_string(),
                        key: Some(self.display_id(&id)),
                        message: e,
                    });
                }
            }
        }
        let moved = (delete_ours.len() + take_theirs.len()) as u64;
        let taken = arrow_select::take::take_record_batch(
            &self.theirs.batch,
            &UInt32Array::from(take_theirs),
        )?;
        let deleted: HashSet<u64> = match &self.ours.addrs {
            Some(a) => delete_ours.iter().map(|&i| a.value(i)).collect(),
            None => HashSet::new(),
        };
        let change = RowChange {
            deleted,
            added: taken,
            removes_ids,
        };
        if moved == 0 {
            return Ok((None, change, 0));
        }
        let mut staged = StagedTable::new(ours.table(&self.key).await?);
        for &addr in &change.deleted {
            staged.delete_row_address(addr);
        }
        if change.added.num_rows() > 0 {
            staged.write_batch(change.added.clone()).await?;
        }
        Ok((Some(staged), change, moved))
    }

    fn display_id(&self, id: &str) -> String {
        id.replace('\u{0}', "->")
    }
}

/// A row's identity: its key, or for an edge `from\0to`.
fn identity(batch: &RecordBatch, key_column: Option<&str>, row: usize) -> String {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .map(|c| cell_key_text(c.as_ref(), row))
    };
    match key_column {
        Some(k) => col(k).unwrap_or_default(),
        None => format!(
            "{}\u{0}{}",
            col(SRC_COLUMN).unwrap_or_default(),
            col(DST_COLUMN).unwrap_or_default()
        ),
    }
}

/// What a row-level merge does to the target's version of a table.
struct RowChange {
    /// Row addresses of the target's rows it deletes.
    deleted: HashSet<u64>,
    /// Rows it adds (taken from the source).
    added: RecordBatch,
    /// Some identity (node key, edge endpoints) of the target is gone after it.
    removes_ids: bool,
}

/// Ids of the fragments that differ between the versions: absent from one of them, or
/// with other files or deletions. The others hold the same rows in every version.
fn touched_fragments(versions: &[Arc<lance::Dataset>]) -> HashSet<u64> {
    let by_id: Vec<HashMap<u64, &lance_table::format::Fragment>> = versions
        .iter()
        .map(|ds| ds.fragments().iter().map(|f| (f.id, f)).collect())
        .collect();
    let mut ids: HashSet<u64> = by_id.iter().flat_map(|m| m.keys().copied()).collect();
    ids.retain(|id| {
        let first = by_id[0].get(id);
        first.is_none() || by_id.iter().any(|m| m.get(id) != first)
    });
    ids
}

/// The merged graph as far as the checks need it: tables merged row by row are in
/// memory, adopted ones are their side's version, the rest the target's.
struct MergedView<'a> {
    ours: &'a Snapshot,
    theirs: &'a Snapshot,
    adopted: &'a BTreeMap<String, TableEntry>,
    merged: &'a BTreeMap<TableKey, RowChange>,
}

impl MergedView<'_> {
    /// Whether the merge may have added rows to this table (a table taken whole, or
    /// rows taken from the source): edges to check for endpoints and `@card`, nodes for
    /// `@unique`.
    fn adds_rows(&self, key: &TableKey) -> bool {
        self.adopted.contains_key(&key.to_string())
            || self.merged.get(key).is_some_and(|c| c.added.num_rows() > 0)
    }

    /// Whether the merge may have removed node keys from this table: edges of the
    /// target pointing at them must be checked.
    fn removes_ids(&self, key: &TableKey) -> bool {
        self.adopted.contains_key(&key.to_string())
            || self.merged.get(key).is_some_and(|c| c.removes_ids)
    }

    async fn batches(&self, key: &TableKey, columns: &[&str]) -> Result<Vec<RecordBatch>> {
        if let Some(change) = self.merged.get(key) {
            // The target's rows the merge keeps, then the ones it adds.
            let n = columns.len();
            let mut out = vec![];
            for b in scan_columns(&*self.ours.table(key).await?, columns, true).await? {
                let addrs = b
                    .column(n)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| EngineError::Corrupt("row addresses".into()))?;
                let keep = BooleanArray::from(
                    (0..b.num_rows())
                        .map(|i| !change.deleted.contains(&addrs.value(i)))
                        .collect::<Vec<_>>(),
                );
                let b = b.project(&(0..n).collect::<Vec<_>>())?;
                out.push(arrow_select::filter::filter_record_batch(&b, &keep)?);
            }
            let added = &change.added;
            let ix = columns
                .iter()
                .map(|c| added.schema().index_of(c))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            out.push(added.project(&ix)?);
            return Ok(out);
        }
        let snap = if self.adopted.contains_key(&key.to_string()) {
            self.theirs
        } else {
            self.ours
        };
        scan_columns(&*snap.table(key).await?, columns, false).await
    }

    async fn keys_of(&self, catalog: &Catalog, node: &str) -> Result<HashSet<String>> {
        let n = catalog
            .node(node)
            .ok_or_else(|| EngineError::Corrupt(format!("no node type {node}")))?;
        let mut keys = HashSet::new();
        for b in self
            .batches(&TableKey::node(node), &[n.key.as_str()])
            .await?
        {
            for i in 0..b.num_rows() {
                keys.insert(cell_key_text(b.column(0).as_ref(), i));
            }
        }
        Ok(keys)
    }

    /// Endpoints, `@unique` and `@card` over the tables the merge changes (and the edges
    /// of node tables it changes).
    async fn check(&self, catalog: &Catalog, conflicts: &mut Vec<MergeConflict>) -> Result<()> {
        let mut node_keys: HashMap<String, HashSet<String>> = HashMap::new();
        for edge in &catalog.edges {
            let key = TableKey::edge(&edge.name);
            let from = TableKey::node(&edge.from);
            let to = TableKey::node(&edge.to);
            if !(self.adds_rows(&key) || self.removes_ids(&from) || self.removes_ids(&to)) {
                continue;
            }
            for n in [&edge.from, &edge.to] {
                if !node_keys.contains_key(n) {
                    let keys = self.keys_of(catalog, n).await?;
                    node_keys.insert(n.clone(), keys);
                }
            }
            let mut per_source: HashMap<String, u32> = HashMap::new();
            let max = edge.card.and_then(|c| c.max);
            for b in self.batches(&key, &[SRC_COLUMN, DST_COLUMN]).await? {
                for i in 0..b.num_rows() {
                    let src = cell_key_text(b.column(0).as_ref(), i);
                    let dst = cell_key_text(b.column(1).as_ref(), i);
                    for (node, k) in [(&edge.from, &src), (&edge.to, &dst)] {
                        if !node_keys[node].contains(k) && conflicts.len() < MAX_CONFLICTS {
                            conflicts.push(MergeConflict {
                                kind: ConflictKind::OrphanEdge,
                                table_key: key.to_string(),
                                key: Some(format!("{src}->{dst}")),
                                message: format!(
                                    "{} edge {src}->{dst} would point at {node} `{k}`, which the merged graph does not have",
                                    edge.name
                                ),
                            });
                        }
                    }
                    if let Some(max) = max.filter(|_| self.adds_rows(&key)) {
                        let n = per_source.entry(src.clone()).or_default();
                        *n += 1;
                        if *n == max + 1 && conflicts.len() < MAX_CONFLICTS {
                            conflicts.push(MergeConflict {
                                kind: ConflictKind::CardinalityViolation,
                                table_key: key.to_string(),
                                key: Some(src.clone()),
                                message: format!(
                                    "@card: {} `{src}` would have more than {max} {} edge(s)",
                                    edge.from, edge.name
                                ),
                            });
                        }
                    }
                }
            }
        }
        for node in &catalog.nodes {
            let key = TableKey::node(&node.name);
            if node.unique.is_empty() || !self.adds_rows(&key) {
                continue;
            }
            for set in &node.unique {
                let mut columns: Vec<&str> = vec![node.key.as_str()];
                columns.extend(set.iter().map(String::as_str));
                let mut seen: HashMap<Vec<String>, String> = HashMap::new();
                for b in self.batches(&key, &columns).await? {
                    for i in 0..b.num_rows() {
                        let cols: Vec<&ArrayRef> = b.columns()[1..].iter().collect();
                        if cols.iter().any(|c| c.is_null(i)) {
                            continue;
                        }
                        let value: Vec<String> =
                            cols.iter().map(|c| cell_key_text(c.as_ref(), i)).collect();
                        let k = cell_key_text(b.column(0).as_ref(), i);
                        if let Some(other) = seen.insert(value.clone(), k.clone()) {
                            if conflicts.len() < MAX_CONFLICTS {
                                conflicts.push(MergeConflict {
                                    kind: ConflictKind::UniqueViolation,
                                    table_key: key.to_string(),
                                    key: Some(k.clone()),
                                    message: format!(
                                        "@unique({}): {} `{k}` and `{other}` would share {}",
                                        set.join(", "),
                                        node.name,
                                        value.join(", ")
                                    ),
                                });
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
