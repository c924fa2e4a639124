//! The read-query executor.
//!
//! - `data`/`cache`: per table version, node keys interned to dense ids (key ranks), lazily
//!   loaded columns, CSR adjacency per edge type; cached process-wide, never stale.
//! - `plan`: clause ordering; `cond`: compiled conditions; `exec`: depth-first execution.
//! - `project`/`aggregate`/`order`: result columns, groups, order and limit.
//!
//! Results follow docs/languages.md, section 2: columns named `f.name` / alias / `p`, one row per
//! match (no implicit distinct), aggregates grouped by the other projections.

mod aggregate;
pub mod budget;
pub mod cache;
mod cond;
pub mod data;
mod delta;
mod edges;
mod exec;
mod nodes;
mod order;
pub mod params;
mod plan;
mod project;
pub mod pushdown;
mod search;
pub mod value;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::FutureExt;
use omnigraph_lang::query::typed::{Clause, CompareOp, Operand, ProjExpr, ReadQuery, NOW_PARAM};
use omnigraph_lang::{BaseType, PropType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tracing::Instrument;

use self::aggregate::Groups;
pub use self::budget::QueryBudget;
use self::cond::{flipped, CompiledCond, VarColumns};
use self::data::{edge_data, node_data, node_data_at_hand, NodeData};
use self::exec::{Executor, Prepared};
use self::order::{SortRow, TopRows};
use self::params::BoundParams;
use self::plan::{plan_query, Analysis, Stats};
use self::project::VarColumn;
use self::value::Scalar;
use crate::error::{EngineError, Result};
use crate::graph::Snapshot;
use crate::table_key::TableKey;

/// The answer to a read: visible columns in order, and one JSON object per row keyed by them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Map<String, Json>>,
}

/// Run a checked read query with bound parameters, within `budget`.
pub async fn run_read(
    snap: &Snapshot,
    q: &ReadQuery,
    params: &BoundParams,
    budget: &QueryBudget,
) -> Result<QueryResult> {
    // Dropping this future (its deadline passed, or the caller went away) stops the
    // blocking part at its next budget check; the async part (Lance scans) stops with it.
    let _cancel = budget.cancel_on_drop();
    let run = run_read_unbounded_in_time(snap, q, params, budget);
    match budget.deadline() {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), run)
            .await
            .map_err(|_| budget.timeout_error())?,
        None => run.await,
    }
}

async fn run_read_unbounded_in_time(
    snap: &Snapshot,
    q: &ReadQuery,
    params: &BoundParams,
    budget: &QueryBudget,
) -> Result<QueryResult> {
    let columns: Vec<String> = q.columns().into_iter().map(str::to_string).collect();
    if q.limit == Some(0) {
        return Ok(QueryResult {
            columns,
            rows: vec![],
        });
    }
    let mut lowered = search::lower(q);
    // The trace spans of a read (README.md, "Observability"): `plan` loads what the query
    // needs (its storage calls are its children) and orders its clauses, `execute` runs it.
    // Boxed: one more level of future nesting overflows the layout query depth of the
    // callers that nest reads deepest (shared/engine/benches/search_bench.rs).
    let prep = prepare(snap, &mut lowered, params)
        .instrument(tracing::debug_span!("plan"))
        .boxed()
        .await?;
    let q = lowered.query;
    let budget = budget.clone();
    let span = tracing::debug_span!("execute");
    // Execution is CPU-bound; keep it off the async workers.
    let rows = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut prep = prep;
        fuse_rankings(&mut prep, &budget)?;
        collect_rows(&prep, &q, &budget)
    })
    .await
    .map_err(|e| EngineError::Corrupt(format!("query task failed: {e}")))??;
    Ok(QueryResult { columns, rows })
}

