//! One table as a mutation sees it: the stored rows of the base version minus those this
//! mutation deleted, plus the rows it inserted. Later statements read through it, so they see
//! earlier statements' writes; at the end it becomes one staged table change.
//!
//! Stored rows are found with Lance filter pushdown (a SQL predicate with literals of the
//! column's type), so a key lookup does not materialise the table.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::{Array, UInt64Array};
use futures::TryStreamExt;
use lance::Dataset;
use omnigraph_lang::query::typed::CompareOp;
use serde_json::Value as Json;

use super::rows::TableColumns;
use crate::columns::cell_json;
use crate::error::{EngineError, Result};
use crate::query::pushdown::{sql_literal, sql_op};
use crate::query::value::{compare, Scalar};
use crate::staged_table::StagedTable;

use crate::table::ROW_ADDR;
/// Longest `IN (...)` list pushed into a scan; longer lists filter after a plain scan.
const MAX_PUSHED_IN_LIST: usize = 1000;

/// Where a live row is: in the base version (by Lance row address) or among this
/// mutation's inserted rows (by position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAt {
    Stored(u64),
    Inserted(usize),
}

pub struct LiveRow {
    pub at: RowAt,
    /// Every column of the table, in table order.
    pub values: Vec<Json>,
}

pub enum Test {
    Compare(CompareOp, Scalar),
    OneOf(Vec<Scalar>),
}

/// A condition on one column (by index in the table's columns).
pub struct RowFilter {
    pub column: usize,
    pub test: Test,
}

impl RowFilter {
    pub fn eq(column: usize, value: Scalar) -> RowFilter {
        RowFilter {
            column,
            test: Test::Compare(CompareOp::Eq, value),
        }
    }

    fn holds(&self, columns: &TableColumns, row: &[Json]) -> bool {
        let Ok(value) = Scalar::from_json(&row[self.column], &columns.types[self.column]) else {
            return false;
        };
        match &self.test {
            Test::Compare(op, x) => compare(&value, *op, x),
            Test::OneOf(xs) => xs.iter().any(|x| compare(&value, CompareOp::Eq, x)),
        }
    }

    /// The filter as a Lance SQL predicate, when its literals can be written exactly.
    fn sql(&self, columns: &TableColumns) -> Option<String> {
        let name = format!("`{}`", columns.names[self.column]);
        let ty = &columns.types[self.column];
        match &self.test {
            Test::Compare(op, x) => {
                Some(format!("{name} {} {}", sql_op(*op)?, sql_literal(ty, x)?))
            }
            Test::OneOf(xs) if !xs.is_empty() && xs.len() <= MAX_PUSHED_IN_LIST => {
                let items: Option<Vec<String>> = xs.iter().map(|x| sql_literal(ty, x)).collect();
                Some(format!("{name} IN ({})", items?.join(", ")))
            }
            Test::OneOf(_) => None,
        }
    }
}

/// Cloned for a group commit's savepoint (shared/engine/src/mutate/group.rs).
#[derive(Clone)]
pub struct TableOverlay {
    pub columns: Arc<TableColumns>,
    base: Arc<Dataset>,
    deleted: BTreeSet<u64>,
    inserted: Vec<Option<Vec<Json>>>,
}

impl TableOverlay {
    pub fn new(columns: TableColumns, base: Arc<Dataset>) -> TableOverlay {
        TableOverlay {
            columns: Arc::new(columns),
            base,
            deleted: BTreeSet::new(),
            inserted: vec![],
        }
    }

    /// Every live row passing all `filters`: stored ones first (in storage order), then
    /// inserted ones (in insertion order).
    pub async fn live_rows(&self, filters: &[RowFilter]) -> Result<Vec<LiveRow>> {
        let mut out = self.stored_rows(filters).await?;
        out.extend(self.inserted_rows(filters));
        Ok(out)
    }

    /// Rows this mutation inserted (and did not delete again) passing all `filters`.
    pub fn inserted_rows(&self, filters: &[RowFilter]) -> Vec<LiveRow> {
        let mut out = vec![];
        for (i, row) in self.inserted.iter().enumerate() {
            if let Some(row) = row {
                if filters.iter().all(|f| f.holds(&self.columns, row)) {
                    out.push(LiveRow {
                        at: RowAt::Inserted(i),
                        values: row.clone(),
                    });
                }
            }
        }
        out
    }

    /// True when this mutation deleted the stored row at `addr`.
    pub fn is_deleted(&self, addr: u64) -> bool {
        self.deleted.contains(&addr)
    }

    async fn stored_rows(&self, filters: &[RowFilter]) -> Result<Vec<LiveRow>> {
        let mut scanner = self.base.scan();
        scanner.project(&self.columns.names)?;
        let pushed: Vec<String> = filters
            .iter()
            .filter_map(|f| f.sql(&self.columns))
            .collect();
        if !pushed.is_empty() {
            scanner.filter(&pushed.join(" AND "))?;
        }
        scanner.with_row_address();
        let mut stream = scanner.try_into_stream().await?;
        let mut out = vec![];
        while let Some(batch) = stream.try_next().await? {
            let addrs = batch
                .column_by_name(ROW_ADDR)
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))?;
            for row in 0..batch.num_rows() {
                let addr = addrs.value(row);
                if self.deleted.contains(&addr) {
                    continue;
                }
                let values: Vec<Json> = (0..self.columns.names.len())
                    .map(|c| cell_json(batch.column(c).as_ref(), row))
                    .collect();
                // Pushed filters are re-checked: the language's comparison rules are the truth.
                if filters.iter().all(|f| f.holds(&self.columns, &values)) {
                    out.push(LiveRow {
                        at: RowAt::Stored(addr),
                        values,
                    });
                }
            }
        }
        Ok(out)
    }

    pub fn insert(&mut self, row: Vec<Json>) {
        self.inserted.push(Some(row));
    }

    pub fn delete(&mut self, at: RowAt) {
        match at {
            RowAt::Stored(addr) => {
                self.deleted.insert(addr);
            }
            RowAt::Inserted(i) => {
                if let Some(slot) = self.inserted.get_mut(i) {
                    *slot = None;
                }
            }
        }
    }

    /// Replace a live row: a stored row is deleted and the new one appended.
    pub fn replace(&mut self, at: RowAt, row: Vec<Json>) {
        match at {
            RowAt::Inserted(i) if i < self.inserted.len() => self.inserted[i] = Some(row),
            _ => {
                self.delete(at);
                self.insert(row);
            }
        }
    }

    pub fn has_changes(&self) -> bool {
        !self.deleted.is_empty() || self.inserted.iter().any(Option::is_some)
    }

    /// The overlay as a staged change of its table (nothing visible until published).
    pub async fn stage(self) -> Result<StagedTable> {
        let mut staged = StagedTable::new(self.base.clone());
        for addr in &self.deleted {
            staged.delete_row_address(*addr);
        }
        let rows: Vec<&Vec<Json>> = self.inserted.iter().flatten().collect();
        if !rows.is_empty() {
            let batch = self.columns.batch(rows.into_iter())?;
            staged.write_batch(batch).await?;
        }
        Ok(staged)
    }

    /// Distinct values of one column among `rows`, typed for filters.
    pub fn column_values(&self, rows: &[LiveRow], column: usize) -> Vec<Scalar> {
        let mut seen = HashSet::new();
        rows.iter()
            .filter(|r| seen.insert(r.values[column].to_string()))
            .filter_map(|r| Scalar::from_json(&r.values[column], &self.columns.types[column]).ok())
            .filter(|s| !s.is_null())
            .collect()
    }
}
