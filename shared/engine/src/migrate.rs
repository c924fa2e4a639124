//! Schema apply: migrate a branch to a new schema as ONE new graph version.
//!
//! `omnigraph_lang::plan_migration` lists the steps; here they are checked against the
//! stored rows and applied, all as detached table versions that become visible only with
//! the manifest that names them (with the new schema text), so a migration is atomic like
//! any other write: readers see the old schema and old tables, or the new ones.
//!
//! Most steps touch no data: a new type is a new empty table; a renamed type is the same
//! table under a new key; renamed and dropped properties are a Lance projection of the
//! table's schema; a new optional property is an all-null column that no file stores; a
//! property made optional, an enum grown, a constraint dropped change only the schema
//! text. Steps that rows can refuse (a property made required, a new `@unique`, `@range`,
//! `@check` or `@card`, a required property added to a table that has rows) are checked
//! against the branch head and refuse the whole migration, naming the offending rows.
//!
//! A dropped type or property stays readable at earlier versions (time travel). With
//! `allow_data_loss` its data is deleted from storage instead: a dropped type's table and
//! the files of a table that lost a property (rewritten without it) are removed once the
//! new version is published, unless another branch's head still uses them; versions that
//! named them then answer "not found" with the reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow_schema::Schema as ArrowSchema;
use futures::TryStreamExt;
use lance::dataset::transaction::Operation;
use lance::Dataset;
use object_store::ObjectStoreExt;
use omnigraph_lang::{Catalog, Constraint, MigrationStep, TypeKind};
use serde::Serialize;

use crate::columns::{cell_json, cell_key_text, edge_schema, node_schema, DST_COLUMN, SRC_COLUMN};
use crate::constraints::RowRules;
use crate::error::{EngineError, Result};
use crate::graph::{new_table, table_dir, Change, Graph, SchemaChange, Snapshot};
use crate::manifest::TableEntry;
use crate::table::{commit_detached, create_with_rows, scan_columns};
use crate::table_key::{dropped_marker, TableKey};

/// How many times an apply is planned again after a writer published first.
const MAX_ATTEMPTS: usize = 10;
/// How many offending rows a refused step names.
const MAX_NAMED_ROWS: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Delete the data of dropped types and properties from storage.
    pub allow_data_loss: bool,
    /// Plan and check, publish nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub branch: String,
    pub steps: Vec<MigrationStep>,
    /// Whether a new version was published (false for a dry run or when nothing changed).
    pub applied: bool,
    /// The branch head after the apply (the new version when applied).
    pub manifest_version: u64,
    /// Table directories whose data was deleted (`allow_data_loss`).
    pub deleted_paths: Vec<String>,
    /// Table directories kept despite `allow_data_loss`, because another branch uses them.
    pub kept_paths: Vec<String>,
}

impl Graph {
    /// Migrate `branch` to `schema_source`. Unsupported steps and steps the stored rows
    /// refuse fail the whole apply (nothing is written).
    pub async fn apply_schema(
        self: &Arc<Self>,
        branch: &str,
        schema_source: &str,
        opts: ApplyOptions,
        actor: &str,
    ) -> Result<MigrationReport> {
        let target = Arc::new(omnigraph_lang::parse_schema(schema_source)?);
        let mut report = MigrationReport {
            branch: branch.to_string(),
            steps: vec![],
            applied: false,
            manifest_version: 0,
            deleted_paths: vec![],
            kept_paths: vec![],
        };
        if opts.dry_run {
            let snap = self.snapshot_on(branch, None).await?;
            let plan = Migration::plan(&snap, &target, opts)?;
            plan.stage(schema_source).await?;
            report.steps = plan.steps;
            report.manifest_version = snap.version();
            return Ok(report);
        }
        // Writers that publish while the migration is staged make it conflict (they wrote
        // under the old schema). Staging is quick, so planning again on the new head
        // succeeds unless writes arrive faster than that, for long.
        let mut attempt = 0;
        let (manifest, (steps, removed, base_version)) = loop {
            attempt += 1;
            let target = target.clone();
            let outcome = self
                .write_on(branch, actor, |snap| async move {
                    let base_version = snap.version();
                    let plan = Migration::plan(&snap, &target, opts)?;
                    if plan.steps.is_empty() && snap.manifest.schema_source == schema_source {
                        return Ok((Change::new(), (vec![], vec![], base_version)));
                    }
                    let (change, removed) = plan.stage(schema_source).await?;
                    Ok((change, (plan.steps, removed, base_version)))
                })
                .await;
            match outcome {
                Err(EngineError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                    tracing::info!(attempt, "schema apply raced a writer; planning again");
                }
                other => break other?,
            }
        };
        report.applied = manifest.version != base_version;
        report.steps = steps;
        report.manifest_version = manifest.version;
        if opts.allow_data_loss && !removed.is_empty() {
            let (deleted, kept) = self
                .delete_unused_tables(&removed, manifest.version, actor)
                .await?;
            report.deleted_paths = deleted;
            report.kept_paths = kept;
        }
        Ok(report)
    }

