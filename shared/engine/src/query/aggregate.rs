//! Aggregates, grouped by the non-aggregate projections: `count` is an integer (of rows for
//! `count($x)`, of non-null values for `count($x.prop)`), `sum` and `avg` are floats over the
//! non-null values (null when there are none), `min`/`max` keep the property's type.

use std::collections::HashMap;

use omnigraph_lang::query::typed::{AggFunc, ProjExpr, Projection};
use serde_json::Value as Json;

use super::project::VarColumn;
use super::value::{GroupValue, Scalar};

enum Acc {
    Count(i64),
    /// Sum and number of values (for `sum` and `avg`).
    Sum {
        sum: f64,
        n: u64,
    },
    /// Best value so far and the node id it came from (to render it in the result format).
    Extreme {
        best: Option<(Scalar, u32)>,
        max: bool,
    },
}

impl Acc {
    fn new(func: AggFunc) -> Acc {
        match func {
            AggFunc::Count => Acc::Count(0),
            AggFunc::Sum | AggFunc::Avg => Acc::Sum { sum: 0.0, n: 0 },
            AggFunc::Min => Acc::Extreme {
                best: None,
                max: false,
            },
            AggFunc::Max => Acc::Extreme {
                best: None,
                max: true,
            },
        }
    }

    fn add(&mut self, col: &VarColumn, counts_rows: bool, ids: &[u32]) {
        let value = col.scalar(ids);
        match self {
            Acc::Count(n) => {
                if counts_rows || !value.is_null() {
                    *n += 1;
                }
            }
            Acc::Sum { sum, n } => {
                if let Some(x) = value.as_f64() {
                    *sum += x;
                    *n += 1;
                }
            }
            Acc::Extreme { best, max } => {
                if value.is_null() {
                    return;
                }
                let better = match best {
                    None => true,
                    Some((b, _)) => {
                        let o = value.total_cmp(b);
                        if *max {
                            o.is_gt()
                        } else {
                            o.is_lt()
                        }
                    }
                };
                if better {
                    *best = Some((value, col.row(ids)));
                }
            }
        }
    }

    fn scalar(&self, func: AggFunc) -> Scalar {
        match (self, func) {
            (Acc::Count(n), _) => Scalar::Int(*n),
            (Acc::Sum { n: 0, .. }, _) => Scalar::Null,
            (Acc::Sum { sum, n }, AggFunc::Avg) => Scalar::Float(sum / *n as f64),
            (Acc::Sum { sum, .. }, _) => Scalar::Float(*sum),
            (Acc::Extreme { best, .. }, _) => best
                .as_ref()
                .map(|(s, _)| s.clone())
                .unwrap_or(Scalar::Null),
        }
    }

    fn json(&self, func: AggFunc, col: &VarColumn) -> Json {
        match self {
            Acc::Extreme {
                best: Some((_, id)),
                ..
            } => col.json_of_id(*id),
            _ => match self.scalar(func) {
                Scalar::Int(n) => Json::from(n),
                Scalar::Float(f) => serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .unwrap_or(Json::Null),
                _ => Json::Null,
            },
        }
    }
}

struct Group {
    /// The first row of the group, to render its group-key columns.
    first: Vec<u32>,
    accs: Vec<Acc>,
}

/// One output column of an aggregate query.
enum Column {
    Key(VarColumn),
    Agg {
        func: AggFunc,
        col: VarColumn,
        counts_rows: bool,
    },
}

/// A finished group: its result values (as scalars for sorting, as JSON for output).
pub struct GroupRow {
    pub scalars: Vec<Scalar>,
    pub json: Vec<Json>,
}

pub struct Groups {
    columns: Vec<Column>,
    index: HashMap<Vec<GroupValue>, usize>,
    groups: Vec<Group>,
}

impl Groups {
    /// `columns[i]` is the column read by projection `i` (the argument's, for aggregates).
    pub fn new(returns: &[Projection], columns: Vec<VarColumn>) -> Groups {
        let columns = returns
            .iter()
            .zip(columns)
            .map(|(p, col)| match &p.expr {
                ProjExpr::Agg { func, arg } => Column::Agg {
                    func: *func,
                    col,
                    counts_rows: matches!(arg.as_ref(), ProjExpr::VarKey { .. }),
                },
                _ => Column::Key(col),
            })
            .collect();
        Groups {
            columns,
            index: HashMap::new(),
            groups: vec![],
        }
    }

    /// Groups held so far.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn add(&mut self, ids: &[u32]) {
        let key: Vec<GroupValue> = self
            .columns
            .iter()
            .filter_map(|c| match c {
                Column::Key(col) => Some(GroupValue(col.scalar(ids))),
                Column::Agg { .. } => None,
            })
            .collect();
        let n = self.groups.len();
        let gi = *self.index.entry(key).or_insert(n);
        if gi == n {
            let accs = self
                .columns
                .iter()
                .filter_map(|c| match c {
                    Column::Agg { func, .. } => Some(Acc::new(*func)),
                    Column::Key(_) => None,
                })
                .collect();
            self.groups.push(Group {
                first: ids.to_vec(),
                accs,
            });
        }
        let group = &mut self.groups[gi];
        let aggs = self.columns.iter().filter_map(|c| match c {
            Column::Agg {
                col, counts_rows, ..
            } => Some((col, *counts_rows)),
            Column::Key(_) => None,
        });
        for (acc, (col, counts_rows)) in group.accs.iter_mut().zip(aggs) {
            acc.add(col, counts_rows, ids);
        }
    }

    /// The groups in order of first appearance; with no group keys and no rows, the one
    /// group of the empty input (count 0).
    pub fn finish(mut self) -> Vec<GroupRow> {
        let has_keys = self.columns.iter().any(|c| matches!(c, Column::Key(_)));
        if self.groups.is_empty() && !has_keys {
            let accs = self
                .columns
                .iter()
                .filter_map(|c| match c {
                    Column::Agg { func, .. } => Some(Acc::new(*func)),
                    Column::Key(_) => None,
                })
                .collect();
            self.groups.push(Group {
                first: vec![],
                accs,
            });
        }
        let columns = &self.columns;
        self.groups.iter().map(|g| render(columns, g)).collect()
    }
}

fn render(columns: &[Column], g: &Group) -> GroupRow {
    let mut scalars = vec![];
    let mut json = vec![];
    let mut accs = g.accs.iter();
    for c in columns {
        match c {
            Column::Key(col) => {
                scalars.push(col.scalar(&g.first));
                json.push(col.json(&g.first));
            }
            Column::Agg { func, col, .. } => {
                if let Some(acc) = accs.next() {
                    scalars.push(acc.scalar(*func));
                    json.push(acc.json(*func, col));
                }
            }
        }
    }
    GroupRow { scalars, json }
}
