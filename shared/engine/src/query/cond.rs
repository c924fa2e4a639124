//! Conditions compiled against loaded columns: constants resolved (parameters, literals
//! converted to the type they meet), key equalities turned into key lookups, and comparisons
//! of a column with a constant evaluated by Arrow kernels over whole chunks where possible.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Scalar as ArrowScalar};
use arrow::compute::kernels::cmp;
use arrow::datatypes::DataType;
use omnigraph_lang::query::typed::{CompareOp, Literal, Operand};
use omnigraph_lang::{BaseType, PropType};

use super::data::NodeData;
use super::params::BoundParams;
use super::plan::Condition;
use super::value::{compare, scalar_array, Scalar};
use crate::error::{EngineError, Result};

/// One side of a condition.
pub enum Term {
    Const(Scalar),
    /// A property (or the key) of a variable's node, indexed by node id.
    Column {
        var: usize,
        array: ArrayRef,
    },
}

/// `column op constant` in a form Arrow kernels evaluate.
pub struct VectorForm {
    column: ArrayRef,
    op: CompareOp,
    datum: ArrayRef,
}

pub struct CompiledCond {
    lhs: Term,
    op: CompareOp,
    rhs: Term,
    /// `(var, key)` when this is `$var.key = constant`.
    pub key_lookup: Option<(usize, Scalar)>,
    pub vector: Option<VectorForm>,
}

/// What a condition needs to know about the variables' node data and property types.
pub struct VarColumns<'a> {
    pub nodes: &'a [Arc<NodeData>],
    /// Per variable: its node type's key property name.
    pub keys: &'a [String],
    /// `(var, prop)` -> the property's type.
    pub prop_type: &'a dyn Fn(usize, &str) -> Option<PropType>,
    /// Values of search calls, as virtual properties (see `query::search`).
    pub virtuals: &'a std::collections::HashMap<(usize, String), ArrayRef>,
}

impl CompiledCond {
    pub fn compile(
        cond: &Condition,
        vars: &VarColumns,
        params: &BoundParams,
    ) -> Result<CompiledCond> {
        let lhs_ty = operand_type(&cond.lhs, vars);
        let rhs_ty = operand_type(&cond.rhs, vars);
        let lhs = term(&cond.lhs, rhs_ty.as_ref(), vars, params)?;
        let rhs = term(&cond.rhs, lhs_ty.as_ref(), vars, params)?;
        let key_lookup = key_lookup(cond, &lhs, &rhs, vars);
        let vector = vector_form(&lhs, cond.op, &rhs);
        Ok(CompiledCond {
            lhs,
            op: cond.op,
            rhs,
            key_lookup,
            vector,
        })
    }

    /// Evaluate for one row of bindings (`ids[var]` is the node id bound to `var`).
    pub fn holds(&self, ids: &[u32]) -> bool {
        let (left, right);
        let lhs = match &self.lhs {
            Term::Const(s) => s,
            Term::Column { var, array } => {
                left = Scalar::from_array(array.as_ref(), ids[*var] as usize);
                &left
            }
        };
        let rhs = match &self.rhs {
            Term::Const(s) => s,
            Term::Column { var, array } => {
                right = Scalar::from_array(array.as_ref(), ids[*var] as usize);
                &right
            }
        };
        compare(lhs, self.op, rhs)
    }
}

impl VectorForm {
    /// The rows `offset..offset+len` of the column that pass; nulls do not.
    pub fn mask(&self, offset: usize, len: usize) -> Result<BooleanArray> {
        let slice = self.column.slice(offset, len);
        let datum = ArrowScalar::new(self.datum.clone());
        let mask = match self.op {
            CompareOp::Eq => cmp::eq(&slice, &datum)?,
            CompareOp::Ne => cmp::neq(&slice, &datum)?,
            CompareOp::Lt => cmp::lt(&slice, &datum)?,
            CompareOp::Le => cmp::lt_eq(&slice, &datum)?,
            CompareOp::Gt => cmp::gt(&slice, &datum)?,
            CompareOp::Ge => cmp::gt_eq(&slice, &datum)?,
            CompareOp::Contains => arrow::compute::kernels::comparison::contains(&slice, &datum)?,
            CompareOp::StartsWith => {
                arrow::compute::kernels::comparison::starts_with(&slice, &datum)?
            }
        };
        Ok(mask)
    }
}

