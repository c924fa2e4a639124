//! Typed scalar values of the query language: read from Arrow cells or converted from JSON
//! and literals by the schema type they meet, compared with one set of rules.
//!
//! Rules: a comparison with a null on either side is false (for every operator, `!=`
//! included); numbers compare numerically across integer and float types; strings and enum
//! values compare by bytes; `contains` is a substring test on strings and a membership test
//! on lists; `starts_with` is a prefix test on strings.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, FixedSizeListArray, Float32Array,
    Float64Array, Int32Array, Int64Array, LargeStringArray, ListArray, StringArray,
    TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::DataType;
use omnigraph_lang::query::typed::{CompareOp, Literal};
use omnigraph_lang::{BaseType, PropType};
use serde_json::Value as Json;

use crate::columns::{parse_date, parse_datetime};

/// One value, typed enough to compare and to hash.
#[derive(Debug, Clone)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since the epoch, UTC.
    DateTime(i64),
    Bytes(Vec<u8>),
    List(Vec<Scalar>),
}

impl Scalar {
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// The value of one Arrow cell.
    pub fn from_array(array: &dyn Array, row: usize) -> Scalar {
        if array.is_null(row) {
            return Scalar::Null;
        }
        let any = array.as_any();
        macro_rules! cell {
            ($t:ty, $variant:ident, $conv:expr) => {
                if let Some(a) = any.downcast_ref::<$t>() {
                    return Scalar::$variant($conv(a.value(row)));
                }
            };
        }
        cell!(StringArray, Str, |v: &str| v.to_string());
        cell!(Int32Array, Int, i64::from);
        cell!(Int64Array, Int, |v| v);
        cell!(UInt32Array, UInt, u64::from);
        cell!(UInt64Array, UInt, |v| v);
        cell!(Float32Array, Float, f64::from);
        cell!(Float64Array, Float, |v| v);
        cell!(BooleanArray, Bool, |v| v);
        cell!(Date32Array, Date, |v| v);
        cell!(TimestampMillisecondArray, DateTime, |v| v);
        cell!(BinaryArray, Bytes, |v: &[u8]| v.to_vec());
        cell!(LargeStringArray, Str, |v: &str| v.to_string());
        if let Some(a) = any.downcast_ref::<ListArray>() {
            return list_of(a.value(row).as_ref());
        }
        if let Some(a) = any.downcast_ref::<FixedSizeListArray>() {
            return list_of(a.value(row).as_ref());
        }
        Scalar::Null
    }

