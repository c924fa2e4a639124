//! Clause ordering: which variable to bind first, which traversal to expand next, and where
//! each condition, reachability check and negation runs.
//!
//! Greedy by estimated row count: at each step bind the variable (by scanning its candidates
//! or by expanding a traversal from a bound variable) that keeps the fewest rows, then run
//! every condition, check and `not` block whose variables are all bound.

use std::collections::BTreeSet;

use omnigraph_lang::query::typed::{Clause, CompareOp, Operand, ReadQuery};

/// A traversal clause, numbered across the whole query.
#[derive(Debug, Clone)]
pub struct Traversal {
    pub src: usize,
    pub dst: usize,
    pub edge: String,
    pub min_hops: u32,
    pub max_hops: u32,
    /// `$a <knows> $b`: edges in either direction.
    pub undirected: bool,
    /// `$a $w:knows $b`: the edge variable bound with the far end (one hop only).
    pub edge_var: Option<usize>,
}

/// A condition: a filter clause, or one property equality of a binding.
#[derive(Debug, Clone)]
pub struct Condition {
    pub lhs: Operand,
    pub op: CompareOp,
    pub rhs: Operand,
}

impl Condition {
    pub fn vars(&self) -> BTreeSet<usize> {
        [&self.lhs, &self.rhs]
            .into_iter()
            .filter_map(|o| match o {
                Operand::Prop { var, .. } => Some(*var),
                _ => None,
            })
            .collect()
    }

    /// True for `$v.key = value` (either way round) with a literal or parameter value.
    fn is_key_equality(&self, var: usize, key: &str) -> bool {
        let is_key =
            |o: &Operand| matches!(o, Operand::Prop { var: v, prop } if *v == var && prop == key);
        let is_value = |o: &Operand| !matches!(o, Operand::Prop { .. });
        self.op == CompareOp::Eq
            && ((is_key(&self.lhs) && is_value(&self.rhs))
                || (is_key(&self.rhs) && is_value(&self.lhs)))
    }
}

/// The clauses of one block (the query's `match`, or a `not { }` inside it), by number.
#[derive(Debug, Default)]
struct Block {
    traversals: Vec<usize>,
    conditions: Vec<usize>,
    nots: Vec<Block>,
    /// Variables named by this block's own clauses (not those of nested `not` blocks).
    vars: BTreeSet<usize>,
}

impl Block {
    /// Every variable named in this block or any block nested in it.
    fn all_vars(&self, analysis: &Analysis) -> BTreeSet<usize> {
        let mut vars = self.vars.clone();
        for n in &self.nots {
            vars.extend(n.all_vars(analysis));
        }
        vars
    }
}

/// The query's clauses, numbered.
#[derive(Debug)]
pub struct Analysis {
    pub traversals: Vec<Traversal>,
    pub conditions: Vec<Condition>,
    /// Edge variables: bound by their traversal, never scanned.
    pub edge_vars: BTreeSet<usize>,
    root: Block,
}

impl Analysis {
    /// The conditions of the query's own `match` block (not those inside `not { }`).
    pub fn root_conditions(&self) -> impl Iterator<Item = &Condition> {
        self.root.conditions.iter().map(|i| &self.conditions[*i])
    }

    /// Whether the query has a `not { }` block.
    pub fn has_negations(&self) -> bool {
        !self.root.nots.is_empty()
    }

    pub fn of(q: &ReadQuery) -> Analysis {
        let mut a = Analysis {
            traversals: vec![],
            conditions: vec![],
            edge_vars: BTreeSet::new(),
            root: Block::default(),
        };
        a.root = a.block(&q.clauses);
        a
    }

    fn block(&mut self, clauses: &[Clause]) -> Block {
        let mut b = Block::default();
        for c in clauses {
            match c {
                Clause::Bind { var, props } => {
                    b.vars.insert(*var);
                    for (prop, value) in props {
                        let cond = Condition {
                            lhs: Operand::Prop {
                                var: *var,
                                prop: prop.clone(),
                            },
                            op: CompareOp::Eq,
                            rhs: value.clone(),
                        };
                        b.conditions.push(self.conditions.len());
                        self.conditions.push(cond);
                    }
                }
                Clause::Traverse {
                    src,
                    edge,
                    dst,
                    min_hops,
                    max_hops,
                    undirected,
                    edge_var,
                } => {
                    b.vars.insert(*src);
                    b.vars.insert(*dst);
                    self.edge_vars.extend(*edge_var);
                    b.traversals.push(self.traversals.len());
                    self.traversals.push(Traversal {
                        src: *src,
                        dst: *dst,
                        edge: edge.clone(),
                        min_hops: *min_hops,
                        max_hops: *max_hops,
                        undirected: *undirected,
                        edge_var: *edge_var,
                    });
                }
                Clause::Filter { lhs, op, rhs } => {
                    let cond = Condition {
                        lhs: lhs.clone(),
                        op: *op,
                        rhs: rhs.clone(),
                    };
                    b.vars.extend(cond.vars());
                    b.conditions.push(self.conditions.len());
                    self.conditions.push(cond);
                }
                Clause::Not(inner) => {
                    let nested = self.block(inner);
                    b.nots.push(nested);
                }
                // `query::search::lower` turns these into filters before planning.
                Clause::Search(e) => {
                    b.vars.insert(e.var());
                }
            }
        }
        b
    }
}

