//! Checks of a load that need the whole file: endpoints that appeared before their node,
//! merge replacements, @unique against stored rows, @card, and edges left dangling by an
//! overwrite.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, UInt64Array};

use super::{LoadMode, Loader, ROW_ADDR};
use crate::columns::{cell_key_text, DST_COLUMN, SRC_COLUMN};
use crate::error::{EngineError, LineError, Result};
use crate::table::scan_columns;
use crate::table_key::{TableKey, TableKind};

impl Loader {
    pub(super) async fn run_checks(&mut self) -> Result<()> {
        self.check_pending_endpoints().await?;
        if self.mode == LoadMode::Merge {
            self.replace_merged_nodes().await?;
            self.replace_merged_edges().await?;
        }
        self.check_unique_against_stored().await?;
        self.check_card_against_stored().await?;
        if self.mode == LoadMode::Overwrite {
            self.check_overwrite_leaves_no_dangling_edges().await?;
        }
        Ok(())
    }

    fn overwritten(&self, node_type: &str) -> bool {
        self.mode == LoadMode::Overwrite && self.tables.contains_key(&TableKey::node(node_type))
    }

    async fn check_pending_endpoints(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut errors = vec![];
        for p in &pending {
            if self
                .keys
                .get(&p.node_type)
                .is_some_and(|k| k.file.contains_key(p.key.as_str()))
            {
                continue;
            }
            if !self.overwritten(&p.node_type) {
                self.ensure_stored_keys(&p.node_type).await?;
                if self
                    .keys
                    .get(&p.node_type)
                    .and_then(|k| k.stored.as_ref())
                    .is_some_and(|s| s.contains_key(p.key.as_str()))
                {
                    continue;
                }
            }
            errors.push(LineError {
                line: p.line,
                message: format!("edge endpoint {} `{}` does not exist", p.node_type, p.key),
            });
            if errors.len() >= super::MAX_REPORTED_ERRORS {
                break;
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Load(errors))
        }
    }

    /// Merge mode: a node whose key is stored replaces the stored row.
    async fn replace_merged_nodes(&mut self) -> Result<()> {
        let node_types: Vec<String> = self
            .tables
            .keys()
            .filter(|k| k.kind == TableKind::Node)
            .map(|k| k.type_name.clone())
            .collect();
        for t in node_types {
            self.ensure_stored_keys(&t).await?;
            let addrs: Vec<u64> = match self.keys.get(&t) {
                Some(k) => k
                    .file
                    .keys()
                    .filter_map(|key| k.stored.as_ref()?.get(key.as_str()).copied())
                    .collect(),
                None => vec![],
            };
            let staged = self.staged_mut(&TableKey::node(&t)).await?;
            for a in addrs {
                staged.delete_row_address(a);
            }
        }
        Ok(())
    }

    /// Merge mode: an edge whose (from, to) is stored replaces the stored edge(s).
    async fn replace_merged_edges(&mut self) -> Result<()> {
        let edge_types: Vec<String> = self.edge_pairs.keys().cloned().collect();
        for t in edge_types {
            let tk = TableKey::edge(&t);
            let ds = self.snap.table(&tk).await?;
            let mut doomed = vec![];
            for batch in scan_columns(&ds, &[SRC_COLUMN, DST_COLUMN], true).await? {
                let addrs = row_addrs(&batch)?;
                let pairs = &self.edge_pairs[&t];
                for i in 0..batch.num_rows() {
                    let pair = (
                        cell_key_text(batch.column(0).as_ref(), i),
                        cell_key_text(batch.column(1).as_ref(), i),
                    );
                    if pairs.contains(&pair) {
                        doomed.push(addrs.value(i));
                    }
                }
            }
            let staged = self.staged_mut(&tk).await?;
            for a in doomed {
                staged.delete_row_address(a);
            }
        }
        Ok(())
    }

    /// A file value of a @unique set may not equal the value of a stored row that stays.
    async fn check_unique_against_stored(&mut self) -> Result<()> {
        let sets: Vec<(String, usize)> = self.unique_values.keys().cloned().collect();
        for (t, i) in sets {
            if self.catalog.edge(&t).is_some() {
                self.check_edge_unique_against_stored(&t, i).await?;
                continue;
            }
            if self.overwritten(&t) {
                continue;
            }
            let node = self
                .catalog
                .node(&t)
                .ok_or_else(|| EngineError::Corrupt(t.clone()))?
                .clone();
            let cols: Vec<&str> = std::iter::once(node.key.as_str())
                .chain(node.unique[i].iter().map(|s| s.as_str()))
                .collect();
            let ds = self.snap.table(&TableKey::node(&t)).await?;
            let file_keys: HashSet<&str> = self
                .keys
                .get(&t)
                .map(|k| k.file.keys().map(|key| key.as_str()).collect())
                .unwrap_or_default();
            let values = &self.unique_values[&(t.clone(), i)];
            for batch in scan_columns(&ds, &cols, false).await? {
                for row in 0..batch.num_rows() {
                    let key = cell_key_text(batch.column(0).as_ref(), row);
                    if file_keys.contains(key.as_str()) {
                        continue; // replaced by the file's row
                    }
                    let parts: Vec<serde_json::Value> = (1..cols.len())
                        .map(|c| crate::columns::cell_json(batch.column(c).as_ref(), row))
                        .collect();
                    if parts.iter().any(|v| v.is_null()) {
                        continue;
                    }
                    let value = serde_json::to_string(&parts).unwrap_or_default();
                    if let Some((_, line)) = values.get(&value) {
                        return Err(EngineError::Load(vec![LineError {
                            line: *line,
                            message: format!(
                                "@unique({}) value already belongs to {t} `{key}`",
                                node.unique[i].join(", ")
                            ),
                        }]));
                    }
                }
            }
        }
        Ok(())
    }

