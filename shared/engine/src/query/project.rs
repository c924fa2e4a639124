//! Projection values of one row of bindings: as JSON for the result, as `Scalar` for sorting
//! and aggregating.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use omnigraph_lang::query::typed::{Literal, ProjExpr};
use serde_json::Value as Json;

use super::data::NodeData;
use super::value::Scalar;
use crate::columns::cell_json;
use crate::error::{EngineError, Result};

/// A property or key column of one variable, resolved once; or a value the same in every
/// row (`now()`), then `array` holds it alone.
#[derive(Clone)]
pub struct VarColumn {
    pub var: usize,
    pub array: ArrayRef,
    pub constant: bool,
}

impl VarColumn {
    /// The column a non-aggregate expression reads (for an aggregate, its argument's).
    /// `now` is the one-row array of `now()`'s value, when the query uses it.
    pub fn of(
        expr: &ProjExpr,
        nodes: &[Arc<NodeData>],
        keys: &[String],
        virtuals: &HashMap<(usize, String), ArrayRef>,
        now: Option<&ArrayRef>,
    ) -> Result<VarColumn> {
        match expr {
            ProjExpr::VarKey { var } => {
                let node = node_of(nodes, *var)?;
                Ok(VarColumn {
                    var: *var,
                    array: node.keys().clone(),
                    constant: false,
                })
            }
            ProjExpr::Literal(lit) => Ok(VarColumn {
                var: 0,
                array: literal_array(lit),
                constant: true,
            }),
            ProjExpr::Now => {
                let array = now.cloned().ok_or_else(|| {
                    EngineError::Corrupt("now() is projected but was not bound".into())
                })?;
                Ok(VarColumn {
                    var: 0,
                    array,
                    constant: true,
                })
            }
            ProjExpr::Prop { var, prop } => {
                if let Some(array) = virtuals.get(&(*var, prop.clone())) {
                    return Ok(VarColumn {
                        var: *var,
                        array: array.clone(),
                        constant: false,
                    });
                }
                let node = node_of(nodes, *var)?;
                let array = if keys.get(*var) == Some(prop) {
                    node.keys().clone()
                } else {
                    node.column(prop).ok_or_else(|| {
                        EngineError::Corrupt(format!(
                            "column {prop} of {} was not loaded",
                            node.type_name
                        ))
                    })?
                };
                Ok(VarColumn {
                    var: *var,
                    array,
                    constant: false,
                })
            }
            ProjExpr::Agg { arg, .. } => VarColumn::of(arg, nodes, keys, virtuals, now),
            ProjExpr::Search(_) => Err(EngineError::Corrupt(
                "a search call reached projection without being lowered".into(),
            )),
        }
    }

    /// The row of `array` that a row of bindings reads.
    pub fn row(&self, ids: &[u32]) -> u32 {
        if self.constant {
            0
        } else {
            ids[self.var]
        }
    }

    pub fn json(&self, ids: &[u32]) -> Json {
        cell_json(self.array.as_ref(), self.row(ids) as usize)
    }

    pub fn scalar(&self, ids: &[u32]) -> Scalar {
        Scalar::from_array(self.array.as_ref(), self.row(ids) as usize)
    }

    pub fn json_of_id(&self, id: u32) -> Json {
        cell_json(self.array.as_ref(), id as usize)
    }
}

/// A literal as a one-row array of its own type (a null as a null String).
fn literal_array(lit: &Literal) -> ArrayRef {
    match lit {
        Literal::Null => Arc::new(StringArray::from(vec![None::<&str>])),
        Literal::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Literal::Int(i) => Arc::new(Int64Array::from(vec![*i])),
        Literal::Float(f) => Arc::new(Float64Array::from(vec![*f])),
        Literal::String(s) => Arc::new(StringArray::from(vec![s.as_str()])),
    }
}

fn node_of(nodes: &[Arc<NodeData>], var: usize) -> Result<&Arc<NodeData>> {
    nodes.get(var).ok_or_else(|| {
        EngineError::Corrupt(format!(
            "projection names variable #{var}, which does not exist"
        ))
    })
}
