//! Random small graphs and random well-typed queries, with a naive evaluator (every
//! assignment of every variable, checked clause by clause) written from docs/languages.md.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::TestGraph;

pub const SCHEMA: &str = "node Person { name: String @key age: I32? }
node Company { name: String @key }
edge Knows: Person -> Person
edge WorksAt: Person -> Company";

#[derive(Debug, Clone)]
pub struct GraphSpec {
    pub ages: Vec<Option<i32>>,
    /// Whether person `i` exists (mutations delete and re-insert them).
    pub present: Vec<bool>,
    pub companies: usize,
    pub knows: Vec<(usize, usize)>,
    pub works: Vec<(usize, usize)>,
}

impl GraphSpec {
    pub fn jsonl(&self) -> String {
        let mut lines = vec![];
        for (i, age) in self
            .ages
            .iter()
            .enumerate()
            .filter(|(i, _)| self.present[*i])
        {
            lines.push(
                json!({"type": "Person", "data": {"name": person(i), "age": age}}).to_string(),
            );
        }
        for c in 0..self.companies {
            lines.push(json!({"type": "Company", "data": {"name": company(c)}}).to_string());
        }
        for (a, b) in &self.knows {
            lines.push(json!({"edge": "Knows", "from": person(*a), "to": person(*b)}).to_string());
        }
        for (a, c) in &self.works {
            lines.push(
                json!({"edge": "WorksAt", "from": person(*a), "to": company(*c)}).to_string(),
            );
        }
        lines.join("\n") + "\n"
    }
}

pub fn person(i: usize) -> String {
    format!("p{i}")
}

pub fn company(i: usize) -> String {
    format!("c{i}")
}