/// Load node data, adjacency and columns the query needs, compute its search calls,
/// compile its conditions, plan it.
async fn prepare(
    snap: &Snapshot,
    lowered: &mut search::Lowered,
    params: &BoundParams,
) -> Result<Prepared> {
    let catalog = snap.catalog.clone();
    let mut by_type: HashMap<String, Arc<NodeData>> = HashMap::new();
    let mut nodes = vec![];
    let mut keys = vec![];
    let q = &lowered.query;
    let analysis = Analysis::of(q);
    let pushed = pushed_filter(snap, q, &analysis, params)?;
    for v in &q.vars {
        if v.edge {
            // An edge variable's ids are edge positions (see `edges::EdgeData::incidence`);
            // its slot holds the source type's data, which nothing reads.
            let edge = catalog.edge(&v.node_type).ok_or_else(|| {
                EngineError::Invalid(format!("unknown edge type `{}`", v.node_type))
            })?;
            keys.push(String::new());
            nodes.push(cached_node(snap, &mut by_type, &edge.from).await?);
            continue;
        }
        let node = catalog
            .node(&v.node_type)
            .ok_or_else(|| EngineError::Invalid(format!("unknown node type `{}`", v.node_type)))?;
        keys.push(node.key.clone());
        match &pushed {
            // The only variable, nothing cached: scan just the matching rows.
            Some(filter) => {
                let ds = snap.table(&TableKey::node(&v.node_type)).await?;
                let data = NodeData::build_filtered(node, ds, filter.clone()).await?;
                nodes.push(Arc::new(data));
            }
            None => nodes.push(cached_node(snap, &mut by_type, &v.node_type).await?),
        }
    }
    let mut edges = vec![];
    let mut incidence = vec![];
    for t in &analysis.traversals {
        let edge = catalog
            .edge(&t.edge)
            .ok_or_else(|| EngineError::Invalid(format!("unknown edge type `{}`", t.edge)))?;
        let src = cached_node(snap, &mut by_type, &edge.from).await?;
        let dst = cached_node(snap, &mut by_type, &edge.to).await?;
        let data = edge_data(snap, edge, &src, &dst).await?;
        incidence.push(t.edge_var.map(|_| data.incidence()));
        edges.push(data);
    }
    let found = if lowered.has_calls() {
        let inputs = search::SearchInputs {
            catalog: &catalog,
            nodes: &nodes,
            keys: &keys,
            params,
        };
        search::compute(lowered, &inputs).await?
    } else {
        search::SearchColumns::default()
    };
    // Computing the calls may have added a filter (see `search::compute`).
    let q = &lowered.query;
    let analysis = Analysis::of(q);
    let mut virtuals = found.arrays;
    let mut edge_props: HashMap<usize, Vec<String>> = HashMap::new();
    for (var, prop) in needed_columns(q, &analysis, &keys) {
        if analysis.edge_vars.contains(&var) {
            edge_props.entry(var).or_default().push(prop);
        } else {
            nodes[var].load_column(&prop).await?;
        }
    }
    // An edge variable's properties, by edge position, stand as virtual properties.
    for (var, props) in edge_props {
        let Some(t) = analysis
            .traversals
            .iter()
            .position(|t| t.edge_var == Some(var))
        else {
            continue;
        };
        let arrays = edges[t].property_columns(&props).await?;
        for (prop, array) in props.into_iter().zip(arrays) {
            virtuals.insert((var, prop), array);
        }
    }
    let prop_type = |var: usize, prop: &str| {
        let info = q.vars.get(var)?;
        if info.edge {
            let edge = catalog.edge(&info.node_type)?;
            return edge
                .properties
                .iter()
                .find(|p| p.name == prop)
                .map(|p| p.ty.clone());
        }
        if let Some(array) = virtuals.get(&(var, prop.to_string())) {
            return Some(PropType::Base(match array.data_type() {
                arrow::datatypes::DataType::Boolean => BaseType::Bool,
                _ => BaseType::F64,
            }));
        }
        catalog
            .node(&q.vars.get(var)?.node_type)?
            .property(prop)
            .map(|p| p.ty.clone())
    };
    let columns = VarColumns {
        nodes: &nodes,
        keys: &keys,
        prop_type: &prop_type,
        virtuals: &virtuals,
    };
    let conds = analysis
        .conditions
        .iter()
        .map(|c| CompiledCond::compile(c, &columns, params))
        .collect::<Result<Vec<_>>>()?;
    let stats = Stats {
        var_rows: nodes.iter().map(|n| n.alive_count() as f64).collect(),
        var_keys: keys.clone(),
        degrees: edges
            .iter()
            .zip(&analysis.traversals)
            .map(|(e, t)| {
                let (fwd, rev) = (e.forward.mean_degree(), e.reverse.mean_degree());
                if t.undirected {
                    (fwd + rev, fwd + rev)
                } else {
                    (fwd, rev)
                }
            })
            .collect(),
    };
    let plan = plan_query(&analysis, &stats);
    Ok(Prepared {
        analysis,
        now: now_array(params),
        nodes,
        edges,
        incidence,
        conds,
        plan,
        keys,
        virtuals,
        fusions: found.fusions,
    })
}

