//! Export a graph version as JSONL in the bulk-load format: nodes first, then edges, so the
//! output loads back (in any mode) into an identical graph.

use std::io::Write;

use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::columns::{cell_json, DST_COLUMN, SRC_COLUMN};
use crate::error::Result;
use crate::graph::Snapshot;
use crate::table_key::TableKey;

/// Which types to export; empty means all.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub types: Vec<String>,
}

impl ExportFilter {
    fn wants(&self, name: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == name)
    }
}

/// Chunks the export channel holds before the producer waits for the consumer: memory
/// stays bounded by a few Lance batches whatever the graph's size.
const CHANNEL_CHUNKS: usize = 4;

/// The export as NDJSON chunks, one per Lance batch, produced by a task that stops when
/// the receiver is dropped. An error ends the stream with `Err`.
pub fn export_stream(snap: Snapshot, filter: ExportFilter) -> mpsc::Receiver<Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::spawn(async move {
        if let Err(e) = send_chunks(&snap, &filter, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

/// Write every row of the snapshot to `out`, one JSON object per line; returns the line count.
pub async fn export(
    snap: &Snapshot,
    filter: &ExportFilter,
    out: &mut (dyn Write + Send),
) -> Result<u64> {
    let mut chunks = export_stream(snap.clone(), filter.clone());
    let mut lines = 0;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        out.write_all(&chunk)?;
    }
    Ok(lines)
}

/// Nodes first, then edges; returns early (not an error) when the receiver is gone.
async fn send_chunks(
    snap: &Snapshot,
    filter: &ExportFilter,
    tx: &mpsc::Sender<Result<Vec<u8>>>,
) -> Result<()> {
    let nodes = snap
        .catalog
        .nodes
        .iter()
        .map(|n| (TableKey::node(&n.name), &n.name, false));
    let edges = snap
        .catalog
        .edges
        .iter()
        .map(|e| (TableKey::edge(&e.name), &e.name, true));
    for (key, name, is_edge) in nodes.chain(edges) {
        if !filter.wants(name) {
            continue;
        }
        let ds = snap.table(&key).await?;
        let mut stream = ds.scan().try_into_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            let mut chunk = Vec::with_capacity(batch.num_rows() * 64);
            let rows = if is_edge {
                edge_lines(name, &batch)
            } else {
                node_lines(name, &batch)
            };
            for row in rows {
                writeln!(chunk, "{row}")?;
            }
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn props(batch: &RecordBatch, row: usize, skip_endpoints: bool) -> Map<String, Value> {
    let mut data = Map::new();
    for (i, f) in batch.schema().fields().iter().enumerate() {
        if skip_endpoints && (f.name() == SRC_COLUMN || f.name() == DST_COLUMN) {
            continue;
        }
        let v = cell_json(batch.column(i).as_ref(), row);
        if !v.is_null() {
            data.insert(f.name().clone(), v);
        }
    }
    data
}

pub fn node_lines(type_name: &str, batch: &RecordBatch) -> Vec<String> {
    (0..batch.num_rows())
        .map(|r| json!({"type": type_name, "data": props(batch, r, false)}).to_string())
        .collect()
}

pub fn edge_lines(edge_name: &str, batch: &RecordBatch) -> Vec<String> {
    let (Some(src), Some(dst)) = (
        batch.column_by_name(SRC_COLUMN),
        batch.column_by_name(DST_COLUMN),
    ) else {
        return vec![];
    };
    (0..batch.num_rows())
        .map(|r| {
            let mut obj = json!({"edge": edge_name, "from": cell_json(src.as_ref(), r), "to": cell_json(dst.as_ref(), r)});
            let data = props(batch, r, true);
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            obj.to_string()
        })
        .collect()
}