    /// Deletes the table directories in `paths` that no branch head names; returns
    /// (deleted, kept).
    async fn delete_unused_tables(
        self: &Arc<Self>,
        paths: &[String],
        version: u64,
        actor: &str,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut in_use: HashSet<String> = HashSet::new();
        let mut heads = vec![self.snapshot_on(crate::branch::MAIN, None).await?];
        for r in self.branches().await? {
            match self.snapshot_on(&r.name, None).await {
                Ok(s) => heads.push(s),
                Err(EngineError::NotFound(_)) => {} // deleted meanwhile
                Err(e) => return Err(e),
            }
        }
        for h in &heads {
            in_use.extend(h.manifest.tables.values().map(|e| e.path.clone()));
        }
        let (mut deleted, mut kept) = (vec![], vec![]);
        for path in paths {
            if in_use.contains(path) {
                kept.push(path.clone());
                continue;
            }
            let loc = self.location();
            let marker = serde_json::json!({
                "path": path, "deleted_in_version": version, "actor": actor,
                "deleted_at": crate::manifest::now(),
            });
            loc.store
                .put(
                    &loc.path(&dropped_marker(path)),
                    bytes::Bytes::from(marker.to_string()).into(),
                )
                .await?;
            loc.delete_all(path).await?;
            if loc.is_local() {
                let _ = std::fs::remove_dir_all(std::path::Path::new(&loc.uri).join(path));
            }
            deleted.push(path.clone());
        }
        self.forget_tables(&deleted);
        Ok((deleted, kept))
    }
}

/// The checked plan of one apply against one branch head.
struct Migration<'a> {
    snap: &'a Snapshot,
    target: &'a Arc<Catalog>,
    steps: Vec<MigrationStep>,
    opts: ApplyOptions,
    /// New table key -> old table key, for every table kept (renamed or not).
    kept: BTreeMap<TableKey, TableKey>,
}

/// What a table's migration needs: its old and new names of properties, and the steps on it.
#[derive(Default)]
struct TableSteps {
    renames: Vec<(String, String)>,
    drops: Vec<String>,
    adds: Vec<String>,
    /// Rules rows must satisfy now (checked after the column changes).
    checks: Vec<MigrationStep>,
}