pub fn graph_spec() -> impl Strategy<Value = GraphSpec> {
    (1usize..=6, 0usize..=3).prop_flat_map(|(people, companies)| {
        let ages = proptest::collection::vec(proptest::option::weighted(0.8, 0i32..4), people);
        let knows = proptest::collection::vec((0..people, 0..people), 0..12);
        let works = if companies == 0 {
            Just(vec![]).boxed()
        } else {
            proptest::collection::vec((0..people, 0..companies), 0..6).boxed()
        };
        (ages, Just(companies), knows, works).prop_map(|(ages, companies, knows, works)| {
            GraphSpec {
                present: vec![true; ages.len()],
                ages,
                companies,
                knows,
                works,
            }
        })
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Person,
    Company,
}

const OPS: [&str; 6] = ["=", "!=", "<", "<=", ">", ">="];

#[derive(Debug, Clone)]
pub enum QClause {
    Bind {
        var: usize,
        kind: Kind,
        name: Option<usize>,
    },
    Knows {
        src: usize,
        dst: usize,
        hops: (u32, u32),
    },
    /// `$a <knows> $b`, `$a <knows>{m,n} $b`
    Either {
        src: usize,
        dst: usize,
        hops: (u32, u32),
    },
    /// `$a $wN:knows $b` or `$a $wN:<knows> $b`: one row per edge.
    Bound {
        src: usize,
        dst: usize,
        either: bool,
        /// Names the edge variable `$wN` (unique in the query).
        n: usize,
    },
    WorksAt {
        src: usize,
        dst: usize,
    },
    AgeConst {
        var: usize,
        op: usize,
        k: i32,
    },
    AgeCmp {
        a: usize,
        b: usize,
        op: usize,
    },
    NotKnowsAny {
        var: usize,
    },
    NotKnownByAny {
        var: usize,
    },
    NotKnowsVar {
        src: usize,
        dst: usize,
    },
    NotWorks {
        var: usize,
    },
    /// `not { $v <knows> $_ }`
    NotKnowsEither {
        var: usize,
    },
}

#[derive(Debug, Clone)]
pub enum Returns {
    /// `$vi.name` for every variable, plus `$v0.age`.
    Plain,
    /// `$v0.name, count($vlast) as c, sum($v0.age) as s, min(..) as lo, max(..) as hi`.
    Grouped,
    /// `count($vlast) as c` only.
    Global,
}

#[derive(Debug, Clone)]
pub struct QuerySpec {
    kinds: Vec<Kind>,
    clauses: Vec<QClause>,
    returns: Returns,
    /// Index into the visible columns, descending.
    order: Option<(usize, bool)>,
    limit: Option<u64>,
}

impl QuerySpec {
    fn persons(&self) -> Vec<usize> {
        (0..self.kinds.len())
            .filter(|v| self.kinds[*v] == Kind::Person)
            .collect()
    }

    fn columns(&self) -> Vec<String> {
        match self.returns {
            Returns::Plain => {
                let mut c: Vec<String> = (0..self.kinds.len())
                    .map(|v| format!("v{v}.name"))
                    .collect();
                c.push("v0.age".into());
                c
            }
            Returns::Grouped => vec![
                "v0.name".into(),
                "c".into(),
                "s".into(),
                "lo".into(),
                "hi".into(),
            ],
            Returns::Global => vec!["c".into()],
        }
    }

    fn text(&self) -> String {
        let clauses: Vec<String> = self.clauses.iter().map(clause_text).collect();
        let last = self.kinds.len() - 1;
        let returns = match self.returns {
            Returns::Plain => {
                let mut r: Vec<String> = (0..self.kinds.len())
                    .map(|v| format!("$v{v}.name"))
                    .collect();
                r.push("$v0.age".into());
                r.join(", ")
            }
            Returns::Grouped => {
                format!("$v0.name, count($v{last}) as c, sum($v0.age) as s, min($v0.age) as lo, max($v0.age) as hi")
            }
            Returns::Global => format!("count($v{last}) as c"),
        };
        let order = match self.order {
            None => String::new(),
            Some((col, desc)) => {
                let name = &self.columns()[col];
                let expr = if name.contains('.') {
                    format!("${name}")
                } else {
                    name.clone()
                };
                format!(" order {{ {expr}{} }}", if desc { " desc" } else { "" })
            }
        };
        let limit = self
            .limit
            .map(|l| format!(" limit {l}"))
            .unwrap_or_default();
        format!(
            "query q() {{ match {{ {} }} return {{ {returns} }}{order}{limit} }}",
            clauses.join(" ")
        )
    }
}

fn clause_text(c: &QClause) -> String {
    match c {
        QClause::Bind { var, kind, name } => {
            let ty = if *kind == Kind::Person {
                "Person"
            } else {
                "Company"
            };
            match name {
                Some(n) => format!("$v{var}: {ty} {{ name: \"p{n}\" }}"),
                None => format!("$v{var}: {ty}"),
            }
        }
        QClause::Knows {
            src,
            dst,
            hops: (1, 1),
        } => format!("$v{src} knows $v{dst}"),
        QClause::Knows {
            src,
            dst,
            hops: (m, n),
        } => format!("$v{src} knows{{{m},{}}} $v{dst}", upper(*n)),
        QClause::Either {
            src,
            dst,
            hops: (1, 1),
        } => format!("$v{src} <knows> $v{dst}"),
        QClause::Either {
            src,
            dst,
            hops: (m, n),
        } => format!("$v{src} <knows>{{{m},{}}} $v{dst}", upper(*n)),
        QClause::Bound {
            src,
            dst,
            either,
            n,
        } => {
            let edge = if *either { "<knows>" } else { "knows" };
            format!("$v{src} $w{n}:{edge} $v{dst}")
        }
        QClause::WorksAt { src, dst } => format!("$v{src} worksAt $v{dst}"),
        QClause::AgeConst { var, op, k } => format!("$v{var}.age {} {k}", OPS[*op]),
        QClause::AgeCmp { a, b, op } => format!("$v{a}.age {} $v{b}.age", OPS[*op]),
        QClause::NotKnowsAny { var } => format!("not {{ $v{var} knows $_ }}"),
        QClause::NotKnownByAny { var } => format!("not {{ $_ knows $v{var} }}"),
        QClause::NotKnowsVar { src, dst } => format!("not {{ $v{src} knows $v{dst} }}"),
        QClause::NotWorks { var } => format!("not {{ $v{var} worksAt $_ }}"),
        QClause::NotKnowsEither { var } => format!("not {{ $v{var} <knows> $_ }}"),
    }
}

/// The upper hop bound as written: empty for none (`u32::MAX`).
fn upper(n: u32) -> String {
    if n == u32::MAX {
        String::new()
    } else {
        n.to_string()
    }
}

/// Raw random choices, turned into a well-typed query by `build_query`.
pub fn query_spec() -> impl Strategy<Value = QuerySpec> {
    let intro = proptest::collection::vec(
        (0u8..6, any::<prop::sample::Index>(), 1u32..=3, 1u32..=3),
        0..=2,
    );
    let extra = proptest::collection::vec(
        (
            0u8..11,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            0usize..6,
            0i32..4,
        ),
        0..=3,
    );
    let name = proptest::option::weighted(0.3, 0usize..6);
    let shape = (
        0u8..3,
        proptest::option::of((0usize..5, any::<bool>())),
        proptest::option::weighted(0.3, 0u64..4),
    );
    (name, intro, extra, shape)
        .prop_map(|(name, intro, extra, shape)| build_query(name, intro, extra, shape))
}

type Intro = (u8, prop::sample::Index, u32, u32);
type Extra = (u8, prop::sample::Index, prop::sample::Index, usize, i32);

fn build_query(
    name: Option<usize>,
    intro: Vec<Intro>,
    extra: Vec<Extra>,
    shape: (u8, Option<(usize, bool)>, Option<u64>),
) -> QuerySpec {
    let mut q = QuerySpec {
        kinds: vec![Kind::Person],
        clauses: vec![],
        returns: Returns::Plain,
        order: None,
        limit: shape.2,
    };
    q.clauses.push(QClause::Bind {
        var: 0,
        kind: Kind::Person,
        name,
    });
    for (choice, pick, a, b) in intro {
        let v = q.kinds.len();
        let from = q.persons()[pick.index(q.persons().len())];
        // `{1,}` (no upper bound) in one case out of nine.
        let hops = match (a, b) {
            (3, 3) => (1, u32::MAX),
            _ => (a.min(b), a.max(b)),
        };
        let (kind, clause) = match choice {
            0 => (
                Kind::Person,
                QClause::Knows {
                    src: from,
                    dst: v,
                    hops,
                },
            ),
            1 => (
                Kind::Person,
                QClause::Knows {
                    src: v,
                    dst: from,
                    hops: (1, 1),
                },
            ),
            2 => (Kind::Company, QClause::WorksAt { src: from, dst: v }),
            4 => (
                Kind::Person,
                QClause::Either {
                    src: from,
                    dst: v,
                    hops,
                },
            ),
            5 => (
                Kind::Person,
                QClause::Bound {
                    src: from,
                    dst: v,
                    either: a > b,
                    n: q.clauses.len(),
                },
            ),
            _ => (
                Kind::Person,
                QClause::Bind {
                    var: v,
                    kind: Kind::Person,
                    name: None,
                },
            ),
        };
        q.kinds.push(kind);
        q.clauses.push(clause);
    }
    let persons = q.persons();
    for (choice, a, b, op, k) in extra {
        let (a, b) = (
            persons[a.index(persons.len())],
            persons[b.index(persons.len())],
        );
        q.clauses.push(match choice {
            0 => QClause::AgeConst { var: a, op, k },
            1 => QClause::AgeCmp { a, b, op },
            2 => QClause::Knows {
                src: a,
                dst: b,
                hops: (1, 1),
            },
            3 => QClause::NotKnowsAny { var: a },
            4 => QClause::NotKnownByAny { var: a },
            5 => QClause::NotKnowsVar { src: a, dst: b },
            6 => QClause::NotWorks { var: a },
            8 => QClause::Either {
                src: a,
                dst: b,
                hops: (1, 1 + u32::from(k % 2 == 1)),
            },
            9 => QClause::NotKnowsEither { var: a },
            10 => QClause::Bound {
                src: a,
                dst: b,
                either: k % 2 == 1,
                n: q.clauses.len(),
            },
            _ => QClause::Knows {
                src: a,
                dst: b,
                hops: (1, 2),
            },
        });
    }
    q.returns = match shape.0 {
        0 => Returns::Plain,
        1 => Returns::Grouped,
        _ => Returns::Global,
    };
    q.order = shape.1.map(|(col, desc)| (col % q.columns().len(), desc));
    q
}

// ---------------------------------------------------------------- the naive evaluator

fn knows_count(g: &GraphSpec, a: usize, b: usize) -> usize {
    g.knows.iter().filter(|e| **e == (a, b)).count()
}

/// Does a traversal of m..=n Knows edges from `a` report `b`? Breadth first, each node
/// expanded once and reported at the hop it is first reached (the start counts as
/// reached at hop 0); a self-loop reports its node at the next hop.
fn reachable(g: &GraphSpec, a: usize, b: usize, m: u32, n: u32) -> bool {
    reachable_by(g, a, b, m, n, false)
}

/// `reachable`, following each edge either way when `either`.
fn reachable_by(g: &GraphSpec, a: usize, b: usize, m: u32, n: u32, either: bool) -> bool {
    let neighbours = |x: usize| -> Vec<usize> {
        g.knows
            .iter()
            .filter_map(|e| match (e.0 == x, either && e.1 == x) {
                (true, _) => Some(e.1),
                (false, true) => Some(e.0),
                _ => None,
            })
            .collect()
    };
    if m == 0 && a == b {
        return true;
    }
    let mut visited: HashSet<usize> = HashSet::from([a]);
    let mut frontier = vec![a];
    for hop in 1..=n {
        let mut next = vec![];
        for x in &frontier {
            for y in &neighbours(*x) {
                let first = if y == x {
                    true
                } else {
                    let new = visited.insert(*y);
                    if new {
                        next.push(*y);
                    }
                    new
                };
                if first && hop >= m && *y == b {
                    return true;
                }
            }
        }
        if next.is_empty() {
            return false;
        }
        frontier = next;
    }
    false
}

fn holds(op: usize, a: Option<i32>, b: Option<i32>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    match OPS[op] {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        _ => a >= b,
    }
}

/// How many times an assignment matches (parallel edges repeat a match).
fn multiplicity(g: &GraphSpec, q: &QuerySpec, t: &[usize]) -> usize {
    let mut m = 1;
    for c in &q.clauses {
        m *= match c {
            QClause::Bind { var, name, .. } => usize::from(name.is_none_or(|n| t[*var] == n)),
            QClause::Knows {
                src,
                dst,
                hops: (1, 1),
            } => knows_count(g, t[*src], t[*dst]),
            QClause::Knows {
                src,
                dst,
                hops: (a, b),
            } => usize::from(reachable(g, t[*src], t[*dst], *a, *b)),
            // Each connected pair once, whichever way and however many edges.
            QClause::Either {
                src,
                dst,
                hops: (1, 1),
            } => {
                usize::from(knows_count(g, t[*src], t[*dst]) + knows_count(g, t[*dst], t[*src]) > 0)
            }
            QClause::Either {
                src,
                dst,
                hops: (a, b),
            } => usize::from(reachable_by(g, t[*src], t[*dst], *a, *b, true)),
            // One row per edge: each edge between the two, a self-loop once.
            QClause::Bound {
                src, dst, either, ..
            } => {
                let (a, b) = (t[*src], t[*dst]);
                match (*either, a == b) {
                    (false, _) | (true, true) => knows_count(g, a, b),
                    (true, false) => knows_count(g, a, b) + knows_count(g, b, a),
                }
            }
            QClause::WorksAt { src, dst } => {
                g.works.iter().filter(|e| **e == (t[*src], t[*dst])).count()
            }
            QClause::AgeConst { var, op, k } => usize::from(holds(*op, g.ages[t[*var]], Some(*k))),
            QClause::AgeCmp { a, b, op } => usize::from(holds(*op, g.ages[t[*a]], g.ages[t[*b]])),
            QClause::NotKnowsAny { var } => usize::from(!g.knows.iter().any(|e| e.0 == t[*var])),
            QClause::NotKnownByAny { var } => usize::from(!g.knows.iter().any(|e| e.1 == t[*var])),
            QClause::NotKnowsVar { src, dst } => usize::from(knows_count(g, t[*src], t[*dst]) == 0),
            QClause::NotWorks { var } => usize::from(!g.works.iter().any(|e| e.0 == t[*var])),
            QClause::NotKnowsEither { var } => {
                usize::from(!g.knows.iter().any(|e| e.0 == t[*var] || e.1 == t[*var]))
            }
        };
        if m == 0 {
            return 0;
        }
    }
    m
}

/// Every matching assignment, in lexicographic order of the variables' keys.
pub fn matches(g: &GraphSpec, q: &QuerySpec) -> Vec<Vec<usize>> {
    let domain = |k: Kind| {
        if k == Kind::Person {
            g.ages.len()
        } else {
            g.companies
        }
    };
    let mut out = vec![];
    let mut t = vec![0usize; q.kinds.len()];
    fn rec(
        g: &GraphSpec,
        q: &QuerySpec,
        d: &dyn Fn(Kind) -> usize,
        i: usize,
        t: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        if i == t.len() {
            for _ in 0..multiplicity(g, q, t) {
                out.push(t.clone());
            }
            return;
        }
        for x in 0..d(q.kinds[i]) {
            if q.kinds[i] == Kind::Person && !g.present[x] {
                continue;
            }
            t[i] = x;
            rec(g, q, d, i + 1, t, out);
        }
    }
    rec(g, q, &domain, 0, &mut t, &mut out);
    out
}

fn name_of(k: Kind, i: usize) -> Value {
    Value::String(if k == Kind::Person {
        person(i)
    } else {
        company(i)
    })
}

/// Rows as (sort values, visible JSON row), in the evaluator's tie order.
pub fn naive_rows(g: &GraphSpec, q: &QuerySpec) -> Vec<Vec<Value>> {
    let ms = matches(g, q);
    match q.returns {
        Returns::Plain => ms
            .iter()
            .map(|t| {
                let mut row: Vec<Value> = t
                    .iter()
                    .enumerate()
                    .map(|(v, x)| name_of(q.kinds[v], *x))
                    .collect();
                row.push(json!(g.ages[t[0]]));
                row
            })
            .collect(),
        Returns::Global => vec![vec![json!(ms.len())]],
        Returns::Grouped => {
            let mut groups: Vec<(usize, Vec<Option<i32>>)> = vec![];
            for t in &ms {
                match groups.iter_mut().find(|(p, _)| *p == t[0]) {
                    Some((_, ages)) => ages.push(g.ages[t[0]]),
                    None => groups.push((t[0], vec![g.ages[t[0]]])),
                }
            }
            groups.sort_by_key(|(p, _)| *p);
            groups
                .into_iter()
                .map(|(p, ages)| {
                    let vals: Vec<i32> = ages.iter().flatten().copied().collect();
                    let sum = if vals.is_empty() {
                        Value::Null
                    } else {
                        json!(vals.iter().map(|x| *x as f64).sum::<f64>())
                    };
                    vec![
                        json!(person(p)),
                        json!(ages.len()),
                        sum,
                        json!(vals.iter().min()),
                        json!(vals.iter().max()),
                    ]
                })
                .collect()
        }
    }
}

/// Null first, then numbers, then strings (each column holds one kind).
fn cmp_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        _ => a.as_str().cmp(&b.as_str()),
    }
}

