//! Filters pushed into Lance scans: `column op value` as SQL, only where Lance is bound to
//! compare exactly as the query language does. Anything else is evaluated after the scan,
//! and pushed filters are re-checked there too: the language's rules are the truth.

use omnigraph_lang::query::typed::CompareOp;
use omnigraph_lang::{BaseType, PropType};

use super::value::Scalar;

/// The SQL operator of a comparison; `None` for the language's own (`contains`, ...).
pub fn sql_op(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Contains | CompareOp::StartsWith => return None,
    })
}

/// A SQL literal that Lance coerces to exactly `value` in a column of type `ty`; `None`
/// when that cannot be guaranteed (the filter then runs after the scan instead).
pub fn sql_literal(ty: &PropType, value: &Scalar) -> Option<String> {
    let fits = |b: BaseType, i: i128| match b {
        BaseType::I32 => i32::try_from(i).is_ok(),
        BaseType::I64 => i64::try_from(i).is_ok(),
        BaseType::U32 => u32::try_from(i).is_ok(),
        BaseType::U64 => u64::try_from(i).is_ok(),
        _ => false,
    };
    match (ty, value) {
        (PropType::Base(BaseType::String) | PropType::Enum(_), Scalar::Str(s)) => {
            Some(format!("'{}'", s.replace('\'', "''")))
        }
        (PropType::Base(b), Scalar::Int(i)) if fits(*b, i128::from(*i)) => Some(i.to_string()),
        (PropType::Base(b), Scalar::UInt(u)) if fits(*b, i128::from(*u)) => Some(u.to_string()),
        (PropType::Base(BaseType::Bool), Scalar::Bool(x)) => Some(x.to_string()),
        _ => None,
    }
}

/// `column op value` as a Lance filter, or `None` when it cannot be pushed exactly.
pub fn column_filter(column: &str, ty: &PropType, op: CompareOp, value: &Scalar) -> Option<String> {
    Some(format!(
        "`{column}` {} {}",
        sql_op(op)?,
        sql_literal(ty, value)?
    ))
}