impl<'a> Migration<'a> {
    fn plan(snap: &'a Snapshot, target: &'a Arc<Catalog>, opts: ApplyOptions) -> Result<Self> {
        let steps = omnigraph_lang::plan_migration(&snap.catalog, target);
        let unsupported: Vec<String> = steps
            .iter()
            .filter(|s| matches!(s, MigrationStep::Unsupported { .. }))
            .map(|s| s.to_string())
            .collect();
        if !unsupported.is_empty() {
            return Err(EngineError::Invalid(format!(
                "schema apply refused, {} unsupported change(s): {}",
                unsupported.len(),
                unsupported.join("; ")
            )));
        }
        let mut renamed: HashMap<String, String> = HashMap::new();
        for s in &steps {
            if let MigrationStep::RenameType {
                type_kind,
                from,
                to,
                ..
            } = s
            {
                renamed.insert(table_key(*type_kind, to).to_string(), from.clone());
            }
        }
        let mut kept = BTreeMap::new();
        let news = target
            .nodes
            .iter()
            .map(|n| TableKey::node(&n.name))
            .chain(target.edges.iter().map(|e| TableKey::edge(&e.name)));
        for key in news {
            let old_name = renamed.get(&key.to_string()).cloned();
            let old = TableKey {
                kind: key.kind,
                type_name: old_name.unwrap_or_else(|| key.type_name.clone()),
            };
            if snap.manifest.tables.contains_key(&old.to_string()) {
                kept.insert(key, old);
            }
        }
        Ok(Migration {
            snap,
            target,
            steps,
            opts,
            kept,
        })
    }

    /// Checks the steps against the stored rows and stages every table version of the
    /// new graph version; returns the change and the table directories it stops using.
    async fn stage(&self, schema_source: &str) -> Result<(Change, Vec<String>)> {
        let mut per_table: BTreeMap<String, TableSteps> = BTreeMap::new();
        for s in &self.steps {
            let Some(key) = s.table_key() else { continue };
            let t = per_table.entry(key).or_default();
            match s {
                MigrationStep::RenameProperty { from, to, .. } => {
                    t.renames.push((from.clone(), to.clone()))
                }
                MigrationStep::DropProperty { property, .. } => t.drops.push(property.clone()),
                MigrationStep::AddProperty { property, .. } => t.adds.push(property.clone()),
                MigrationStep::SetNullable {
                    nullable: false, ..
                }
                | MigrationStep::AddConstraint { .. } => t.checks.push(s.clone()),
                _ => {}
            }
        }
        let init_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let mut tables = BTreeMap::new();
        let mut removed = vec![];
        let kept_paths: HashSet<&str> = self
            .kept
            .values()
            .filter_map(|old| self.snap.manifest.tables.get(&old.to_string()))
            .map(|e| e.path.as_str())
            .collect();
        for (key, old_key) in &self.kept {
            let entry = self.snap.entry(old_key)?.clone();
            let steps = per_table.remove(&key.to_string()).unwrap_or_default();
            let (entry, dropped_path) = self.migrate_table(key, entry, steps, &init_id).await?;
            removed.extend(dropped_path);
            tables.insert(key.to_string(), entry);
        }
        for node in &self.target.nodes {
            self.add_table(
                TableKey::node(&node.name),
                node_schema(node),
                &init_id,
                &mut tables,
            )
            .await?;
        }
        for edge in &self.target.edges {
            let schema = edge_schema(self.target, edge);
            self.add_table(TableKey::edge(&edge.name), schema, &init_id, &mut tables)
                .await?;
        }
        for (key, e) in &self.snap.manifest.tables {
            let still_used = kept_paths.contains(e.path.as_str());
            if !still_used && !tables.values().any(|t: &TableEntry| t.path == e.path) {
                tracing::debug!(table = %key, "table dropped by schema apply");
                removed.push(e.path.clone());
            }
        }
        let mut change = Change::new();
        // Any write published meanwhile was made under the old schema: conflict.
        change.read_deps = self
            .snap
            .manifest
            .tables
            .keys()
            .filter_map(|k| TableKey::parse(k))
            .collect();
        change.schema = Some(SchemaChange {
            source: schema_source.to_string(),
            tables,
        });
        Ok((change, removed))
    }

    async fn add_table(
        &self,
        key: TableKey,
        schema: Arc<ArrowSchema>,
        init_id: &str,
        tables: &mut BTreeMap<String, TableEntry>,
    ) -> Result<()> {
        if self.kept.contains_key(&key) || self.opts.dry_run {
            return Ok(());
        }
        let loc = self.snap.graph().location();
        let entry = new_table(loc, &key, schema, init_id).await?;
        tables.insert(key.to_string(), entry);
        Ok(())
    }