/// What the planner knows about sizes.
pub struct Stats {
    /// Per variable: rows of its node type, and the name of its key property.
    pub var_rows: Vec<f64>,
    pub var_keys: Vec<String>,
    /// Per traversal: mean out-degree forward (src -> dst) and reverse.
    pub degrees: Vec<(f64, f64)>,
}

#[derive(Debug)]
pub enum Step {
    /// Bind `var` to each node that passes `conds` (conditions on `var` alone).
    Scan {
        var: usize,
        conds: Vec<usize>,
        slot: usize,
    },
    /// Bind the unbound end of `traversal` to each node reached from the bound end that
    /// passes `conds`; `reverse` when the bound end is the destination.
    Expand {
        traversal: usize,
        reverse: bool,
        conds: Vec<usize>,
    },
    /// Keep rows whose bound `src` and `dst` are connected (once per parallel edge for one
    /// directed hop; once per edge, bound to the edge variable, with one).
    Connected { traversal: usize },
    /// Keep rows that pass a condition over bound variables.
    Filter { cond: usize },
    /// Keep rows for which the nested plan finds no match.
    Not { plan: Plan },
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// Plan the whole query. `Scan` steps are numbered (`slot`) so an executor can cache their
/// candidates across repeated runs of an inner loop.
pub fn plan_query(analysis: &Analysis, stats: &Stats) -> Plan {
    let mut planner = Planner {
        analysis,
        stats,
        slots: 0,
    };
    planner.plan_block(&analysis.root, &BTreeSet::new())
}

struct Planner<'a> {
    analysis: &'a Analysis,
    stats: &'a Stats,
    slots: usize,
}

/// Per-block planning state.
struct BlockState<'b> {
    block: &'b Block,
    bound: BTreeSet<usize>,
    traversal_done: Vec<bool>,
    cond_done: Vec<bool>,
    not_done: Vec<bool>,
    steps: Vec<Step>,
}

enum Choice {
    Scan(usize),
    Expand {
        traversal: usize,
        reverse: bool,
        to: usize,
    },
}

impl<'a> Planner<'a> {
    fn plan_block(&mut self, block: &Block, inherited: &BTreeSet<usize>) -> Plan {
        let mut st = BlockState {
            block,
            bound: inherited.clone(),
            traversal_done: vec![false; block.traversals.len()],
            cond_done: vec![false; block.conditions.len()],
            not_done: vec![false; block.nots.len()],
            steps: vec![],
        };
        self.emit_ready(&mut st);
        let mut rows = 1.0;
        while let Some((choice, est)) = self.best_choice(&st, rows) {
            rows = est.max(1.0);
            match choice {
                Choice::Scan(var) => {
                    let conds = self.take_own_conds(&mut st, var);
                    let slot = self.slots;
                    self.slots += 1;
                    st.steps.push(Step::Scan { var, conds, slot });
                    st.bound.insert(var);
                }
                Choice::Expand {
                    traversal,
                    reverse,
                    to,
                } => {
                    let i = block
                        .traversals
                        .iter()
                        .position(|t| *t == traversal)
                        .unwrap_or(0);
                    st.traversal_done[i] = true;
                    let conds = self.take_own_conds(&mut st, to);
                    st.steps.push(Step::Expand {
                        traversal,
                        reverse,
                        conds,
                    });
                    st.bound.insert(to);
                    st.bound
                        .extend(self.analysis.traversals[traversal].edge_var);
                }
            }
            self.emit_ready(&mut st);
        }
        Plan { steps: st.steps }
    }

