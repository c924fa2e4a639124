//! Storage upkeep that the servers run themselves, beside live writes: compaction.
//!
//! Every write adds fragments (and deletion files) to the tables it touches, and each
//! Lance version lists every fragment, so a table written one row at a time holds ever
//! more small files and its indexes cover ever less of it. Compaction rewrites such a
//! table as an overwrite holding the same rows in as few files as its size needs
//! (`table::MAX_ROWS_PER_FILE` rows each), rebuilds its indexes to full coverage, and
//! publishes every compacted table of the branch as one new graph version.
//!
//! Never in a user's way:
//! - on one worker it runs under the branch's write lock (`Graph::write_on`), so a write
//!   arriving meanwhile waits for it and then builds on the compacted version;
//! - a write planned elsewhere before the compaction and published after it is not refused:
//!   the compacted entries carry `same_rows_as` (their base's rows), and the publish check
//!   (`graph::check_untouched`) lets the write's own table version replace the compacted
//!   one; the compaction of that table is simply undone;
//! - a write that publishes first makes the compaction's own publish conflict, and the
//!   compaction gives way (the next run plans again).
//!
//! With a deadline (`POST /maintenance`), a compaction past it stops between tables and
//! between the batches of a table's rewrite, and publishes nothing: the files it wrote are
//! named by no version and go with the next cleanup after the grace period.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use futures::TryStreamExt;
use serde::Serialize;

use crate::crash_point::crash_point;
use crate::error::{EngineError, Result};
use crate::graph::{Change, Graph};
use crate::staged_table::StagedTable;
use crate::table::MAX_ROWS_PER_FILE;
use crate::table_key::TableKey;

pub use crate::maintenance_trigger::{set_triggers, wanted};

/// The actor that maintenance publishes as (in commits and history).
pub const MAINTENANCE_ACTOR: &str = "maintenance";

/// When a table is worth compacting.
#[derive(Debug, Clone, Copy)]
pub struct CompactionPolicy {
    /// A table with more fragments than its rows need is compacted once it has at least
    /// this many (a table with deletion files once it has any).
    pub min_fragments: usize,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy { min_fragments: 8 }
    }
}

/// One table a compaction rewrote.
#[derive(Debug, Clone, Serialize)]
pub struct TableCompaction {
    pub table_key: String,
    pub fragments_before: usize,
    pub fragments_after: usize,
    pub rows: u64,
}

/// What one compaction did: the graph version it published (none when no table needed it,
/// or when it gave way to writers every time it tried).
#[derive(Debug, Clone, Serialize)]
pub struct CompactionReport {
    pub branch: String,
    pub version: Option<u64>,
    pub tables: Vec<TableCompaction>,
    /// Writers published to the tables it rewrote before it could, on every attempt.
    pub gave_way: bool,
    /// It stopped at its deadline and published nothing (the next run plans again).
    pub deadline_reached: bool,
}

/// Plans (and rewrites) at most this many times when writers keep publishing first.
const ATTEMPTS: usize = 3;

/// Whether a table with these fragments and rows needs compacting under `policy`.
fn needs_compaction(
    fragments: usize,
    with_deletions: bool,
    rows: u64,
    policy: &CompactionPolicy,
) -> bool {
    let needed = (rows as usize).div_ceil(MAX_ROWS_PER_FILE).max(1);
    (fragments > needed && fragments >= policy.min_fragments) || (with_deletions && fragments > 0)
}

/// Compacts the tables of `branch` that need it and publishes them as one graph version.
/// When a writer publishes to one of those tables first, it plans again from the new head,
/// up to [`ATTEMPTS`] times, then gives way.
pub async fn compact(
    graph: &Arc<Graph>,
    branch: &str,
    policy: &CompactionPolicy,
) -> Result<CompactionReport> {
    compact_until(graph, branch, policy, None).await
}

/// [`compact`], stopping without publishing once `deadline` is past (module documentation).
pub async fn compact_until(
    graph: &Arc<Graph>,
    branch: &str,
    policy: &CompactionPolicy,
    deadline: Option<Instant>,
) -> Result<CompactionReport> {
    let stopped = || CompactionReport {
        branch: branch.to_string(),
        version: None,
        tables: Vec::new(),
        gave_way: false,
        deadline_reached: true,
    };
    for _ in 0..ATTEMPTS {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(stopped());
        }
        match compact_once(graph, branch, policy, deadline).await {
            Err(EngineError::Conflict { .. } | EngineError::VersionTaken(_)) => continue,
            Ok(None) => return Ok(stopped()),
            Ok(Some(report)) => return Ok(report),
            Err(e) => return Err(e),
        }
    }
    Ok(CompactionReport {
        branch: branch.to_string(),
        version: None,
        tables: Vec::new(),
        gave_way: true,
        deadline_reached: false,
    })
}

