//! Mutations: insert, update and delete statements applied in order against an in-memory
//! overlay of the latest graph version (so later statements see earlier ones), every
//! constraint enforced, and the whole of it published as ONE new graph version, or nothing.
//!
//! - `overlay`: one table's live rows (stored minus deleted plus inserted), found by pushdown.
//! - `rows`: column descriptions, canonical values and per-row rules.
//! - `statements`: the five statements.

mod group;
mod overlay;
mod rows;
mod statements;

use std::collections::{BTreeMap, BTreeSet};

use omnigraph_lang::query::typed::MutationStmt;
use serde::{Deserialize, Serialize};

use self::overlay::TableOverlay;
use self::rows::TableColumns;
use crate::error::{EngineError, Result};
use crate::graph::{Change, Snapshot};
use crate::query::params::BoundParams;
use crate::table_key::{TableKey, TableKind};

/// What a mutation did, and the graph version it published (the version it started from,
/// when it changed nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationReport {
    pub version: u64,
    pub nodes_inserted: u64,
    pub nodes_updated: u64,
    pub nodes_deleted: u64,
    pub edges_inserted: u64,
    /// Including edges deleted because a node they touched was deleted.
    pub edges_deleted: u64,
    pub affected_nodes: u64,
    pub affected_edges: u64,
}

/// Apply `stmts` (compiled against `compiled_on`'s schema) in order and publish them as
/// one graph version of `compiled_on`'s branch (together with other mutations that arrive
/// meanwhile: group.rs); any failure publishes nothing of this mutation.
pub async fn apply_mutation(
    compiled_on: &Snapshot,
    stmts: &[MutationStmt],
    params: BoundParams,
    actor: &str,
) -> Result<MutationReport> {
    group::submit(compiled_on, stmts, params, actor).await
}

/// The state of one mutation in progress.
pub(crate) struct Mutator {
    snap: Snapshot,
    params: BoundParams,
    tables: BTreeMap<TableKey, TableOverlay>,
    /// Tables read to validate the change (endpoint node tables, cascaded edge tables).
    read_deps: BTreeSet<TableKey>,
    counts: MutationReport,
}

impl Mutator {
    pub(crate) fn new(snap: Snapshot, params: BoundParams) -> Mutator {
        Mutator {
            snap,
            params,
            tables: BTreeMap::new(),
            read_deps: BTreeSet::new(),
            counts: MutationReport::default(),
        }
    }

    /// What [`restore`](Self::restore) brings back: the overlays and dependencies as they
    /// are now (a group commit takes one before each of its mutations).
    fn savepoint(&self) -> (BTreeMap<TableKey, TableOverlay>, BTreeSet<TableKey>) {
        (self.tables.clone(), self.read_deps.clone())
    }

    /// Undo everything applied since `saved` was taken.
    fn restore(&mut self, saved: (BTreeMap<TableKey, TableOverlay>, BTreeSet<TableKey>)) {
        (self.tables, self.read_deps) = saved;
        self.counts = MutationReport::default();
    }

    async fn apply(&mut self, stmt: &MutationStmt) -> Result<()> {
        match stmt {
            MutationStmt::InsertNode { node_type, values } => {
                self.insert_node(node_type, values).await
            }
            MutationStmt::InsertEdge {
                edge_type,
                from,
                to,
                values,
            } => self.insert_edge(edge_type, from, to, values).await,
            MutationStmt::Update {
                node_type,
                set,
                filter,
            } => self.update_nodes(node_type, set, filter.as_ref()).await,
            MutationStmt::DeleteNode { node_type, filter } => {
                self.delete_nodes(node_type, filter.as_ref()).await
            }
            MutationStmt::DeleteEdge { edge_type, filter } => {
                self.delete_edges(edge_type, filter.as_ref()).await
            }
        }
    }

    /// The overlay of `tk`, opened at the base version on first use.
    async fn overlay(&mut self, tk: &TableKey) -> Result<&mut TableOverlay> {
        if !self.tables.contains_key(tk) {
            let catalog = &self.snap.catalog;
            let columns = match tk.kind {
                TableKind::Node => {
                    TableColumns::node(catalog.node(&tk.type_name).ok_or_else(|| {
                        EngineError::Invalid(format!("unknown node type `{}`", tk.type_name))
                    })?)?
                }
                TableKind::Edge => TableColumns::edge(
                    catalog,
                    catalog.edge(&tk.type_name).ok_or_else(|| {
                        EngineError::Invalid(format!("unknown edge type `{}`", tk.type_name))
                    })?,
                )?,
            };
            let base = self.snap.table(tk).await?;
            self.tables
                .insert(tk.clone(), TableOverlay::new(columns, base));
        }
        self.tables
            .get_mut(tk)
            .ok_or_else(|| EngineError::Corrupt(format!("overlay of {tk} vanished")))
    }

    /// Stage every changed table; the change also names the tables it validated against.
    async fn finish(self) -> Result<(Change, MutationReport)> {
        let mut change = Change::new();
        for (tk, overlay) in self.tables {
            if overlay.has_changes() {
                change.staged.insert(tk, overlay.stage().await?);
            }
        }
        change.read_deps = self.read_deps;
        Ok((change, self.counts))
    }
}