fn operand_type(op: &Operand, vars: &VarColumns) -> Option<PropType> {
    match op {
        Operand::Prop { var, prop } => (vars.prop_type)(*var, prop),
        _ => None,
    }
}

fn term(
    op: &Operand,
    other: Option<&PropType>,
    vars: &VarColumns,
    params: &BoundParams,
) -> Result<Term> {
    match op {
        Operand::Param(name) => Ok(Term::Const(params.scalar(name)?.clone())),
        Operand::Literal(lit) => {
            let ty = other.cloned().unwrap_or_else(|| literal_type(lit));
            let value = match (&ty, lit) {
                // `contains` on a list compares with an element.
                (PropType::List(b), l) => Scalar::from_literal(l, &PropType::Base(*b)),
                (ty, l) => Scalar::from_literal(l, ty),
            };
            value
                .map(Term::Const)
                .map_err(|e| EngineError::Invalid(format!("literal {lit} does not fit {ty}: {e}")))
        }
        Operand::Prop { var, prop } => {
            if let Some(array) = vars.virtuals.get(&(*var, prop.clone())) {
                return Ok(Term::Column {
                    var: *var,
                    array: array.clone(),
                });
            }
            let node = vars.nodes.get(*var).ok_or_else(|| {
                EngineError::Corrupt(format!("query names variable #{var}, which does not exist"))
            })?;
            let array = if vars.keys[*var] == *prop {
                node.keys().clone()
            } else {
                node.column(prop).ok_or_else(|| {
                    EngineError::Corrupt(format!(
                        "column {prop} of {} was not loaded",
                        node.type_name
                    ))
                })?
            };
            Ok(Term::Column { var: *var, array })
        }
    }
}

fn literal_type(lit: &Literal) -> PropType {
    PropType::Base(match lit {
        Literal::Null | Literal::String(_) => BaseType::String,
        Literal::Bool(_) => BaseType::Bool,
        Literal::Int(_) => BaseType::I64,
        Literal::Float(_) => BaseType::F64,
    })
}

fn key_lookup(
    cond: &Condition,
    lhs: &Term,
    rhs: &Term,
    vars: &VarColumns,
) -> Option<(usize, Scalar)> {
    if cond.op != CompareOp::Eq {
        return None;
    }
    let is_key = |o: &Operand| match o {
        Operand::Prop { var, prop } if vars.keys.get(*var) == Some(prop) => Some(*var),
        _ => None,
    };
    match (lhs, rhs) {
        (Term::Column { .. }, Term::Const(v)) => is_key(&cond.lhs).map(|var| (var, v.clone())),
        (Term::Const(v), Term::Column { .. }) => is_key(&cond.rhs).map(|var| (var, v.clone())),
        _ => None,
    }
}

fn vector_form(lhs: &Term, op: CompareOp, rhs: &Term) -> Option<VectorForm> {
    let (column, op, constant) = match (lhs, rhs) {
        (Term::Column { array, .. }, Term::Const(c)) => (array, op, c),
        (Term::Const(c), Term::Column { array, .. }) => (array, flipped(op)?, c),
        _ => return None,
    };
    if constant.is_null() {
        return None;
    }
    if matches!(op, CompareOp::Contains | CompareOp::StartsWith)
        && column.data_type() != &DataType::Utf8
    {
        return None;
    }
    let datum = scalar_array(column.data_type(), constant)?;
    Some(VectorForm {
        column: column.clone(),
        op,
        datum,
    })
}

/// `c op x` as `x op' c`.
pub(super) fn flipped(op: CompareOp) -> Option<CompareOp> {
    Some(match op {
        CompareOp::Eq => CompareOp::Eq,
        CompareOp::Ne => CompareOp::Ne,
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        CompareOp::Contains | CompareOp::StartsWith => return None,
    })
}
