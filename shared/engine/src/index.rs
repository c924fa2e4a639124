//! Lance indexes of a table, from the schema:
//! - BTREE on the columns that filters hit by equality: the `@key`, single-property
//!   `@unique` and scalar `@index` properties of node tables, and the endpoint key columns of
//!   edge tables;
//! - a full-text (inverted) index, with positions for phrases, on each `@index` String
//!   property (`search`, `match_text`, `fuzzy`, `bm25`);
//! - an IVF_SQ vector index (cosine) on each `@index` Vector property (`nearest`), once the
//!   table has enough rows to train one; below that, a flat scan is exact and fast.
//!
//! Indexes are (re)built after a bulk load, committed like data: as a *detached* Lance
//! version, so a load that never publishes leaves no index anyone can see. A mutation
//! does not rebuild them: rows it appends live in fragments the index does not cover, and
//! Lance answers a filtered scan, a full-text query or a nearest-neighbour query from the
//! index for covered fragments plus a scan of the uncovered ones, so a stale index is
//! slower, never wrong. The next load that leaves too much uncovered rebuilds it.
//!
//! Filters pushed into Lance scans (mutation matches, key lookups of edge endpoints, the
//! key probes of an uncached table) use the BTREE indexes.

use std::sync::Arc;

use lance::dataset::transaction::Operation;
use lance::index::vector::VectorIndexParams;
use lance::index::{CreateIndexBuilder, DatasetIndexExt};
use lance::Dataset;
use lance_index::scalar::{InvertedIndexParams, ScalarIndexParams};
use lance_index::vector::ivf::IvfBuildParams;
use lance_index::vector::sq::builder::SQBuildParams;
use lance_index::{IndexParams, IndexType};
use lance_linalg::distance::MetricType;
use lance_table::format::IndexMetadata;
use omnigraph_lang::{BaseType, Catalog, PropType};

use crate::columns::{DST_COLUMN, SRC_COLUMN};
use crate::error::Result;
use crate::table::commit_detached;
use crate::table_key::{TableKey, TableKind};
use tracing::Instrument;

/// Name of the BTREE index on `column`.
pub fn index_name(column: &str) -> String {
    format!("{column}_idx")
}

/// Suffixes of the names of the indexes this module manages.
const SUFFIXES: [&str; 3] = ["_idx", "_fts", "_vec"];

/// True for the name of an index this module built.
pub fn is_managed(name: &str) -> bool {
    SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Rows a table needs before its Vector columns get an IVF_SQ index.
pub const MIN_VECTOR_INDEX_ROWS: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    BTree,
    FullText,
    Vector { dim: u32 },
}

/// One index a table should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub column: String,
    pub kind: IndexKind,
}

impl IndexSpec {
    pub fn name(&self) -> String {
        let suffix = match self.kind {
            IndexKind::BTree => "idx",
            IndexKind::FullText => "fts",
            IndexKind::Vector { .. } => "vec",
        };
        format!("{}_{suffix}", self.column)
    }
}

/// Every index `table` should have: BTREE ones, then full-text and vector ones.
pub fn index_specs(catalog: &Catalog, table: &TableKey) -> Vec<IndexSpec> {
    let mut specs: Vec<IndexSpec> = indexed_columns(catalog, table)
        .into_iter()
        .map(|column| IndexSpec {
            column,
            kind: IndexKind::BTree,
        })
        .collect();
    if let (TableKind::Node, Some(node)) = (table.kind, catalog.node(&table.type_name)) {
        for name in &node.indexed {
            let kind = match node.property(name).map(|p| &p.ty) {
                Some(PropType::Base(BaseType::String)) => IndexKind::FullText,
                Some(PropType::Vector(dim)) => IndexKind::Vector { dim: *dim },
                _ => continue,
            };
            specs.push(IndexSpec {
                column: name.clone(),
                kind,
            });
        }
    }
    specs
}

/// The columns of `table` that get a scalar index.
pub fn indexed_columns(catalog: &Catalog, table: &TableKey) -> Vec<String> {
    match table.kind {
        TableKind::Edge => vec![SRC_COLUMN.to_owned(), DST_COLUMN.to_owned()],
        TableKind::Node => {
            let Some(node) = catalog.node(&table.type_name) else {
                return vec![];
            };
            let mut columns = vec![node.key.clone()];
            let singles = node
                .unique
                .iter()
                .filter(|set| set.len() == 1)
                .map(|set| &set[0]);
            for name in singles.chain(node.indexed.iter()) {
                let scalar = node.property(name).is_some_and(|p| is_scalar(&p.ty));
                if scalar && !columns.contains(name) {
                    columns.push(name.clone());
                }
            }
            columns
        }
    }
}

/// Types a BTREE orders: base scalars and enums (stored as strings); not lists, not vectors.
fn is_scalar(ty: &PropType) -> bool {
    match ty {
        PropType::Base(b) => !matches!(b, BaseType::Blob),
        PropType::Enum(_) => true,
        PropType::List(_) | PropType::Vector(_) => false,
    }
}