fn sorted_strings(rows: &[Vec<Value>]) -> Vec<String> {
    let mut s: Vec<String> = rows
        .iter()
        .map(|r| Value::Array(r.clone()).to_string())
        .collect();
    s.sort();
    s
}

pub async fn check(g: &TestGraph, spec: &GraphSpec, q: &QuerySpec) -> Result<(), String> {
    let text = q.text();
    let columns = q.columns();
    let result = g
        .try_read_at(&text, json!({}), None)
        .await
        .map_err(|e| format!("{text}\n{e}"))?;
    if result.columns != columns {
        return Err(format!("{text}\ncolumns {:?}", result.columns));
    }
    let got: Vec<Vec<Value>> = result
        .rows
        .iter()
        .map(|r| columns.iter().map(|c| r[c].clone()).collect())
        .collect();
    let mut expected = naive_rows(spec, q);
    if let Some((col, desc)) = q.order {
        // Stable sort: the evaluator's rows are already in tie order (keys of the variables).
        expected.sort_by(|a, b| {
            let o = cmp_json(&a[col], &b[col]);
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        if let Some(l) = q.limit {
            expected.truncate(l as usize);
        }
        if got != expected {
            return Err(format!(
                "{text}\n{}\nengine: {got:?}\nnaive:  {expected:?}",
                spec.jsonl()
            ));
        }
        return Ok(());
    }
    let want = sorted_strings(&expected);
    let have = sorted_strings(&got);
    let ok = match q.limit {
        None => have == want,
        Some(l) => {
            let mut pool = want.clone();
            have.len() == want.len().min(l as usize)
                && have.iter().all(|h| {
                    pool.iter()
                        .position(|w| w == h)
                        .map(|i| pool.remove(i))
                        .is_some()
                })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{text}\n{}\nengine: {have:?}\nnaive:  {want:?}",
            spec.jsonl()
        ))
    }
}