    /// The table's new version: columns renamed, dropped and added (metadata only), rules
    /// checked, indexes matched to the new schema. With `allow_data_loss` and a dropped
    /// property, the table is rewritten into a new directory; the old one is returned.
    async fn migrate_table(
        &self,
        key: &TableKey,
        entry: TableEntry,
        steps: TableSteps,
        init_id: &str,
    ) -> Result<(TableEntry, Option<String>)> {
        let old_key = &self.kept[key];
        let mut ds = self.snap.table(old_key).await?;
        self.check_rows(key, &ds, entry.row_count, &steps).await?;
        if self.opts.dry_run {
            return Ok((entry, None));
        }
        let start = ds.version().version;
        if !steps.renames.is_empty() || !steps.drops.is_empty() {
            let mut schema = ds.schema().clone();
            schema.fields.retain(|f| !steps.drops.contains(&f.name));
            for (from, to) in &steps.renames {
                if let Some(f) = schema.fields.iter_mut().find(|f| &f.name == from) {
                    f.name = to.clone();
                }
            }
            ds = commit_detached(
                &ds,
                Operation::Project {
                    schema,
                    preserves_nullability: true,
                },
            )
            .await?;
        }
        if !steps.adds.is_empty() {
            let full = self.arrow_schema(key)?;
            let fields: Vec<_> = steps
                .adds
                .iter()
                .filter_map(|n| full.field_with_name(n).ok().cloned())
                .collect();
            let mut schema = ds.schema().merge(&ArrowSchema::new(fields))?;
            schema.try_set_field_id(Some(ds.manifest.max_field_id()))?;
            let fragments = ds
                .get_fragments()
                .iter()
                .map(|f| f.metadata().clone())
                .collect();
            ds = commit_detached(
                &ds,
                Operation::Merge {
                    fragments,
                    schema,
                    preserves_nullability: true,
                },
            )
            .await?;
        }
        let mut entry = entry;
        let mut dropped_path = None;
        if self.opts.allow_data_loss && !steps.drops.is_empty() {
            // Rewrite without the dropped columns' files.
            let path = table_dir(key, init_id);
            let loc = self.snap.graph().location();
            ds = rewrite(&ds, &loc.child_uri(&path)).await?;
            dropped_path = Some(std::mem::replace(&mut entry.path, path));
        }
        ds = self
            .match_indexes(key, ds, entry.row_count, &steps.renames)
            .await?;
        if ds.version().version != start || dropped_path.is_some() {
            entry.version = ds.version().version;
        }
        Ok((entry, dropped_path))
    }

    fn arrow_schema(&self, key: &TableKey) -> Result<Arc<ArrowSchema>> {
        let missing = || EngineError::Corrupt(format!("no type for table {key}"));
        Ok(match key.kind {
            crate::table_key::TableKind::Node => {
                node_schema(self.target.node(&key.type_name).ok_or_else(missing)?)
            }
            crate::table_key::TableKind::Edge => edge_schema(
                self.target,
                self.target.edge(&key.type_name).ok_or_else(missing)?,
            ),
        })
    }

    /// Drops indexes of columns the new schema does not index (or that were renamed), and
    /// builds the indexes this migration asks for: of newly indexed columns, and again of
    /// renamed ones that had one. Other missing indexes are left to the next load, and
    /// the coverage of existing ones too: either would make a migration slow, and so
    /// easy to starve under write load.
    async fn match_indexes(
        &self,
        key: &TableKey,
        ds: Arc<Dataset>,
        rows: u64,
        renames: &[(String, String)],
    ) -> Result<Arc<Dataset>> {
        use lance::index::DatasetIndexExt;
        let wanted = crate::index::index_specs(self.target, key);
        let names: HashSet<String> = wanted.iter().map(|s| s.name()).collect();
        let existing = ds.load_indices().await?;
        let stale: Vec<_> = existing
            .iter()
            .filter(|i| crate::index::is_managed(&i.name) && !names.contains(&i.name))
            .cloned()
            .collect();
        let mut ds = ds;
        if !stale.is_empty() {
            ds = commit_detached(
                &ds,
                Operation::CreateIndex {
                    new_indices: vec![],
                    removed_indices: stale,
                },
            )
            .await?;
        }
        let has_index = |name: &str| existing.iter().any(|i| i.name == name);
        let old_name = |c: &str| {
            renames
                .iter()
                .find(|(_, to)| to == c)
                .map(|(from, _)| from.clone())
                .unwrap_or_else(|| c.to_string())
        };
        let before = crate::index::index_specs(&self.snap.catalog, &self.kept[key]);
        let build: Vec<crate::index::IndexSpec> = wanted
            .into_iter()
            .filter(|s| !has_index(&s.name()))
            .filter(|s| {
                let old = crate::index::IndexSpec {
                    column: old_name(&s.column),
                    kind: s.kind,
                };
                !before.contains(&old) || (old.column != s.column && has_index(&old.name()))
            })
            .collect();
        crate::index::rebuild_indexes(ds, &build, rows, false).await
    }