/// Rows a table may hold outside its index, as a fraction of all rows, before a load
/// rebuilds the index: a small load into a big table costs no rebuild (its rows are
/// scanned, cheaply), a load that replaces or grows the table by a quarter does.
const MAX_UNINDEXED_SHARE: f64 = 0.25;

/// Builds (replacing any of the same name) each index of `specs` that `ds` lacks or that
/// covers too little of the table, all at once, committed together as one detached version
/// on top of `ds`; returns it. `rows` is the table's row count: an empty table gets
/// none (nothing to train on), a small one no vector index. With `fully`, an index that
/// leaves any row out is rebuilt (compaction), not only one that leaves out too many.
pub async fn rebuild_indexes(
    ds: Arc<Dataset>,
    specs: &[IndexSpec],
    rows: u64,
    fully: bool,
) -> Result<Arc<Dataset>> {
    if specs.is_empty() || rows == 0 {
        return Ok(ds);
    }
    // Each index is built in a task of its own, all at once (a bulk load builds one per
    // key column), then all are committed as one new version replacing the old ones.
    let existing = ds.load_indices().await?;
    let kind_label = crate::storage_metrics::current_kind();
    let max_share = if fully { 0.0 } else { MAX_UNINDEXED_SHARE };
    let mut builds = vec![];
    for spec in specs {
        let name = spec.name();
        let current = existing.iter().find(|idx| idx.name == name).cloned();
        let too_small =
            matches!(spec.kind, IndexKind::Vector { .. }) && rows < MIN_VECTOR_INDEX_ROWS;
        if too_small || !needs_rebuild(&ds, current.as_ref(), max_share) {
            continue;
        }
        let mut building = (*ds).clone();
        let (column, kind) = (spec.column.clone(), spec.kind);
        let build = async move {
            let (index_type, params): (IndexType, Box<dyn IndexParams>) = match kind {
                IndexKind::BTree => (IndexType::BTree, Box::new(ScalarIndexParams::default())),
                IndexKind::FullText => (IndexType::Inverted, Box::new(full_text_params())),
                IndexKind::Vector { .. } => (IndexType::Vector, Box::new(vector_params(rows))),
            };
            let columns = [column.as_str()];
            let builder =
                CreateIndexBuilder::new(&mut building, &columns, index_type, params.as_ref());
            Ok::<_, crate::error::EngineError>(
                builder
                    .name(name)
                    .replace(true)
                    .execute_uncommitted()
                    .await?,
            )
        };
        let task = tokio::spawn(
            crate::storage_metrics::with_request_kind(kind_label, build).in_current_span(),
        );
        builds.push((task, current));
    }
    if builds.is_empty() {
        return Ok(ds);
    }
    let (mut new_indices, mut removed_indices) = (vec![], vec![]);
    for (task, current) in builds {
        let created = task.await.map_err(|e| {
            crate::error::EngineError::Corrupt(format!("index build task failed: {e}"))
        })??;
        new_indices.push(created);
        removed_indices.extend(current);
    }
    commit_detached(
        &ds,
        Operation::CreateIndex {
            new_indices,
            removed_indices,
        },
    )
    .await
}

/// Lower-cased, ASCII-folded, stemmed English words, stop words removed, with positions
/// (phrase queries need them).
fn full_text_params() -> InvertedIndexParams {
    InvertedIndexParams::default().with_position(true)
}

/// IVF with scalar-quantised (8-bit) vectors and cosine distance: about 8,192 rows per
/// partition. Cheap to build on 2 cores (k-means on a sample, then min/max per dimension),
/// and queries re-rank their candidates exactly (see `query::search`), so the quantisation
/// costs little recall. (IVF_PQ trained for minutes on a 20,000-row table here.)
fn vector_params(rows: u64) -> VectorIndexParams {
    let partitions = (rows / 8192).clamp(1, 1024) as usize;
    let mut ivf = IvfBuildParams::new(partitions);
    ivf.max_iters = 20;
    VectorIndexParams::with_ivf_sq_params(MetricType::Cosine, ivf, SQBuildParams::default())
}

/// Whether the index is missing, or leaves more than `max_share` of the table's rows in
/// fragments it does not cover.
fn needs_rebuild(ds: &Dataset, index: Option<&IndexMetadata>, max_share: f64) -> bool {
    let Some(covered) = index.and_then(|i| i.fragment_bitmap.as_ref()) else {
        return true;
    };
    let (mut total, mut unindexed) = (0usize, 0usize);
    for fragment in ds.get_fragments() {
        let rows = fragment.metadata().num_rows().unwrap_or(0);
        total += rows;
        if !covered.contains(fragment.id() as u32) {
            unindexed += rows;
        }
    }
    total > 0 && unindexed as f64 > total as f64 * max_share
}