    /// An edge's @unique set (which may name the endpoints, `from`/`to`): a file value may
    /// not equal the value of a stored edge that stays (all are replaced on overwrite; in
    /// merge mode an edge of the file replaces the stored one with the same endpoints).
    async fn check_edge_unique_against_stored(&mut self, t: &str, i: usize) -> Result<()> {
        if self.mode == LoadMode::Overwrite {
            return Ok(());
        }
        let edge = self
            .catalog
            .edge(t)
            .ok_or_else(|| EngineError::Corrupt(t.to_string()))?
            .clone();
        let set = &edge.unique[i];
        let mut cols: Vec<&str> = vec![SRC_COLUMN, DST_COLUMN];
        cols.extend(
            set.iter()
                .filter(|p| *p != "from" && *p != "to")
                .map(String::as_str),
        );
        let ds = self.snap.table(&TableKey::edge(t)).await?;
        let replaced = self.edge_pairs.get(t);
        let values = &self.unique_values[&(t.to_string(), i)];
        for batch in scan_columns(&ds, &cols, false).await? {
            for row in 0..batch.num_rows() {
                let src = cell_key_text(batch.column(0).as_ref(), row);
                let dst = cell_key_text(batch.column(1).as_ref(), row);
                if replaced.is_some_and(|r| r.contains(&(src.clone(), dst.clone()))) {
                    continue;
                }
                let parts: Vec<serde_json::Value> = set
                    .iter()
                    .map(|p| match p.as_str() {
                        "from" => serde_json::Value::String(src.clone()),
                        "to" => serde_json::Value::String(dst.clone()),
                        other => cols
                            .iter()
                            .position(|c| *c == other)
                            .map(|c| crate::columns::cell_json(batch.column(c).as_ref(), row))
                            .unwrap_or(serde_json::Value::Null),
                    })
                    .collect();
                if parts.iter().any(|v| v.is_null()) {
                    continue;
                }
                let value = serde_json::to_string(&parts).unwrap_or_default();
                if let Some((_, line)) = values.get(&value) {
                    return Err(EngineError::Load(vec![LineError {
                        line: *line,
                        message: format!(
                            "@unique({}) value already belongs to {t} {src} -> {dst}",
                            set.join(", ")
                        ),
                    }]));
                }
            }
        }
        Ok(())
    }

    /// @card maximum: stored edges that stay plus the file's edges, per source node.
    async fn check_card_against_stored(&mut self) -> Result<()> {
        let types: Vec<String> = self.src_counts.keys().cloned().collect();
        for t in types {
            let edge = self
                .catalog
                .edge(&t)
                .ok_or_else(|| EngineError::Corrupt(t.clone()))?
                .clone();
            let Some(max) = edge.card.and_then(|c| c.max) else {
                continue;
            };
            if self.mode == LoadMode::Overwrite {
                continue; // stored edges of this type are all replaced
            }
            let ds = self.snap.table(&TableKey::edge(&t)).await?;
            let replaced = self.edge_pairs.get(&t);
            let mut counts: HashMap<String, (u32, u64)> = self.src_counts[&t].clone();
            for batch in scan_columns(&ds, &[SRC_COLUMN, DST_COLUMN], false).await? {
                for row in 0..batch.num_rows() {
                    let src = cell_key_text(batch.column(0).as_ref(), row);
                    if !counts.contains_key(&src) {
                        continue;
                    }
                    let dst = cell_key_text(batch.column(1).as_ref(), row);
                    if replaced.is_some_and(|r| r.contains(&(src.clone(), dst))) {
                        continue;
                    }
                    let n = counts.entry(src.clone()).or_default();
                    n.0 += 1;
                    if n.0 > max {
                        return Err(EngineError::Load(vec![LineError {
                            line: n.1,
                            message: format!(
                                "@card: {} `{src}` would have more than {max} {t} edge(s)",
                                edge.from
                            ),
                        }]));
                    }
                }
            }
        }
        Ok(())
    }

    /// Overwrite replaces node types wholesale; stored edges of types not in the file must
    /// still point at nodes that exist afterwards.
    async fn check_overwrite_leaves_no_dangling_edges(&mut self) -> Result<()> {
        let catalog = self.catalog.clone();
        for edge in &catalog.edges {
            if self.tables.contains_key(&TableKey::edge(&edge.name)) {
                continue;
            }
            let ends = [(&edge.from, 0usize), (&edge.to, 1usize)];
            if !ends.iter().any(|(t, _)| self.overwritten(t)) {
                continue;
            }
            let ds = self.snap.table(&TableKey::edge(&edge.name)).await?;
            for batch in scan_columns(&ds, &[SRC_COLUMN, DST_COLUMN], false).await? {
                for (t, col) in ends {
                    if !self.overwritten(t) {
                        continue;
                    }
                    let file = self.keys.get(t.as_str()).map(|k| &k.file);
                    for row in 0..batch.num_rows() {
                        let key = cell_key_text(batch.column(col).as_ref(), row);
                        if !file.is_some_and(|f| f.contains_key(key.as_str())) {
                            return Err(EngineError::Constraint(format!(
                                "overwriting {t} would leave stored {} edges pointing at {t} `{key}`; \
                                 include {} in the file or delete those edges first",
                                edge.name, edge.name
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn row_addrs(batch: &arrow::record_batch::RecordBatch) -> Result<&UInt64Array> {
    batch
        .column_by_name(ROW_ADDR)
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .ok_or_else(|| EngineError::Corrupt("scan without row addresses".into()))
}
