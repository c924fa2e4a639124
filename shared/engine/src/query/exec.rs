//! Running a plan: nested loops over node ids, depth first, so that a consumer that has
//! enough rows (a `limit` without `order`) stops the whole enumeration at once.
//!
//! Rows come out in the order of the plan's variables, each enumerated in key order (node
//! ids are key ranks), so a read without `order` is deterministic for a graph version.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use std::borrow::Cow;

use arrow::array::{Array, ArrayRef, BooleanArray};

use super::budget::{QueryBudget, Ticker};
use super::cond::{CompiledCond, VectorForm};
use super::data::{Csr, EdgeData, NodeData};
use super::edges::Incidence;
use super::plan::{Analysis, Plan, Step};
use crate::error::Result;

/// Rows of a chunk evaluated by one Arrow kernel call when scanning a variable.
const SCAN_CHUNK: usize = 8192;

/// Everything a plan runs against, loaded and compiled.
pub struct Prepared {
    pub analysis: Analysis,
    /// Per variable: its node type's data.
    pub nodes: Vec<Arc<NodeData>>,
    /// Per traversal: its edge type's adjacency.
    pub edges: Vec<Arc<EdgeData>>,
    /// Per traversal that binds its edge: the edges by node, with their positions.
    pub incidence: Vec<Option<Incidence>>,
    /// `now()`'s value (one row), when the query uses it.
    pub now: Option<ArrayRef>,
    /// Per condition.
    pub conds: Vec<CompiledCond>,
    pub plan: Plan,
    /// Per variable: its node type's key property.
    pub keys: Vec<String>,
    /// Values of the query's search calls, as virtual properties `(var, "#sN")`.
    pub virtuals: HashMap<(usize, String), ArrayRef>,
    /// `rrf` calls still to fuse (once the candidates are known).
    pub fusions: Vec<super::search::Fusion>,
}

/// Receives each complete row of bindings (`ids[var]`); returns false to stop.
pub type Sink<'s> = dyn FnMut(&[u32]) -> bool + 's;

pub struct Executor<'p> {
    prep: &'p Prepared,
    /// Candidates of inner `Scan` steps, by slot, computed on first use.
    scan_cache: RefCell<HashMap<usize, Rc<Vec<u32>>>>,
    /// The read's deadline and cancel flag, checked every few thousand steps.
    ticker: Ticker<'p>,
}

impl<'p> Executor<'p> {
    pub fn new(prep: &'p Prepared, budget: &'p QueryBudget) -> Self {
        Executor {
            prep,
            scan_cache: RefCell::new(HashMap::new()),
            ticker: Ticker::new(budget),
        }
    }

    pub fn budget(&self) -> &QueryBudget {
        self.ticker.budget()
    }

    /// Feed every match of the query to `sink`.
    pub fn run(&self, sink: &mut Sink) -> Result<()> {
        let mut ids = vec![u32::MAX; self.prep.nodes.len()];
        self.steps(&self.prep.plan, 0, true, &mut ids, sink)?;
        Ok(())
    }

