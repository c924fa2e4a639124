//! Storage upkeep that the servers run themselves, beside live writes: compaction.
//!
//! Every write adds fragments (and deletion files) to the tables it touches, and each
//! Lance version lists every fragment, so a table written one row at a time holds ever
//! more small files and its indexes cover ever less of it. Compaction rewrites the
//! fragments of such a table that gain from it (`plan_rewrite`: the small ones, a tier of
//! same-sized ones that fits in fewer files, those with many deleted rows) as new files
//! holding the same rows, drops them from the table, rebuilds its indexes to full
//! coverage, and publishes every compacted table of the branch as one new graph version.
//! Fragments it keeps keep their files, shared by every version that names them.
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
    /// Rows of the fragments it rewrote (the others kept their files).
    pub rows_rewritten: u64,
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

/// Fragments with fewer rows than this are small: merged with the table's other small
/// fragments once the table has `CompactionPolicy::min_fragments` fragments.
const SMALL_FRAGMENT_ROWS: usize = 4096;
/// Above the small ones, fragments are tiered by size, each tier spanning this factor of
/// sizes (4,096 to 32,767 rows, 32,768 to 262,143, ...); a tier is merged once it holds
/// this many fragments. A row is thus rewritten about once per tier it climbs, not once per
/// compaction, and a big fragment that nothing deleted from is never rewritten.
const TIER_FANOUT: usize = 8;
/// A fragment with at least this share of its rows deleted is rewritten without them (a
/// small fragment with any deletion is, with the other small ones).
const MAX_DELETED_SHARE: f64 = 0.1;

/// What compaction needs to know of one fragment of a table.
#[derive(Debug, Clone, Copy)]
struct FragmentSize {
    id: u64,
    /// Rows not deleted.
    rows: usize,
    /// Rows its deletion file removes.
    deleted: usize,
}

/// The size tier of a fragment of `rows` rows: 0 for small ones (see [`TIER_FANOUT`]).
fn tier(rows: usize) -> u32 {
    let mut tier = 0;
    let mut bound = SMALL_FRAGMENT_ROWS;
    while rows >= bound {
        tier += 1;
        bound = bound.saturating_mul(TIER_FANOUT);
    }
    tier
}

/// The fragments of a table that compaction rewrites (as few files as their rows need), in
/// id order; empty when the table needs nothing.
///
/// Only fragments that gain from it are rewritten: a tier of same-sized fragments that would
/// fit in fewer files, and fragments with deletions worth dropping. The rest keep their
/// files, which every retained version then shares: compacting a big table written to one
/// row at a time costs the small writes' rows, not the table's, in time and on disk.
fn plan_rewrite(fragments: &[FragmentSize], policy: &CompactionPolicy) -> Vec<u64> {
    let mut chosen = std::collections::BTreeSet::new();
    let mut tiers: std::collections::BTreeMap<u32, Vec<&FragmentSize>> = Default::default();
    for f in fragments {
        tiers.entry(tier(f.rows)).or_default().push(f);
        let total = f.rows + f.deleted;
        let heavy = f.deleted > 0
            && (tier(f.rows) == 0 || f.deleted as f64 >= total as f64 * MAX_DELETED_SHARE);
        if heavy {
            chosen.insert(f.id);
        }
    }
    for (tier, group) in &tiers {
        let enough = if *tier == 0 {
            group.len() >= 2 && fragments.len() >= policy.min_fragments
        } else {
            group.len() >= TIER_FANOUT
        };
        let rows: usize = group.iter().map(|f| f.rows).sum();
        let fewer_files = rows.div_ceil(MAX_ROWS_PER_FILE) < group.len();
        if enough && fewer_files {
            chosen.extend(group.iter().map(|f| f.id));
        }
    }
    chosen.into_iter().collect()
}