    /// Checks the rows of the table as stored before the migration (`ds`, with the old
    /// property names) against the rules the steps add.
    async fn check_rows(
        &self,
        key: &TableKey,
        ds: &Dataset,
        rows: u64,
        steps: &TableSteps,
    ) -> Result<()> {
        let stored = |p: &str| -> String {
            let p = column_of(p);
            steps
                .renames
                .iter()
                .find(|(_, to)| *to == p)
                .map(|(from, _)| from.clone())
                .unwrap_or(p)
        };
        for s in &self.steps {
            if let MigrationStep::AddProperty {
                property,
                nullable: false,
                ..
            } = s
            {
                if s.table_key().as_deref() == Some(&key.to_string()) && rows > 0 {
                    return Err(refused(
                        s,
                        format!(
                            "the table has {rows} row(s) and none has a value for `{property}`; add it as optional (`{property}: ...?`), fill it, then make it required"
                        ),
                    ));
                }
            }
        }
        let row_key = |b: &RecordBatch, i: usize| -> String {
            match key.kind {
                crate::table_key::TableKind::Node => cell_key_text(b.column(0).as_ref(), i),
                crate::table_key::TableKind::Edge => format!(
                    "{}->{}",
                    cell_key_text(b.column(0).as_ref(), i),
                    cell_key_text(b.column(1).as_ref(), i)
                ),
            }
        };
        let id_columns: Vec<String> = match key.kind {
            crate::table_key::TableKind::Node => {
                let node = self
                    .target
                    .node(&key.type_name)
                    .ok_or_else(|| EngineError::Corrupt(format!("no node type {key}")))?;
                vec![stored(&node.key)]
            }
            crate::table_key::TableKind::Edge => {
                vec![SRC_COLUMN.to_string(), DST_COLUMN.to_string()]
            }
        };
        let n_id = id_columns.len();
        for s in &steps.checks {
            let columns: Vec<String> = match s {
                MigrationStep::SetNullable { property, .. } => vec![property.clone()],
                MigrationStep::AddConstraint { constraint, .. } => match constraint {
                    Constraint::Unique(set) => set.iter().map(|p| column_of(p)).collect(),
                    Constraint::Range(r) => vec![r.property.clone()],
                    Constraint::Check(c) => vec![c.property.clone()],
                    Constraint::Card(_) => vec![],
                },
                _ => continue,
            };
            // A property added by this migration holds no values yet: nothing to break.
            if columns.iter().any(|c| steps.adds.contains(c)) {
                continue;
            }
            let columns: Vec<String> = columns.iter().map(|c| stored(c)).collect();
            let mut all: Vec<&str> = id_columns.iter().map(String::as_str).collect();
            all.extend(columns.iter().map(String::as_str));
            let batches = scan_columns(ds, &all, false).await?;
            let mut bad: Vec<String> = vec![];
            let mut count = 0usize;
            let mut note = |who: String, bad: &mut Vec<String>| {
                count += 1;
                if bad.len() < MAX_NAMED_ROWS {
                    bad.push(who);
                }
            };
            match s {
                MigrationStep::SetNullable { .. } => {
                    for b in &batches {
                        for i in 0..b.num_rows() {
                            if b.column(n_id).is_null(i) {
                                note(row_key(b, i), &mut bad);
                            }
                        }
                    }
                }
                MigrationStep::AddConstraint { constraint, .. } => match constraint {
                    Constraint::Unique(_) => {
                        let mut seen: HashMap<Vec<String>, String> = HashMap::new();
                        for b in &batches {
                            for i in 0..b.num_rows() {
                                let cols = &b.columns()[n_id..];
                                if cols.iter().any(|c| c.is_null(i)) {
                                    continue;
                                }
                                let value: Vec<String> =
                                    cols.iter().map(|c| cell_key_text(c.as_ref(), i)).collect();
                                let who = row_key(b, i);
                                if let Some(other) = seen.insert(value.clone(), who.clone()) {
                                    note(
                                        format!("{other} and {who} share {}", value.join(", ")),
                                        &mut bad,
                                    );
                                }
                            }
                        }
                    }
                    Constraint::Range(r) => {
                        let rules = RowRules::new(std::slice::from_ref(r), &[])?;
                        check_rules(&batches, n_id, &r.property, &rules, &row_key, &mut |w| {
                            note(w, &mut bad)
                        });
                    }
                    Constraint::Check(c) => {
                        let rules = RowRules::new(&[], std::slice::from_ref(c))?;
                        check_rules(&batches, n_id, &c.property, &rules, &row_key, &mut |w| {
                            note(w, &mut bad)
                        });
                    }
                    Constraint::Card(card) => {
                        let mut per_source: HashMap<String, u32> = HashMap::new();
                        for b in &batches {
                            for i in 0..b.num_rows() {
                                *per_source
                                    .entry(cell_key_text(b.column(0).as_ref(), i))
                                    .or_default() += 1;
                            }
                        }
                        let mut over: Vec<_> = per_source
                            .into_iter()
                            .filter(|(_, n)| card.max.is_some_and(|m| *n > m))
                            .collect();
                        over.sort();
                        for (src, n) in over {
                            note(format!("{src} has {n}"), &mut bad);
                        }
                    }
                },
                _ => {}
            }
            if count > 0 {
                return Err(refused(
                    s,
                    format!("{count} stored row(s) break it, e.g. {}", bad.join("; ")),
                ));
            }
        }
        Ok(())
    }
}