/// One plan and publish; `None` when the deadline passed first (nothing published).
async fn compact_once(
    graph: &Arc<Graph>,
    branch: &str,
    policy: &CompactionPolicy,
    deadline: Option<Instant>,
) -> Result<Option<CompactionReport>> {
    let past = move || deadline.is_some_and(|d| Instant::now() >= d);
    let (manifest, tables) = graph
        .write_on(branch, MAINTENANCE_ACTOR, |snap| async move {
            let mut change = Change::new();
            change.maintenance = true;
            let mut tables = Vec::new();
            // At the deadline: an empty change publishes nothing; the staged tables are
            // dropped (their files go with a later cleanup).
            let stop = || {
                let mut nothing = Change::new();
                nothing.maintenance = true;
                Ok((nothing, None))
            };
            for key in snap.manifest.tables.keys() {
                let Some(tk) = TableKey::parse(key) else {
                    continue;
                };
                if past() {
                    return stop();
                }
                let ds = snap.table(&tk).await?;
                let fragments = ds.get_fragments();
                let with_deletions = fragments
                    .iter()
                    .any(|f| f.metadata().deletion_file.is_some());
                let rows = snap.row_count(&tk);
                if !needs_compaction(fragments.len(), with_deletions, rows, policy) {
                    continue;
                }
                let mut staged = StagedTable::new(ds.clone());
                staged.set_overwrite();
                let columns: Vec<String> =
                    ds.schema().fields.iter().map(|f| f.name.clone()).collect();
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                // Streamed: at most one file's rows (MAX_ROWS_PER_FILE) are held at a time.
                let mut stream = ds.scan().project(&columns)?.try_into_stream().await?;
                let mut pending: Vec<RecordBatch> = Vec::new();
                let mut pending_rows = 0;
                while let Some(batch) = stream.try_next().await? {
                    if past() {
                        return stop();
                    }
                    if pending_rows + batch.num_rows() > MAX_ROWS_PER_FILE && pending_rows > 0 {
                        write_chunk(&mut staged, std::mem::take(&mut pending)).await?;
                        pending_rows = 0;
                    }
                    pending_rows += batch.num_rows();
                    pending.push(batch);
                }
                if pending_rows > 0 {
                    write_chunk(&mut staged, pending).await?;
                }
                // The table's new data is written; the graph version naming it is not.
                crash_point("compact:table-written");
                staged.rebuild_indexes_of(crate::index::index_specs(&snap.catalog, &tk));
                let fragments_after = rows.div_ceil(MAX_ROWS_PER_FILE as u64) as usize;
                tables.push(TableCompaction {
                    table_key: key.clone(),
                    fragments_before: fragments.len(),
                    fragments_after,
                    rows,
                });
                change.staged.insert(tk, staged);
            }
            Ok((change, Some(tables)))
        })
        .await?;
    let Some(tables) = tables else {
        return Ok(None);
    };
    let version = (!tables.is_empty()).then_some(manifest.version);
    Ok(Some(CompactionReport {
        branch: branch.to_string(),
        version,
        tables,
        gave_way: false,
        deadline_reached: false,
    }))
}

/// Writes `batches` (one schema) as one run of data files of the staged overwrite.
async fn write_chunk(staged: &mut StagedTable, batches: Vec<RecordBatch>) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let batch = concat_batches(&first.schema(), batches.iter())?;
    staged.write_batch(batch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_with_spare_fragments_or_deletions_are_compacted() {
        let policy = CompactionPolicy { min_fragments: 8 };
        assert!(!needs_compaction(1, false, 10, &policy));
        assert!(
            !needs_compaction(7, false, 10, &policy),
            "below the minimum"
        );
        assert!(needs_compaction(8, false, 10, &policy));
        assert!(needs_compaction(1, true, 10, &policy), "deletion files");
        // A big table needs several files: no compaction while it has no more than that.
        let big = 3 * MAX_ROWS_PER_FILE as u64;
        assert!(!needs_compaction(3, false, big, &policy));
        assert!(!needs_compaction(0, false, 0, &policy));
    }
}