    /// Convert a JSON value (a parameter or a stored row's cell) to the value of `ty`.
    /// Err names what was expected.
    pub fn from_json(v: &Json, ty: &PropType) -> Result<Scalar, String> {
        if v.is_null() {
            return Ok(Scalar::Null);
        }
        match ty {
            PropType::Base(b) => base_from_json(v, *b),
            PropType::Enum(values) => match v {
                Json::String(s) if values.iter().any(|x| x == s) => Ok(Scalar::Str(s.clone())),
                Json::String(s) => Err(format!("`{s}` is not one of enum({})", values.join(", "))),
                _ => Err("expected a string (enum value)".into()),
            },
            PropType::List(b) => match v {
                Json::Array(items) => items
                    .iter()
                    .map(|i| base_from_json(i, *b))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Scalar::List),
                _ => Err(format!("expected a list of {}", b.name())),
            },
            PropType::Vector(n) => match v {
                Json::Array(items) if items.len() == *n as usize => items
                    .iter()
                    .map(|i| {
                        i.as_f64()
                            .map(Scalar::Float)
                            .ok_or("vector elements must be numbers".to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Scalar::List),
                _ => Err(format!("expected Vector({n})")),
            },
        }
    }

    /// Convert a literal written in a query to the value of `ty` (the type it is compared
    /// with or assigned to): date strings become dates, integers may meet floats.
    pub fn from_literal(lit: &Literal, ty: &PropType) -> Result<Scalar, String> {
        let json = match lit {
            Literal::Null => Json::Null,
            Literal::Bool(b) => Json::Bool(*b),
            Literal::Int(i) => Json::from(*i),
            Literal::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Literal::String(s) => Json::String(s.clone()),
        };
        Scalar::from_json(&json, ty)
    }

    /// Total order used by `order` and min/max: null first, then by value.
    pub fn total_cmp(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Null, Scalar::Null) => Ordering::Equal,
            (Scalar::Null, _) => Ordering::Less,
            (_, Scalar::Null) => Ordering::Greater,
            _ => self
                .value_cmp(other)
                .unwrap_or_else(|| self.rank().cmp(&other.rank())),
        }
    }

    /// Order of two non-null values of comparable types.
    fn value_cmp(&self, other: &Scalar) -> Option<Ordering> {
        use Scalar::*;
        Some(match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (UInt(a), UInt(b)) => a.cmp(b),
            (Int(a), UInt(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (UInt(a), Int(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Float(a), Int(b)) => a.total_cmp(&(*b as f64)),
            (Float(a), UInt(b)) => a.total_cmp(&(*b as f64)),
            (Int(a), Float(b)) => (*a as f64).total_cmp(b),
            (UInt(a), Float(b)) => (*a as f64).total_cmp(b),
            (Str(a), Str(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (DateTime(a), DateTime(b)) => a.cmp(b),
            (Date(a), DateTime(b)) => (i64::from(*a) * 86_400_000).cmp(b),
            (DateTime(a), Date(b)) => a.cmp(&(i64::from(*b) * 86_400_000)),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            // Strings stand for dates in ISO form (a String parameter compared with a Date).
            (Str(s), Date(_) | DateTime(_)) => {
                Scalar::DateTime(parse_datetime(s)?).value_cmp(other)?
            }
            (Date(_) | DateTime(_), Str(s)) => {
                self.value_cmp(&Scalar::DateTime(parse_datetime(s)?))?
            }
            (List(a), List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match x.total_cmp(y) {
                        Ordering::Equal => continue,
                        o => return Some(o),
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => return None,
        })
    }

    fn rank(&self) -> u8 {
        match self {
            Scalar::Null => 0,
            Scalar::Bool(_) => 1,
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => 2,
            Scalar::Str(_) => 3,
            Scalar::Date(_) | Scalar::DateTime(_) => 4,
            Scalar::Bytes(_) => 5,
            Scalar::List(_) => 6,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::UInt(u) => Some(*u as f64),
            Scalar::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// `lhs op rhs` under the query language's rules (see the module comment).
pub fn compare(lhs: &Scalar, op: CompareOp, rhs: &Scalar) -> bool {
    if lhs.is_null() || rhs.is_null() {
        return false;
    }
    match op {
        CompareOp::Contains => contains(lhs, rhs),
        CompareOp::StartsWith => match (lhs, rhs) {
            (Scalar::Str(a), Scalar::Str(b)) => a.starts_with(b.as_str()),
            _ => false,
        },
        _ => match lhs.value_cmp(rhs) {
            None => false,
            Some(o) => match op {
                CompareOp::Eq => o == Ordering::Equal,
                CompareOp::Ne => o != Ordering::Equal,
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                CompareOp::Ge => o != Ordering::Less,
                CompareOp::Contains | CompareOp::StartsWith => false,
            },
        },
    }
}

fn contains(lhs: &Scalar, rhs: &Scalar) -> bool {
    match (lhs, rhs) {
        (Scalar::Str(a), Scalar::Str(b)) => a.contains(b.as_str()),
        (Scalar::List(items), x) => items.iter().any(|i| compare(i, CompareOp::Eq, x)),
        _ => false,
    }
}

fn list_of(values: &dyn Array) -> Scalar {
    Scalar::List(
        (0..values.len())
            .map(|i| Scalar::from_array(values, i))
            .collect(),
    )
}

fn base_from_json(v: &Json, b: BaseType) -> Result<Scalar, String> {
    let expected = || {
        format!(
            "expected {}, got {}",
            b.name(),
            crate::columns::json_kind(v)
        )
    };
    if v.is_null() {
        return Ok(Scalar::Null);
    }
    match b {
        BaseType::String => v
            .as_str()
            .map(|s| Scalar::Str(s.to_string()))
            .ok_or_else(expected),
        BaseType::Bool => v.as_bool().map(Scalar::Bool).ok_or_else(expected),
        BaseType::I32 | BaseType::I64 => {
            let i = v.as_i64().ok_or_else(expected)?;
            if b == BaseType::I32 && i32::try_from(i).is_err() {
                return Err(format!("{i} does not fit in I32"));
            }
            Ok(Scalar::Int(i))
        }
        BaseType::U32 | BaseType::U64 => {
            let u = v.as_u64().ok_or_else(expected)?;
            if b == BaseType::U32 && u32::try_from(u).is_err() {
                return Err(format!("{u} does not fit in U32"));
            }
            Ok(Scalar::UInt(u))
        }
        BaseType::F32 | BaseType::F64 => v.as_f64().map(Scalar::Float).ok_or_else(expected),
        BaseType::Date => match v {
            Json::String(s) => parse_date(s)
                .map(Scalar::Date)
                .ok_or_else(|| format!("`{s}` is not a Date (YYYY-MM-DD)")),
            _ => Err(expected()),
        },
        BaseType::DateTime => match v {
            Json::String(s) => parse_datetime(s)
                .map(Scalar::DateTime)
                .ok_or_else(|| format!("`{s}` is not a DateTime (ISO-8601)")),
            _ => Err(expected()),
        },
        BaseType::Blob => match v {
            Json::String(s) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Scalar::Bytes)
                    .map_err(|_| "expected a base64 string for Blob".to_string())
            }
            _ => Err(expected()),
        },
    }
}

/// A one-element Arrow array of `dt` holding `s`, for vectorised comparisons; `None` when the
/// value cannot be represented exactly in that type (then rows are compared one by one).
pub fn scalar_array(dt: &DataType, s: &Scalar) -> Option<ArrayRef> {
    use std::sync::Arc;
    let array: ArrayRef = match (dt, s) {
        (DataType::Utf8, Scalar::Str(v)) => Arc::new(StringArray::from(vec![v.as_str()])),
        (DataType::Boolean, Scalar::Bool(v)) => Arc::new(BooleanArray::from(vec![*v])),
        (DataType::Int32, Scalar::Int(v)) => {
            Arc::new(Int32Array::from(vec![i32::try_from(*v).ok()?]))
        }
        (DataType::Int64, Scalar::Int(v)) => Arc::new(Int64Array::from(vec![*v])),
        (DataType::UInt32, Scalar::UInt(v)) => {
            Arc::new(UInt32Array::from(vec![u32::try_from(*v).ok()?]))
        }
        (DataType::UInt64, Scalar::UInt(v)) => Arc::new(UInt64Array::from(vec![*v])),
        (DataType::Float64, Scalar::Float(v)) => Arc::new(Float64Array::from(vec![*v])),
        (DataType::Float64, Scalar::Int(v)) => Arc::new(Float64Array::from(vec![*v as f64])),
        (DataType::Date32, Scalar::Date(v)) => Arc::new(Date32Array::from(vec![*v])),
        (DataType::Timestamp(_, tz), Scalar::DateTime(v)) => {
            Arc::new(TimestampMillisecondArray::from(vec![*v]).with_timezone_opt(tz.clone()))
        }
        _ => return None,
    };
    Some(array)
}

/// A hashable stand-in for a `Scalar`, for grouping (floats by their bits).
#[derive(Debug, Clone)]
pub struct GroupValue(pub Scalar);

impl PartialEq for GroupValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal && self.0.rank() == other.0.rank()
    }
}

impl Eq for GroupValue {}

impl Hash for GroupValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_scalar(&self.0, state);
    }
}

fn hash_scalar<H: Hasher>(s: &Scalar, state: &mut H) {
    s.rank().hash(state);
    match s {
        Scalar::Null => {}
        Scalar::Bool(b) => b.hash(state),
        // Integers and floats of equal value must hash alike: hash numbers as f64 bits.
        Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => {
            let f = s.as_f64().unwrap_or(0.0);
            (if f == 0.0 { 0.0f64 } else { f }).to_bits().hash(state)
        }
        Scalar::Str(v) => v.hash(state),
        Scalar::Date(d) => (i64::from(*d) * 86_400_000).hash(state),
        Scalar::DateTime(t) => t.hash(state),
        Scalar::Bytes(b) => b.hash(state),
        Scalar::List(items) => {
            items.len().hash(state);
            for i in items {
                hash_scalar(i, state);
            }
        }
    }
}