/// `now()`'s value as a one-row DateTime array, when the query uses it.
fn now_array(params: &BoundParams) -> Option<arrow::array::ArrayRef> {
    let now = params.scalar(NOW_PARAM).ok()?;
    value::scalar_array(&crate::columns::base_arrow_type(BaseType::DateTime), now)
}

/// Fuse the `rrf` rankings among the candidates of the match (the nodes some match binds
/// to the fused variable), so filters and traversals narrow what is ranked.
fn fuse_rankings(prep: &mut Prepared, budget: &QueryBudget) -> Result<()> {
    if prep.fusions.is_empty() {
        return Ok(());
    }
    let mut candidates: Vec<Vec<bool>> = prep
        .nodes
        .iter()
        .map(|n| vec![false; n.id_count()])
        .collect();
    let vars: Vec<usize> = prep.fusions.iter().map(|f| f.var).collect();
    Executor::new(prep, budget).run(&mut |ids| {
        for v in &vars {
            if let Some(slot) = candidates[*v].get_mut(ids[*v] as usize) {
                *slot = true;
            }
        }
        true
    })?;
    let fusions = std::mem::take(&mut prep.fusions);
    for f in &fusions {
        let fused = search::fuse(f, &candidates[f.var], &prep.nodes[f.var]);
        prep.virtuals.insert((f.var, f.name.clone()), fused);
    }
    Ok(())
}

/// The Lance filter for a query that can skip the per-version cache: one variable, no
/// traversal and no `not`, nothing cached or patchable for its table's version, and at
/// least one `prop op constant` condition of its `match` on an indexed column (so the scan
/// is answered from a scalar index). Every such condition that SQL compares exactly is
/// pushed (ANDed); all conditions are still evaluated after the scan.
fn pushed_filter(
    snap: &Snapshot,
    q: &ReadQuery,
    analysis: &Analysis,
    params: &BoundParams,
) -> Result<Option<String>> {
    let [var] = q.vars.as_slice() else {
        return Ok(None);
    };
    if !analysis.traversals.is_empty()
        || analysis.has_negations()
        || node_data_at_hand(snap, &var.node_type)?
    {
        return Ok(None);
    }
    let Some(node) = snap.catalog.node(&var.node_type) else {
        return Ok(None);
    };
    let indexed = crate::index::indexed_columns(&snap.catalog, &TableKey::node(&node.name));
    let mut pushed = vec![];
    let mut uses_index = false;
    for cond in analysis.root_conditions() {
        let (prop, op, value) = match (&cond.lhs, &cond.rhs) {
            (Operand::Prop { prop, .. }, other) if !matches!(other, Operand::Prop { .. }) => {
                (prop, cond.op, other)
            }
            (other, Operand::Prop { prop, .. }) if !matches!(other, Operand::Prop { .. }) => {
                match flipped(cond.op) {
                    Some(op) => (prop, op, other),
                    None => continue,
                }
            }
            _ => continue,
        };
        if op == CompareOp::Ne {
            continue;
        }
        let Some(ty) = node.property(prop).map(|p| p.ty.clone()) else {
            continue;
        };
        let Some(value) = constant(value, &ty, params) else {
            continue;
        };
        if let Some(sql) = self::pushdown::column_filter(prop, &ty, op, &value) {
            uses_index |= indexed.contains(prop);
            pushed.push(sql);
        }
    }
    Ok((uses_index && !pushed.is_empty()).then(|| pushed.join(" AND ")))
}

