//! A change's writes to one table: deletions and appended rows staged against a base
//! version, committed as detached versions (shared/engine/src/table.rs) only when the whole
//! change is valid, then the indexes they leave behind rebuilt (shared/engine/src/index.rs).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use lance::dataset::transaction::Operation;
use lance::Dataset;
use lance_table::format::Fragment;

use crate::error::{EngineError, Result};
use crate::index::{rebuild_indexes, IndexSpec};
use crate::table::{commit_detached, write_fragments};

/// Deletions and appended rows for one table, staged against a base version and committed
/// as detached versions only when the whole change is valid.
pub struct StagedTable {
    pub base: Arc<Dataset>,
    /// Fragment id -> row offsets to delete.
    deletions: BTreeMap<u64, Vec<u32>>,
    /// Replace every row of the base instead of deleting some.
    overwrite: bool,
    new_fragments: Vec<Fragment>,
    pub rows_written: u64,
    /// Fragments of the base dropped whole (compaction: their rows are rewritten).
    removed_fragments: Vec<u64>,
    /// Columns whose scalar indexes are rebuilt after the commit (bulk loads).
    index_columns: Vec<IndexSpec>,
    /// Rebuild an index whenever it leaves any row out, not only too many (compaction).
    index_fully: bool,
}

impl StagedTable {
    pub fn new(base: Arc<Dataset>) -> Self {
        StagedTable {
            base,
            deletions: BTreeMap::new(),
            overwrite: false,
            new_fragments: vec![],
            rows_written: 0,
            removed_fragments: vec![],
            index_columns: vec![],
            index_fully: false,
        }
    }

    /// Rebuild the indexes of `specs` after the commit (see `crate::index`).
    pub fn rebuild_indexes_of(&mut self, specs: Vec<IndexSpec>) {
        self.index_columns = specs;
    }

    /// Like [`Self::rebuild_indexes_of`], bringing each index back to cover every row.
    pub fn rebuild_indexes_fully(&mut self, specs: Vec<IndexSpec>) {
        self.index_columns = specs;
        self.index_fully = true;
    }

    /// Drop these fragments of the base whole (their rows are written again elsewhere).
    pub fn remove_fragments(&mut self, ids: impl IntoIterator<Item = u64>) {
        if !self.overwrite {
            self.removed_fragments.extend(ids);
        }
    }

    pub fn set_overwrite(&mut self) {
        self.overwrite = true;
        self.deletions.clear();
        self.removed_fragments.clear();
    }

    /// Mark a row of the base (by Lance row address) as deleted.
    pub fn delete_row_address(&mut self, addr: u64) {
        if !self.overwrite {
            self.deletions
                .entry(addr >> 32)
                .or_default()
                .push(addr as u32);
        }
    }

    pub fn has_changes(&self) -> bool {
        self.overwrite
            || !self.deletions.is_empty()
            || !self.removed_fragments.is_empty()
            || !self.new_fragments.is_empty()
    }

    /// Write a batch of rows as data files, not yet part of any version.
    pub async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows() as u64;
        let fragments = write_fragments(self.base.clone(), batch).await?;
        self.add_fragments(fragments, rows);
        Ok(())
    }

    /// Adopt data files written by `write_fragments`.
    pub fn add_fragments(&mut self, fragments: Vec<Fragment>, rows: u64) {
        self.rows_written += rows;
        self.new_fragments.extend(fragments);
    }

    /// Commit the staged change as detached versions; returns the final version (opened) and
    /// its row count.
    /// Nothing here is visible to anyone until a manifest naming the version is published.
    pub async fn commit(mut self) -> Result<(Arc<Dataset>, u64)> {
        let index_columns = std::mem::take(&mut self.index_columns);
        let fully = self.index_fully;
        let (ds, rows) = self.commit_data().await?;
        let ds = rebuild_indexes(ds, &index_columns, rows, fully).await?;
        Ok((ds, rows))
    }

    async fn commit_data(self) -> Result<(Arc<Dataset>, u64)> {
        let mut ds = self.base.clone();
        if self.overwrite {
            let op = Operation::Overwrite {
                fragments: self.new_fragments,
                schema: ds.schema().clone(),
                config_upsert_values: None,
                initial_bases: None,
            };
            ds = commit_detached(&ds, op).await?;
            let rows = ds.count_rows(None).await? as u64;
            return Ok((ds, rows));
        }
        if !self.deletions.is_empty() || !self.removed_fragments.is_empty() {
            let mut updated = vec![];
            let mut removed = self.removed_fragments;
            for (frag_id, offsets) in self.deletions {
                if removed.contains(&frag_id) {
                    continue;
                }
                let frag = ds
                    .get_fragment(frag_id as usize)
                    .ok_or_else(|| EngineError::Corrupt(format!("fragment {frag_id} missing")))?;
                match frag.extend_deletions(offsets).await? {
                    Some(f) => updated.push(f.metadata().clone()),
                    None => removed.push(frag_id),
                }
            }
            let op = Operation::Delete {
                updated_fragments: updated,
                deleted_fragment_ids: removed,
                predicate: "omnigraph staged delete".into(),
            };
            ds = commit_detached(&ds, op).await?;
        }
        if !self.new_fragments.is_empty() {
            ds = commit_detached(
                &ds,
                Operation::Append {
                    fragments: self.new_fragments,
                },
            )
            .await?;
        }
        let rows = ds.count_rows(None).await? as u64;
        Ok((ds, rows))
    }
}
