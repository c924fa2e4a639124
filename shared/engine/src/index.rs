//! Lance scalar (BTREE) indexes on the columns that filters hit by equality: the `@key`,
//! single-property `@unique` and `@index` properties of node tables, and the endpoint
//! key columns of edge tables.
//!
//! Indexes are (re)built after a bulk load, committed like data: as a *detached* Lance
//! version, so a load that never publishes leaves no index anyone can see. A mutation
//! does not rebuild them: rows it appends live in fragments the index does not cover, and
//! Lance answers a filtered scan from the index for covered fragments plus a scan of the
//! uncovered ones, so a stale index is slower, never wrong. The next load covers them.
//!
//! Filters pushed into Lance scans (mutation matches, key lookups of edge endpoints, the
//! key probes of an uncached table) use these indexes.

use std::sync::Arc;

use lance::dataset::transaction::Operation;
use lance::index::{CreateIndexBuilder, DatasetIndexExt};
use lance::Dataset;
use lance_index::scalar::ScalarIndexParams;
use lance_index::IndexType;
use lance_table::format::IndexMetadata;
use omnigraph_lang::{BaseType, Catalog, PropType};

use crate::columns::{DST_COLUMN, SRC_COLUMN};
use crate::error::Result;
use crate::table::commit_detached;
use crate::table_key::{TableKey, TableKind};

/// Name of the index on `column`.
pub fn index_name(column: &str) -> String {
    format!("{column}_idx")
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

/// Builds (replacing any of the same name) a BTREE index on each of `columns` of `ds` that
/// has none or covers too little of the table, each committed as a detached version on top
/// of the previous one; returns the last. `rows` is the table's row count: an empty table
/// gets none (nothing to train on).
pub async fn rebuild_indexes(
    ds: Arc<Dataset>,
    columns: &[String],
    rows: u64,
) -> Result<Arc<Dataset>> {
    if columns.is_empty() || rows == 0 {
        return Ok(ds);
    }
    // Read once: each commit below replaces only the index of its own column.
    let existing = ds.load_indices().await?;
    let mut ds = ds;
    let params = ScalarIndexParams::default();
    for column in columns {
        let name = index_name(column);
        let current = existing.iter().find(|idx| idx.name == name);
        if !needs_rebuild(&ds, current) {
            continue;
        }
        let mut building = (*ds).clone();
        let created =
            CreateIndexBuilder::new(&mut building, &[column.as_str()], IndexType::BTree, &params)
                .name(name)
                .replace(true)
                .execute_uncommitted()
                .await?;
        ds = commit_detached(
            &ds,
            Operation::CreateIndex {
                new_indices: vec![created],
                removed_indices: current.into_iter().cloned().collect(),
            },
        )
        .await?;
    }
    Ok(ds)
}

/// Whether the index is missing, or leaves more than [`MAX_UNINDEXED_SHARE`] of the
/// table's rows in fragments it does not cover.
fn needs_rebuild(ds: &Dataset, index: Option<&IndexMetadata>) -> bool {
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
    total > 0 && unindexed as f64 > total as f64 * MAX_UNINDEXED_SHARE
}