/// The value of a literal or parameter operand as the property's type, when it is one.
fn constant(operand: &Operand, ty: &PropType, params: &BoundParams) -> Option<Scalar> {
    let value = match operand {
        Operand::Param(name) => params.scalar(name).ok()?.clone(),
        Operand::Literal(lit) => Scalar::from_literal(lit, ty).ok()?,
        Operand::Prop { .. } => return None,
    };
    (!matches!(value, Scalar::Null)).then_some(value)
}

async fn cached_node(
    snap: &Snapshot,
    by_type: &mut HashMap<String, Arc<NodeData>>,
    node_type: &str,
) -> Result<Arc<NodeData>> {
    if let Some(n) = by_type.get(node_type) {
        return Ok(n.clone());
    }
    let n = node_data(snap, node_type).await?;
    by_type.insert(node_type.to_string(), n.clone());
    Ok(n)
}

/// Non-key property columns read by conditions and projections, as (variable, property).
fn needed_columns(
    q: &ReadQuery,
    analysis: &Analysis,
    keys: &[String],
) -> BTreeSet<(usize, String)> {
    let mut needed = BTreeSet::new();
    let mut add = |var: usize, prop: &str| {
        if keys.get(var).is_some_and(|k| k != prop) && !search::is_virtual(prop) {
            needed.insert((var, prop.to_string()));
        }
    };
    for c in &analysis.conditions {
        for o in [&c.lhs, &c.rhs] {
            if let Operand::Prop { var, prop } = o {
                add(*var, prop);
            }
        }
    }
    for p in &q.returns {
        let expr = match &p.expr {
            ProjExpr::Agg { arg, .. } => arg.as_ref(),
            e => e,
        };
        if let ProjExpr::Prop { var, prop } = expr {
            add(*var, prop);
        }
    }
    needed
}

