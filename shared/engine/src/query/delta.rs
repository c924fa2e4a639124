//! What changed in a table between two versions, read from Lance fragment metadata alone:
//! rows deleted (by row address) and fragments appended. Writers of this engine only delete
//! rows (deletion files) and append fragments, so that is the whole difference; anything
//! else (a rewritten or compacted fragment, an overwrite, rows that came back) is reported
//! as "not patchable" and the caller rebuilds from scratch.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, UInt64Array};
use futures::TryStreamExt;
use lance::Dataset;
use lance_table::format::Fragment;

use crate::error::{EngineError, Result};

use crate::table::ROW_ADDR;

pub struct TableDelta {
    /// Fragments of the old version that the new one dropped (all their rows are gone).
    pub removed_fragments: Vec<u64>,
    /// Row addresses deleted in fragments both versions hold (may include rows that were
    /// already deleted in the old version; callers intersect with what they hold).
    pub deleted: Vec<u64>,
    /// Fragments only the new version holds, all with ids above every old fragment id.
    pub appended: Vec<Fragment>,
}

impl TableDelta {
    pub fn appended_rows(&self) -> usize {
        self.appended
            .iter()
            .map(|f| f.physical_rows.unwrap_or(0))
            .sum()
    }
}

/// The delta from `old` to `new`, or None when `new` is not `old` plus deletions and appends.
/// (Lance numbers detached versions arbitrarily, so version numbers say nothing about order.)
pub async fn table_delta(old: &Dataset, new: &Dataset) -> Result<Option<TableDelta>> {
    let before: BTreeMap<u64, &Fragment> = old.fragments().iter().map(|f| (f.id, f)).collect();
    let max_old = before.keys().next_back().copied();
    let mut delta = TableDelta {
        removed_fragments: vec![],
        deleted: vec![],
        appended: vec![],
    };
    let mut seen = vec![];
    for f in new.fragments().iter() {
        let Some(prev) = before.get(&f.id) else {
            if max_old.is_some_and(|m| f.id <= m) {
                return Ok(None);
            }
            delta.appended.push(f.clone());
            continue;
        };
        seen.push(f.id);
        let same_files = prev.files.len() == f.files.len()
            && prev
                .files
                .iter()
                .zip(&f.files)
                .all(|(a, b)| a.path == b.path);
        if !same_files || !prev.overlays.is_empty() || !f.overlays.is_empty() {
            return Ok(None);
        }
        let same_deletions = match (&prev.deletion_file, &f.deletion_file) {
            (None, None) => true,
            (Some(a), Some(b)) => a.id == b.id && a.read_version == b.read_version,
            _ => false,
        };
        if !same_deletions {
            // Deletions only ever grow along published versions; anything else is not a delta.
            let was = deleted_addresses(old, f.id).await?;
            let now = deleted_addresses(new, f.id).await?;
            let now_set: std::collections::HashSet<u64> = now.iter().copied().collect();
            if !was.iter().all(|a| now_set.contains(a)) {
                return Ok(None);
            }
            delta.deleted.extend(now);
        }
    }
    delta.removed_fragments = before
        .keys()
        .filter(|id| !seen.contains(id))
        .copied()
        .collect();
    Ok(Some(delta))
}

/// Row addresses of every row the new version's deletion file marks in fragment `id`.
async fn deleted_addresses(ds: &Dataset, id: u64) -> Result<Vec<u64>> {
    let frag = ds
        .get_fragment(id as usize)
        .ok_or_else(|| EngineError::Corrupt(format!("fragment {id} missing")))?;
    Ok(match frag.get_deletion_vector().await? {
        Some(dv) => dv
            .iter()
            .map(|offset| (id << 32) | u64::from(offset))
            .collect(),
        None => vec![],
    })
}

/// `columns` and row addresses of the rows in `fragments` (the appended ones), in scan order.
pub async fn scan_fragments(
    ds: &Dataset,
    fragments: &[Fragment],
    columns: &[&str],
) -> Result<(Vec<ArrayRef>, Vec<u64>)> {
    let mut out: Vec<Vec<ArrayRef>> = vec![vec![]; columns.len()];
    let mut addrs = vec![];
    if fragments.is_empty() {
        return Ok((vec![], addrs));
    }
    let mut scanner = ds.scan();
    scanner.project(columns)?;
    scanner.with_fragments(fragments.to_vec());
    scanner.with_row_address();
    let mut stream = scanner.try_into_stream().await?;
    while let Some(batch) = stream.try_next().await? {
        for (i, col) in out.iter_mut().enumerate() {
            col.push(batch.column(i).clone());
        }
        let a = batch
            .column_by_name(ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))?;
        addrs.extend(a.values().iter().copied());
    }
    if addrs.is_empty() {
        return Ok((vec![], addrs));
    }
    let arrays = out
        .into_iter()
        .map(|parts| {
            let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrow::compute::concat(&refs)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((arrays, addrs))
}

/// A column of a table version (of the rows passing `filter`, a Lance SQL predicate, when
/// given) plus each row's address, in scan order.
pub async fn scan_with_addresses(
    ds: &Dataset,
    column: &str,
    filter: Option<&str>,
) -> Result<(Vec<ArrayRef>, Vec<u64>)> {
    let mut scanner = ds.scan();
    scanner.project(&[column])?;
    if let Some(filter) = filter {
        scanner.filter(filter)?;
    }
    scanner.with_row_address();
    let mut stream = scanner.try_into_stream().await?;
    let mut parts = vec![];
    let mut addrs = vec![];
    while let Some(batch) = stream.try_next().await? {
        parts.push(batch.column(0).clone());
        let a = batch
            .column_by_name(ROW_ADDR)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))?;
        addrs.extend(a.values().iter().copied());
    }
    Ok((parts, addrs))
}