fn check_rules(
    batches: &[RecordBatch],
    n_id: usize,
    property: &str,
    rules: &RowRules,
    row_key: &dyn Fn(&RecordBatch, usize) -> String,
    note: &mut dyn FnMut(String),
) {
    for b in batches {
        for i in 0..b.num_rows() {
            let v = cell_json(b.column(n_id).as_ref(), i);
            if let Err(why) = rules.check(&[property], &[&v]) {
                note(format!("{}: {why}", row_key(b, i)));
            }
        }
    }
}

/// The stored column of a property named in an edge constraint.
fn column_of(property: &str) -> String {
    match property {
        "from" => SRC_COLUMN.to_string(),
        "to" => DST_COLUMN.to_string(),
        p => p.to_string(),
    }
}

fn refused(step: &MigrationStep, why: String) -> EngineError {
    EngineError::Constraint(format!("schema apply refused: {step}: {why}"))
}

fn table_key(kind: TypeKind, name: &str) -> TableKey {
    match kind {
        TypeKind::Node => TableKey::node(name),
        TypeKind::Edge => TableKey::edge(name),
    }
}

/// Copies every row of `ds` into a new dataset at `uri` (its files hold only the
/// columns of `ds`'s schema); returns it at its first version.
async fn rewrite(ds: &Dataset, uri: &str) -> Result<Arc<Dataset>> {
    let schema = Arc::new(ArrowSchema::from(ds.schema()));
    let batches: Vec<RecordBatch> = ds.scan().try_into_stream().await?.try_collect().await?;
    Ok(Arc::new(create_with_rows(uri, schema, batches).await?))
}
