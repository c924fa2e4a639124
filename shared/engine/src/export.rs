//! Export a graph version as JSONL in the bulk-load format: nodes first, then edges, so the
//! output loads back (in any mode) into an identical graph.

use std::io::Write;

use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use serde_json::{json, Map, Value};

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

/// Write every row of the snapshot to `out`, one JSON object per line, batch by batch.
pub async fn export(
    snap: &Snapshot,
    filter: &ExportFilter,
    out: &mut (dyn Write + Send),
) -> Result<u64> {
    let mut lines = 0;
    for node in &snap.catalog.nodes {
        if !filter.wants(&node.name) {
            continue;
        }
        let ds = snap.table(&TableKey::node(&node.name)).await?;
        let mut stream = ds.scan().try_into_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            for row in node_lines(&node.name, &batch) {
                writeln!(out, "{row}")?;
                lines += 1;
            }
        }
    }
    for edge in &snap.catalog.edges {
        if !filter.wants(&edge.name) {
            continue;
        }
        let ds = snap.table(&TableKey::edge(&edge.name)).await?;
        let mut stream = ds.scan().try_into_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            for row in edge_lines(&edge.name, &batch) {
                writeln!(out, "{row}")?;
                lines += 1;
            }
        }
    }
    Ok(lines)
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
