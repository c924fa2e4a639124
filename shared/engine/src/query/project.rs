//! Projection values of one row of bindings: as JSON for the result, as `Scalar` for sorting
//! and aggregating.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::ArrayRef;
use omnigraph_lang::query::typed::ProjExpr;
use serde_json::Value as Json;

use super::data::NodeData;
use super::value::Scalar;
use crate::columns::cell_json;
use crate::error::{EngineError, Result};

/// A property or key column of one variable, resolved once.
#[derive(Clone)]
pub struct VarColumn {
    pub var: usize,
    pub array: ArrayRef,
}

impl VarColumn {
    /// The column a non-aggregate expression reads (for an aggregate, its argument's).
    pub fn of(
        expr: &ProjExpr,
        nodes: &[Arc<NodeData>],
        keys: &[String],
        virtuals: &HashMap<(usize, String), ArrayRef>,
    ) -> Result<VarColumn> {
        match expr {
            ProjExpr::VarKey { var } => {
                let node = node_of(nodes, *var)?;
                Ok(VarColumn {
                    var: *var,
                    array: node.keys().clone(),
                })
            }
            ProjExpr::Prop { var, prop } => {
                if let Some(array) = virtuals.get(&(*var, prop.clone())) {
                    return Ok(VarColumn {
                        var: *var,
                        array: array.clone(),
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
                Ok(VarColumn { var: *var, array })
            }
            ProjExpr::Agg { arg, .. } => VarColumn::of(arg, nodes, keys, virtuals),
            ProjExpr::Search(_) => Err(EngineError::Corrupt(
                "a search call reached projection without being lowered".into(),
            )),
        }
    }

    pub fn json(&self, ids: &[u32]) -> Json {
        cell_json(self.array.as_ref(), ids[self.var] as usize)
    }

    pub fn scalar(&self, ids: &[u32]) -> Scalar {
        Scalar::from_array(self.array.as_ref(), ids[self.var] as usize)
    }

    pub fn json_of_id(&self, id: u32) -> Json {
        cell_json(self.array.as_ref(), id as usize)
    }
}

fn node_of(nodes: &[Arc<NodeData>], var: usize) -> Result<&Arc<NodeData>> {
    nodes.get(var).ok_or_else(|| {
        EngineError::Corrupt(format!(
            "projection names variable #{var}, which does not exist"
        ))
    })
}