fn fragment_sizes(ds: &lance::Dataset) -> Vec<FragmentSize> {
    ds.fragments()
        .iter()
        .map(|f| {
            let deleted = f
                .deletion_file
                .as_ref()
                .and_then(|d| d.num_deleted_rows)
                .unwrap_or(0);
            FragmentSize {
                id: f.id,
                rows: f.num_rows().or(f.physical_rows).unwrap_or(0),
                deleted,
            }
        })
        .collect()
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
                let sizes = fragment_sizes(&ds);
                let rewrite = plan_rewrite(&sizes, policy);
                if rewrite.is_empty() {
                    continue;
                }
                let rewritten: Vec<_> = ds
                    .fragments()
                    .iter()
                    .filter(|f| rewrite.binary_search(&f.id).is_ok())
                    .cloned()
                    .collect();
                let rewritten_rows: u64 = sizes
                    .iter()
                    .filter(|f| rewrite.binary_search(&f.id).is_ok())
                    .map(|f| f.rows as u64)
                    .sum();
                let mut staged = StagedTable::new(ds.clone());
                staged.remove_fragments(rewrite.iter().copied());
                let columns: Vec<String> =
                    ds.schema().fields.iter().map(|f| f.name.clone()).collect();
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                // Streamed: at most one file's rows (MAX_ROWS_PER_FILE) are held at a time.
                let mut scanner = ds.scan();
                scanner.project(&columns)?.with_fragments(rewritten);
                let mut stream = scanner.try_into_stream().await?;
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
                // Indexes cover every row again: the new files are in no index yet.
                staged.rebuild_indexes_fully(crate::index::index_specs(&snap.catalog, &tk));
                let new_files = rewritten_rows.div_ceil(MAX_ROWS_PER_FILE as u64) as usize;
                tables.push(TableCompaction {
                    table_key: key.clone(),
                    fragments_before: sizes.len(),
                    fragments_after: sizes.len() - rewrite.len() + new_files,
                    rows: snap.row_count(&tk),
                    rows_rewritten: rewritten_rows,
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

    fn sizes(rows: &[usize]) -> Vec<FragmentSize> {
        rows.iter()
            .enumerate()
            .map(|(i, &rows)| FragmentSize {
                id: i as u64,
                rows,
                deleted: 0,
            })
            .collect()
    }

    #[test]
    fn small_fragments_are_merged_once_the_table_has_enough() {
        let policy = CompactionPolicy { min_fragments: 8 };
        assert!(plan_rewrite(&sizes(&[10]), &policy).is_empty());
        assert!(
            plan_rewrite(&sizes(&[10; 7]), &policy).is_empty(),
            "below the minimum"
        );
        assert_eq!(
            plan_rewrite(&sizes(&[10; 8]), &policy),
            (0..8).collect::<Vec<_>>()
        );
        assert!(plan_rewrite(&[], &policy).is_empty());
    }

    #[test]
    fn a_big_fragment_keeps_its_files_while_the_small_ones_beside_it_merge() {
        let policy = CompactionPolicy { min_fragments: 8 };
        // 100,000 rows loaded, then single-row writes: only the writes are rewritten.
        let mut rows = vec![100_000];
        rows.extend([1; 9]);
        assert_eq!(
            plan_rewrite(&sizes(&rows), &policy),
            (1..10).collect::<Vec<_>>()
        );
        // Merged writes climb a tier; a tier is merged once it holds TIER_FANOUT fragments.
        let mut rows = vec![100_000, 5_000, 6_000, 7_000];
        rows.extend([1; 5]);
        assert_eq!(
            plan_rewrite(&sizes(&rows), &policy),
            (4..9).collect::<Vec<_>>()
        );
        let rows = [5_000; TIER_FANOUT];
        assert_eq!(plan_rewrite(&sizes(&rows), &policy).len(), TIER_FANOUT);
        // Full files are never merged: it would not make fewer of them.
        let full = [MAX_ROWS_PER_FILE; 12];
        assert!(plan_rewrite(&sizes(&full), &policy).is_empty());
        // Nor is a tier whose rows need as many files as it has.
        let big = [MAX_ROWS_PER_FILE - 1; TIER_FANOUT];
        assert!(plan_rewrite(&sizes(&big), &policy).is_empty());
    }

    #[test]
    fn fragments_with_enough_deleted_rows_are_rewritten_without_them() {
        let policy = CompactionPolicy { min_fragments: 8 };
        let with = |rows, deleted| FragmentSize {
            id: 0,
            rows,
            deleted,
        };
        assert_eq!(plan_rewrite(&[with(3, 1)], &policy), vec![0], "small");
        assert_eq!(plan_rewrite(&[with(90_000, 10_000)], &policy), vec![0]);
        assert!(
            plan_rewrite(&[with(99_000, 1_000)], &policy).is_empty(),
            "1% deleted: kept with its deletion file"
        );
    }
}