    /// The cheapest way to bind one more variable of the block, with the rows it leaves.
    fn best_choice(&self, st: &BlockState, rows: f64) -> Option<(Choice, f64)> {
        let mut best: Option<(Choice, f64)> = None;
        let consider = |c: Choice, est: f64, best: &mut Option<(Choice, f64)>| {
            if best.as_ref().is_none_or(|(_, b)| est < *b) {
                *best = Some((c, est));
            }
        };
        for (i, t) in st.block.traversals.iter().enumerate() {
            if st.traversal_done[i] {
                continue;
            }
            let tr = &self.analysis.traversals[*t];
            let (fwd, rev) = self.stats.degrees[*t];
            let (src_bound, dst_bound) = (st.bound.contains(&tr.src), st.bound.contains(&tr.dst));
            if src_bound && !dst_bound {
                let est = rows * self.reach(fwd, tr, tr.dst) * self.selectivity(st, tr.dst);
                consider(
                    Choice::Expand {
                        traversal: *t,
                        reverse: false,
                        to: tr.dst,
                    },
                    est,
                    &mut best,
                );
            } else if dst_bound && !src_bound && tr.min_hops == 1 && tr.max_hops == 1 {
                // Only a one-hop traversal runs backwards: a variable-length one reports
                // what a breadth-first search from the source reaches (each node visited
                // once), which a search from the destination over reversed edges does not
                // reproduce. With the destination bound first, the source is scanned and the
                // traversal checked forwards (`Connected`).
                let est = rows * self.reach(rev, tr, tr.src) * self.selectivity(st, tr.src);
                consider(
                    Choice::Expand {
                        traversal: *t,
                        reverse: true,
                        to: tr.src,
                    },
                    est,
                    &mut best,
                );
            }
        }
        let scannable = |v: &&usize| !st.bound.contains(v) && !self.analysis.edge_vars.contains(v);
        for var in st.block.vars.iter().filter(scannable) {
            let est = rows * self.stats.var_rows[*var] * self.selectivity(st, *var);
            // Prefer following an edge over a cross product of equal estimate.
            consider(Choice::Scan(*var), est * 1.000_001 + 1e-9, &mut best);
        }
        best
    }

    /// Nodes reached per start node by a traversal of `degree`, bounded by the target's size.
    fn reach(&self, degree: f64, tr: &Traversal, target: usize) -> f64 {
        let hops = tr.max_hops.clamp(1, 8) as i32;
        let reached = if tr.min_hops == 0 { 1.0 } else { 0.0 } + degree.powi(hops);
        reached.min(self.stats.var_rows[target].max(1.0))
    }

    /// Fraction of `var`'s nodes expected to pass the block's conditions on it alone.
    fn selectivity(&self, st: &BlockState, var: usize) -> f64 {
        let rows = self.stats.var_rows[var].max(1.0);
        let mut sel: f64 = 1.0;
        for (i, c) in st.block.conditions.iter().enumerate() {
            let cond = &self.analysis.conditions[*c];
            if st.cond_done[i] || cond.vars() != BTreeSet::from([var]) {
                continue;
            }
            if cond.is_key_equality(var, &self.stats.var_keys[var]) {
                return 1.0 / rows;
            }
            sel *= if cond.op == CompareOp::Eq { 0.1 } else { 0.5 };
        }
        sel.max(1.0 / rows)
    }

    /// Conditions on `var` alone, fused into the step that binds it.
    fn take_own_conds(&self, st: &mut BlockState, var: usize) -> Vec<usize> {
        let mut own = vec![];
        for (i, c) in st.block.conditions.iter().enumerate() {
            if !st.cond_done[i] && self.analysis.conditions[*c].vars() == BTreeSet::from([var]) {
                st.cond_done[i] = true;
                own.push(*c);
            }
        }
        own
    }

    /// Emit every check, condition and `not` block whose variables are all bound.
    fn emit_ready(&mut self, st: &mut BlockState) {
        for (i, t) in st.block.traversals.iter().enumerate() {
            let tr = &self.analysis.traversals[*t];
            if !st.traversal_done[i] && st.bound.contains(&tr.src) && st.bound.contains(&tr.dst) {
                st.traversal_done[i] = true;
                st.steps.push(Step::Connected { traversal: *t });
                st.bound.extend(tr.edge_var);
            }
        }
        for (i, c) in st.block.conditions.iter().enumerate() {
            if !st.cond_done[i] && self.analysis.conditions[*c].vars().is_subset(&st.bound) {
                st.cond_done[i] = true;
                st.steps.push(Step::Filter { cond: *c });
            }
        }
        // A `not` block runs once the variables it shares with this block are bound.
        let available: BTreeSet<usize> = st.block.vars.union(&st.bound).copied().collect();
        for (i, n) in st.block.nots.iter().enumerate() {
            if st.not_done[i] {
                continue;
            }
            let shared: BTreeSet<usize> = n
                .all_vars(self.analysis)
                .intersection(&available)
                .copied()
                .collect();
            if shared.is_subset(&st.bound) {
                st.not_done[i] = true;
                let plan = self.plan_block(n, &st.bound);
                st.steps.push(Step::Not { plan });
            }
        }
    }
}