    /// Run `plan.steps[at..]`; Ok(false) means the sink asked to stop.
    fn steps(
        &self,
        plan: &Plan,
        at: usize,
        root: bool,
        ids: &mut [u32],
        sink: &mut Sink,
    ) -> Result<bool> {
        self.ticker.tick()?;
        let Some(step) = plan.steps.get(at) else {
            return Ok(sink(ids));
        };
        match step {
            Step::Scan { var, conds, slot } => {
                if root && at == 0 {
                    // The outermost loop streams its candidates, so an early stop saves work.
                    let mut failure = None;
                    let go_on = self.for_each_candidate(*var, conds, &mut |id| {
                        ids[*var] = id;
                        match self.steps(plan, at + 1, root, ids, sink) {
                            Ok(go_on) => go_on,
                            Err(e) => {
                                failure = Some(e);
                                false
                            }
                        }
                    })?;
                    return failure.map_or(Ok(go_on), Err);
                }
                let candidates = self.cached_candidates(*var, conds, *slot)?;
                for id in candidates.iter() {
                    ids[*var] = *id;
                    if !self.steps(plan, at + 1, root, ids, sink)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Step::Expand {
                traversal,
                reverse,
                conds,
            } => {
                let tr = &self.prep.analysis.traversals[*traversal];
                let (from, to) = if *reverse {
                    (tr.dst, tr.src)
                } else {
                    (tr.src, tr.dst)
                };
                let start = ids[from];
                if let Some(w) = tr.edge_var {
                    let edges = self.incident_edges(*traversal, start, *reverse, None);
                    for (id, pos) in edges_in_key_order(&self.prep.nodes[to], edges) {
                        ids[to] = id;
                        ids[w] = pos;
                        if conds.iter().all(|c| self.prep.conds[*c].holds(ids))
                            && !self.steps(plan, at + 1, root, ids, sink)?
                        {
                            return Ok(false);
                        }
                    }
                    return Ok(true);
                }
                let (pair, n) = self.csrs(*traversal, *reverse);
                let csrs = &pair[..n];
                let reached;
                let targets: &[u32] = if tr.min_hops == 1 && tr.max_hops == 1 && !tr.undirected {
                    csrs[0].neighbors(start)
                } else if tr.min_hops == 1 && tr.max_hops == 1 {
                    reached = union_neighbors(csrs, start);
                    &reached
                } else {
                    reached = reach(csrs, start, tr.min_hops, tr.max_hops, &self.ticker)?;
                    &reached
                };
                for id in in_key_order(&self.prep.nodes[to], targets).iter() {
                    ids[to] = *id;
                    if conds.iter().all(|c| self.prep.conds[*c].holds(ids))
                        && !self.steps(plan, at + 1, root, ids, sink)?
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Step::Connected { traversal } => {
                let tr = &self.prep.analysis.traversals[*traversal];
                let (src, dst) = (ids[tr.src], ids[tr.dst]);
                if let Some(w) = tr.edge_var {
                    for (_, pos) in self.incident_edges(*traversal, src, false, Some(dst)) {
                        ids[w] = pos;
                        if !self.steps(plan, at + 1, root, ids, sink)? {
                            return Ok(false);
                        }
                    }
                    return Ok(true);
                }
                let (pair, n) = self.csrs(*traversal, false);
                let csrs = &pair[..n];
                let times = if tr.min_hops == 1 && tr.max_hops == 1 && !tr.undirected {
                    let n = csrs[0].neighbors(src);
                    n.partition_point(|x| *x <= dst) - n.partition_point(|x| *x < dst)
                } else if tr.min_hops == 1 && tr.max_hops == 1 {
                    // Set semantics: connected either way (or by a self-loop) counts once.
                    usize::from(
                        csrs.iter()
                            .any(|c| c.neighbors(src).binary_search(&dst).is_ok()),
                    )
                } else {
                    usize::from(
                        reach(csrs, src, tr.min_hops, tr.max_hops, &self.ticker)?
                            .binary_search(&dst)
                            .is_ok(),
                    )
                };
                for _ in 0..times {
                    if !self.steps(plan, at + 1, root, ids, sink)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Step::Filter { cond } => {
                if self.prep.conds[*cond].holds(ids) {
                    return self.steps(plan, at + 1, root, ids, sink);
                }
                Ok(true)
            }
            Step::Not { plan: inner } => {
                let mut found = false;
                self.steps(inner, 0, false, ids, &mut |_| {
                    found = true;
                    false
                })?;
                if found {
                    return Ok(true);
                }
                self.steps(plan, at + 1, root, ids, sink)
            }
        }
    }

    /// The adjacency a traversal follows from its bound end: one direction, or (undirected)
    /// both.
    /// (The first `n` of the pair, so the hot directed path allocates nothing.)
    fn csrs(&self, traversal: usize, reverse: bool) -> ([&Csr; 2], usize) {
        let e = &self.prep.edges[traversal];
        if self.prep.analysis.traversals[traversal].undirected {
            ([&e.forward, &e.reverse], 2)
        } else if reverse {
            ([&e.reverse, &e.reverse], 1)
        } else {
            ([&e.forward, &e.forward], 1)
        }
    }

    /// The edges of a traversal that binds its edge at node `start` (its source, or its
    /// target when `reverse`; either for an undirected one), as (other end, edge position),
    /// each edge once; only those whose other end is `other` when given.
    fn incident_edges(
        &self,
        traversal: usize,
        start: u32,
        reverse: bool,
        other: Option<u32>,
    ) -> Vec<(u32, u32)> {
        let Some(Some(inc)) = self.prep.incidence.get(traversal) else {
            return vec![];
        };
        let lists = if self.prep.analysis.traversals[traversal].undirected {
            vec![&inc.forward, &inc.reverse]
        } else if reverse {
            vec![&inc.reverse]
        } else {
            vec![&inc.forward]
        };
        let mut out: Vec<(u32, u32)> = lists
            .iter()
            .flat_map(|l| l.of(start).iter().copied())
            .filter(|(n, _)| other.is_none_or(|o| o == *n))
            .collect();
        // A self-loop is in both lists of its node: one edge, one row.
        out.sort_unstable_by_key(|(n, pos)| (*pos, *n));
        out.dedup_by_key(|(_, pos)| *pos);
        out
    }

    fn cached_candidates(&self, var: usize, conds: &[usize], slot: usize) -> Result<Rc<Vec<u32>>> {
        if let Some(c) = self.scan_cache.borrow().get(&slot) {
            return Ok(c.clone());
        }
        let mut all = vec![];
        self.for_each_candidate(var, conds, &mut |id| {
            all.push(id);
            true
        })?;
        let all = Rc::new(all);
        self.scan_cache.borrow_mut().insert(slot, all.clone());
        Ok(all)
    }

    /// Call `f` with each node id of `var`'s type that passes `conds`, in id order, until it
    /// returns false. A key equality is a point lookup; other comparisons of a column with a
    /// constant run as Arrow kernels over chunks; the rest row by row.
    fn for_each_candidate(
        &self,
        var: usize,
        conds: &[usize],
        f: &mut dyn FnMut(u32) -> bool,
    ) -> Result<bool> {
        let node = &self.prep.nodes[var];
        let compiled: Vec<&CompiledCond> = conds.iter().map(|c| &self.prep.conds[*c]).collect();
        let mut row = vec![u32::MAX; self.prep.nodes.len()];
        let passes = |id: u32, row: &mut [u32], only_scalar: bool| {
            row[var] = id;
            compiled
                .iter()
                .all(|c| (only_scalar && c.vector.is_some()) || c.holds(row))
        };
        if let Some((_, key)) = compiled.iter().find_map(|c| c.key_lookup.as_ref()) {
            return Ok(match node.lookup(key) {
                Some(id) if passes(id, &mut row, false) => f(id),
                _ => true,
            });
        }
        let vectors: Vec<&VectorForm> = compiled.iter().filter_map(|c| c.vector.as_ref()).collect();
        // Masks are computed per chunk of ids on first need: enumeration in key order visits
        // ids mostly in sequence, so an early stop leaves most chunks unevaluated.
        let mut masks: Vec<Option<BooleanArray>> = vec![None; node.id_count().div_ceil(SCAN_CHUNK)];
        for id in node.order() {
            self.ticker.tick()?;
            if !vectors.is_empty() {
                let chunk = *id as usize / SCAN_CHUNK;
                if masks[chunk].is_none() {
                    masks[chunk] = Some(chunk_mask(&vectors, chunk, node.id_count())?);
                }
                let i = *id as usize % SCAN_CHUNK;
                if masks[chunk]
                    .as_ref()
                    .is_some_and(|m| !m.is_valid(i) || !m.value(i))
                {
                    continue;
                }
            }
            if passes(*id, &mut row, true) && !f(*id) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The rows of `chunk` (of ids) passing every vectorised condition.
fn chunk_mask(vectors: &[&VectorForm], chunk: usize, ids: usize) -> Result<BooleanArray> {
    let offset = chunk * SCAN_CHUNK;
    let len = SCAN_CHUNK.min(ids - offset);
    let mut mask: Option<BooleanArray> = None;
    for v in vectors {
        let m = v.mask(offset, len)?;
        mask = Some(match mask {
            None => m,
            Some(prev) => arrow::compute::and(&prev, &m)?,
        });
    }
    Ok(mask.unwrap_or_else(|| BooleanArray::from(vec![true; len])))
}

/// The sorted union of the neighbours of `start` in each adjacency, each once.
fn union_neighbors(csrs: &[&Csr], start: u32) -> Vec<u32> {
    let mut out: Vec<u32> = csrs
        .iter()
        .flat_map(|c| c.neighbors(start).iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Edges `(node, position)` whose node is live, in key order of the node, then by position.
fn edges_in_key_order(node: &NodeData, mut edges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    edges.retain(|(id, _)| node.is_alive(*id));
    edges.sort_unstable_by_key(|(id, pos)| (node.rank(*id), *pos));
    edges
}

/// Live nodes among `ids` (sorted by id), in key order.
fn in_key_order<'a>(node: &NodeData, ids: &'a [u32]) -> Cow<'a, [u32]> {
    let ordered = ids.iter().all(|id| node.is_alive(*id))
        && ids.windows(2).all(|w| node.rank(w[0]) <= node.rank(w[1]));
    if ordered {
        return Cow::Borrowed(ids);
    }
    let mut live: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|id| node.is_alive(*id))
        .collect();
    live.sort_by_key(|id| node.rank(*id));
    Cow::Owned(live)
}

/// The destinations of a traversal of `min..=max` hops from `start`, each once, sorted by
/// id. Breadth first, and a node once visited (the start included) is never expanded or
/// reported again: each destination is reported at the hop it is first reached, when that
/// hop is within the bounds. The one exception is a stored self-loop, which still counts
/// as one edge: a node with one reports itself at the next hop when that hop is within the
/// bounds (and is not expanded again). So a traversal ends on any graph, cycles included,
/// after at most one expansion per node, whatever its upper bound. The neighbours of a node
/// are those of every adjacency in `csrs` (an undirected traversal follows both directions).
pub fn reach(csrs: &[&Csr], start: u32, min: u32, max: u32, ticker: &Ticker) -> Result<Vec<u32>> {
    let mut out: Vec<u32> = vec![];
    if min == 0 {
        out.push(start);
    }
    let mut reported: HashSet<u32> = out.iter().copied().collect();
    let mut visited: HashSet<u32> = HashSet::from([start]);
    let mut frontier: Vec<u32> = vec![start];
    let mut hop: u32 = 0;
    while hop < max && !frontier.is_empty() {
        hop += 1;
        let in_bounds = hop >= min;
        let mut next = vec![];
        for id in &frontier {
            ticker.tick()?;
            for n in csrs.iter().flat_map(|c| c.neighbors(*id)) {
                if *n == *id {
                    if in_bounds && reported.insert(*n) {
                        out.push(*n);
                    }
                } else if visited.insert(*n) {
                    next.push(*n);
                    if in_bounds && reported.insert(*n) {
                        out.push(*n);
                    }
                }
            }
        }
        frontier = next;
    }
    out.sort_unstable();
    Ok(out)
}