/// Execute and shape the rows: plain, ordered, or aggregated.
fn collect_rows(
    prep: &Prepared,
    q: &ReadQuery,
    budget: &QueryBudget,
) -> Result<Vec<Map<String, Json>>> {
    let columns = q
        .returns
        .iter()
        .map(|p| {
            VarColumn::of(
                &p.expr,
                &prep.nodes,
                &prep.keys,
                &prep.virtuals,
                prep.now.as_ref(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let exec = Executor::new(prep, budget);
    let limit = q.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let rows = if q.is_aggregate() {
        aggregate_rows(&exec, q, columns, limit)?
    } else {
        match_rows(prep, &exec, q, &columns, limit)?
    };
    if limit.is_none() {
        budget.check_unlimited_result(rows.len())?;
    }
    Ok(rows)
}

/// The rows of a read without aggregates, ordered and limited.
fn match_rows(
    prep: &Prepared,
    exec: &Executor,
    q: &ReadQuery,
    columns: &[VarColumn],
    limit: Option<usize>,
) -> Result<Vec<Map<String, Json>>> {
    let budget = exec.budget();
    // A read without `limit` stops as soon as it is known to return too many rows.
    let stop_after = match (limit, budget.max_result_rows_without_limit) {
        (None, Some(cap)) => Some(cap.saturating_add(1)),
        _ => limit,
    };
    let render = |ids: &[u32]| -> Map<String, Json> {
        q.returns
            .iter()
            .zip(columns)
            .filter(|(p, _)| !p.hidden)
            .map(|(p, c)| (p.column.clone(), c.json(ids)))
            .collect()
    };
    if q.order.is_empty() {
        let mut rows = vec![];
        let mut over = None;
        exec.run(&mut |ids| {
            rows.push(render(ids));
            if let Err(e) = budget.check_held(rows.len()) {
                over = Some(e);
                return false;
            }
            stop_after.is_none_or(|l| rows.len() < l)
        })?;
        return over.map_or(Ok(rows), Err);
    }
    // Ties are broken by the keys of the match's variables, in order of first appearance.
    let tie_vars = appearance_order(q);
    let mut top = TopRows::new(q.order.iter().map(|k| k.descending).collect(), limit);
    let mut over = None;
    exec.run(&mut |ids| {
        top.push(SortRow {
            keys: q
                .order
                .iter()
                .map(|k| columns[k.column].scalar(ids))
                .collect(),
            tie: tie_vars
                .iter()
                .map(|v| match prep.analysis.edge_vars.contains(v) {
                    // An edge by its position: row address order.
                    true => ids[*v],
                    false => prep.nodes[*v].rank(ids[*v]),
                })
                .collect(),
            item: ids.to_vec(),
        });
        if let Err(e) = budget.check_held(top.len()) {
            over = Some(e);
            return false;
        }
        // Without `limit`, too many rows to return is known before they are sorted.
        stop_after.is_none_or(|cap| limit.is_some() || top.len() < cap)
    })?;
    if let Some(e) = over {
        return Err(e);
    }
    Ok(top.finish().iter().map(|ids| render(ids)).collect())
}

/// The match's (non-negated) variables in the order they first appear in the query text.
fn appearance_order(q: &ReadQuery) -> Vec<usize> {
    let mut order = vec![];
    let mut note = |v: usize| {
        if !order.contains(&v) && q.vars.get(v).is_some_and(|i| !i.negated) {
            order.push(v);
        }
    };
    for c in &q.clauses {
        match c {
            Clause::Bind { var, .. } => note(*var),
            Clause::Traverse { src, dst, .. } => {
                note(*src);
                note(*dst);
            }
            Clause::Filter { lhs, rhs, .. } => {
                for o in [lhs, rhs] {
                    if let Operand::Prop { var, .. } = o {
                        note(*var);
                    }
                }
            }
            Clause::Search(e) => note(e.var()),
            Clause::Not(_) => {}
        }
    }
    (0..q.vars.len()).for_each(&mut note);
    order
}

fn aggregate_rows(
    exec: &Executor,
    q: &ReadQuery,
    columns: Vec<VarColumn>,
    limit: Option<usize>,
) -> Result<Vec<Map<String, Json>>> {
    let budget = exec.budget();
    let mut groups = Groups::new(&q.returns, columns);
    let mut over = None;
    exec.run(&mut |ids| {
        groups.add(ids);
        if let Err(e) = budget.check_held(groups.len()) {
            over = Some(e);
            return false;
        }
        true
    })?;
    if let Some(e) = over {
        return Err(e);
    }
    let rows = groups.finish();
    let group_keys = q.group_keys();
    // Ordered by the order keys, then by the group keys, then by first appearance.
    let descending = q
        .order
        .iter()
        .map(|k| k.descending)
        .chain(group_keys.iter().map(|_| false));
    let mut top = TopRows::new(
        if q.order.is_empty() {
            vec![]
        } else {
            descending.collect()
        },
        limit,
    );
    for (i, r) in rows.into_iter().enumerate() {
        let keys = if q.order.is_empty() {
            vec![]
        } else {
            q.order
                .iter()
                .map(|k| k.column)
                .chain(group_keys.iter().copied())
                .map(|c| r.scalars[c].clone())
                .collect()
        };
        top.push(SortRow {
            keys,
            tie: vec![i as u32],
            item: r.json,
        });
    }
    let rendered = top
        .finish()
        .into_iter()
        .map(|json| {
            q.returns
                .iter()
                .zip(json)
                .filter(|(p, _)| !p.hidden)
                .map(|(p, v)| (p.column.clone(), v))
                .collect()
        })
        .collect();
    Ok(rendered)
}
