//! One Lance dataset per node or edge type, read at the version a manifest names and
//! written with *detached* commits.
//!
//! A detached commit creates a new table version off the main Lance history without moving the
//! table's HEAD. The graph manifest is the only lineage that matters: a table version becomes
//! visible only when a published manifest names it. So rows of a change that never published
//! (crash, conflict, validation failure) are unreachable by construction, for readers and for
//! the next writer alike, with no repair step.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchIterator};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::{CommitBuilder, InsertBuilder, WriteMode, WriteParams};
use lance::session::Session;
use lance::Dataset;
use lance_table::format::Fragment;

use crate::error::{EngineError, Result};

/// Rows per Lance data file; large enough for sequential scans, small enough to parallelise.
pub const MAX_ROWS_PER_FILE: usize = 1024 * 1024;

/// Create an empty dataset with `schema` at `uri`; returns its version.
pub async fn create_empty(uri: &str, schema: SchemaRef) -> Result<u64> {
    Ok(create_with_rows(uri, schema, vec![])
        .await?
        .version()
        .version)
}

/// Create a dataset with `schema` at `uri` holding `batches`: its version 1, or an error
/// when any version is there already.
///
/// Strict: Lance's own create (`Dataset::write` in create mode) commits an overwrite that
/// its retry loop rebases when another process created the table between the write's two
/// existence checks, so the loser of two concurrent creates would add version 2 on top of
/// the winner's version 1 and report success. Committing with no retries makes the
/// overwrite strict: the loser gets an error and can open the winner's version instead.
pub async fn create_with_rows(
    uri: &str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<Dataset> {
    let store_params = crate::storage_metrics::store_params(uri);
    let params = WriteParams {
        mode: WriteMode::Create,
        max_rows_per_file: MAX_ROWS_PER_FILE,
        // Never let Lance collect versions: a published manifest may still name them.
        auto_cleanup: None,
        skip_auto_cleanup: true,
        store_params: Some(store_params.clone()),
        ..Default::default()
    };
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    let txn = InsertBuilder::new(uri)
        .with_params(&params)
        .execute_uncommitted_stream(reader)
        .await?;
    Ok(CommitBuilder::new(uri)
        .with_store_params(store_params)
        .with_skip_auto_cleanup(true)
        .with_max_retries(0)
        .execute(txn)
        .await?)
}

/// Open a dataset at exactly `version` (cheap: no listing of the version directory).
pub async fn open_at(session: &Arc<Session>, uri: &str, version: u64) -> Result<Arc<Dataset>> {
    let ds = DatasetBuilder::from_uri(uri)
        .with_session(session.clone())
        .with_store_params(crate::storage_metrics::store_params(uri))
        .with_version(version)
        .load()
        .await?;
    Ok(Arc::new(ds))
}

/// Write rows as data files for `base`'s table without committing anything.
pub async fn write_fragments(base: Arc<Dataset>, batch: RecordBatch) -> Result<Vec<Fragment>> {
    if batch.num_rows() == 0 {
        return Ok(vec![]);
    }
    let batch = in_table_order(&base, batch)?;
    let params = WriteParams {
        mode: WriteMode::Append,
        max_rows_per_file: MAX_ROWS_PER_FILE,
        skip_auto_cleanup: true,
        ..Default::default()
    };
    let txn = InsertBuilder::new(base)
        .with_params(&params)
        .execute_uncommitted(vec![batch])
        .await?;
    match txn.operation {
        Operation::Append { fragments } | Operation::Overwrite { fragments, .. } => Ok(fragments),
        other => Err(EngineError::Corrupt(format!(
            "unexpected staged operation {other:?}"
        ))),
    }
}

/// `batch` with its columns in the order of the table's schema: a property added by a
/// schema apply is the table's last column wherever the schema declares it.
fn in_table_order(base: &Dataset, batch: RecordBatch) -> Result<RecordBatch> {
    let fields = &base.schema().fields;
    let in_order = fields.len() == batch.num_columns()
        && fields
            .iter()
            .zip(batch.schema().fields())
            .all(|(t, b)| &t.name == b.name());
    if in_order {
        return Ok(batch);
    }
    let indices = fields
        .iter()
        .map(|f| batch.schema().index_of(&f.name))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(batch.project(&indices)?)
}

/// Name of the row-address column a scan adds when asked for it.
pub const ROW_ADDR: &str = "_rowaddr";

/// Scan `columns` of a table version, optionally with each row's Lance row address.
pub async fn scan_columns(
    ds: &Dataset,
    columns: &[&str],
    with_row_address: bool,
) -> Result<Vec<RecordBatch>> {
    scan_fragments(ds, columns, None, with_row_address).await
}

/// Like [`scan_columns`], over only `fragments` of the version when given.
pub async fn scan_fragments(
    ds: &Dataset,
    columns: &[&str],
    fragments: Option<Vec<Fragment>>,
    with_row_address: bool,
) -> Result<Vec<RecordBatch>> {
    use futures::TryStreamExt;
    let mut scanner = ds.scan();
    scanner.project(columns)?;
    if let Some(fragments) = fragments {
        scanner.with_fragments(fragments);
    }
    if with_row_address {
        scanner.with_row_address();
    }
    let stream = scanner.try_into_stream().await?;
    Ok(stream.try_collect().await?)
}

pub(crate) async fn commit_detached(base: &Arc<Dataset>, op: Operation) -> Result<Arc<Dataset>> {
    let txn = Transaction::new(base.version().version, op, None);
    let ds = CommitBuilder::new(base.clone())
        .with_detached(true)
        .with_skip_auto_cleanup(true)
        .execute(txn)
        .await?;
    Ok(Arc::new(ds))
}
