//! How schema types become Arrow columns, and how JSON values go in and out of them.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use omnigraph_lang::{BaseType, Catalog, EdgeType, NodeType, PropType, Property};
use serde_json::Value;

/// Edge tables hold the source and target node keys in these two columns.
pub const SRC_COLUMN: &str = "_src";
pub const DST_COLUMN: &str = "_dst";

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub fn base_arrow_type(b: BaseType) -> DataType {
    match b {
        BaseType::String => DataType::Utf8,
        BaseType::Bool => DataType::Boolean,
        BaseType::I32 => DataType::Int32,
        BaseType::I64 => DataType::Int64,
        BaseType::U32 => DataType::UInt32,
        BaseType::U64 => DataType::UInt64,
        BaseType::F32 => DataType::Float32,
        BaseType::F64 => DataType::Float64,
        BaseType::Date => DataType::Date32,
        BaseType::DateTime => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        BaseType::Blob => DataType::Binary,
    }
}

pub fn arrow_type(ty: &PropType) -> DataType {
    match ty {
        PropType::Base(b) => base_arrow_type(*b),
        PropType::List(b) => {
            DataType::List(Arc::new(Field::new("item", base_arrow_type(*b), true)))
        }
        PropType::Enum(_) => DataType::Utf8,
        PropType::Vector(n) => DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, true)),
            *n as i32,
        ),
    }
}

fn prop_field(p: &Property) -> Field {
    // Columns are nullable at the Arrow level; the engine enforces required properties itself,
    // so that a schema change of nullability never needs a physical rewrite.
    Field::new(&p.name, arrow_type(&p.ty), true)
}

pub fn node_schema(node: &NodeType) -> SchemaRef {
    Arc::new(Schema::new(
        node.properties.iter().map(prop_field).collect::<Vec<_>>(),
    ))
}

pub fn edge_schema(catalog: &Catalog, edge: &EdgeType) -> SchemaRef {
    let key_type = |t: &str| {
        catalog
            .node(t)
            .map(|n| arrow_type(&n.key_property().ty))
            .unwrap_or(DataType::Utf8)
    };
    let mut fields = vec![
        Field::new(SRC_COLUMN, key_type(&edge.from), false),
        Field::new(DST_COLUMN, key_type(&edge.to), false),
    ];
    fields.extend(edge.properties.iter().map(prop_field));
    Arc::new(Schema::new(fields))
}

/// Append one JSON value to a column builder made by `make_builder` for `ty`.
/// Returns a message naming the expected type when the value does not fit.
pub fn append_json(builder: &mut dyn ArrayBuilder, ty: &PropType, v: &Value) -> Result<(), String> {
    match ty {
        PropType::Base(b) => append_base(builder, *b, v),
        PropType::Enum(values) => {
            if let Value::String(s) = v {
                if !values.iter().any(|x| x == s) {
                    return Err(format!("`{s}` is not one of enum({})", values.join(", ")));
                }
            }
            append_base(builder, BaseType::String, v)
        }
        PropType::List(b) => {
            let lb = downcast::<ListBuilder<Box<dyn ArrayBuilder>>>(builder)?;
            match v {
                Value::Null => {
                    lb.append(false);
                    Ok(())
                }
                Value::Array(items) => {
                    for item in items {
                        append_base(lb.values().as_mut(), *b, item)?;
                    }
                    lb.append(true);
                    Ok(())
                }
                _ => Err(format!("expected a list of {}", b.name())),
            }
        }
        PropType::Vector(n) => {
            let fb = downcast::<FixedSizeListBuilder<Box<dyn ArrayBuilder>>>(builder)?;
            match v {
                Value::Null => {
                    let values = downcast::<Float32Builder>(fb.values().as_mut())?;
                    values.append_nulls(*n as usize);
                    fb.append(false);
                    Ok(())
                }
                Value::Array(items) if items.len() == *n as usize => {
                    let mut floats = Vec::with_capacity(items.len());
                    for item in items {
                        floats.push(item.as_f64().ok_or("vector elements must be numbers")? as f32);
                    }
                    downcast::<Float32Builder>(fb.values().as_mut())?.append_slice(&floats);
                    fb.append(true);
                    Ok(())
                }
                Value::Array(items) => Err(format!(
                    "expected Vector({n}), got {} elements",
                    items.len()
                )),
                _ => Err(format!("expected Vector({n})")),
            }
        }
    }
}

fn downcast<T: 'static>(b: &mut dyn ArrayBuilder) -> Result<&mut T, String> {
    b.as_any_mut()
        .downcast_mut::<T>()
        .ok_or_else(|| "internal: column builder of unexpected type".to_string())
}

fn append_base(builder: &mut dyn ArrayBuilder, b: BaseType, v: &Value) -> Result<(), String> {
    let expected = || format!("expected {}, got {}", b.name(), json_kind(v));
    macro_rules! int {
        ($builder:ty, $t:ty) => {{
            let bl = downcast::<$builder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::Number(n) => {
                    let x = n
                        .as_i64()
                        .and_then(|x| <$t>::try_from(x).ok())
                        .or_else(|| n.as_u64().and_then(|x| <$t>::try_from(x).ok()))
                        .ok_or_else(|| format!("{n} does not fit in {}", b.name()))?;
                    bl.append_value(x)
                }
                _ => return Err(expected()),
            }
        }};
    }
    match b {
        BaseType::String => {
            let bl = downcast::<StringBuilder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::String(s) => bl.append_value(s),
                _ => return Err(expected()),
            }
        }
        BaseType::Bool => {
            let bl = downcast::<BooleanBuilder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::Bool(x) => bl.append_value(*x),
                _ => return Err(expected()),
            }
        }
        BaseType::I32 => int!(Int32Builder, i32),
        BaseType::I64 => int!(Int64Builder, i64),
        BaseType::U32 => int!(UInt32Builder, u32),
        BaseType::U64 => int!(UInt64Builder, u64),
        BaseType::F32 => {
            let bl = downcast::<Float32Builder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::Number(n) => bl.append_value(n.as_f64().unwrap_or(0.0) as f32),
                _ => return Err(expected()),
            }
        }
        BaseType::F64 => {
            let bl = downcast::<Float64Builder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::Number(n) => bl.append_value(n.as_f64().unwrap_or(0.0)),
                _ => return Err(expected()),
            }
        }
        BaseType::Date => {
            let bl = downcast::<Date32Builder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::String(s) => bl.append_value(
                    parse_date(s).ok_or_else(|| format!("`{s}` is not a Date (YYYY-MM-DD)"))?,
                ),
                _ => return Err(expected()),
            }
        }
        BaseType::DateTime => {
            let bl = downcast::<TimestampMillisecondBuilder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::String(s) => bl.append_value(parse_datetime(s).ok_or_else(|| {
                    format!("`{s}` is not a DateTime (ISO-8601, e.g. 2024-05-01T12:00:00Z)")
                })?),
                _ => return Err(expected()),
            }
        }
        BaseType::Blob => {
            let bl = downcast::<BinaryBuilder>(builder)?;
            match v {
                Value::Null => bl.append_null(),
                Value::String(s) => bl.append_value(
                    base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map_err(|_| "expected a base64 string for Blob".to_string())?,
                ),
                _ => return Err(expected()),
            }
        }
    }
    Ok(())
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_DAYS_FROM_CE)
}

/// Milliseconds since the epoch, UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    parse_date(s).map(|d| d as i64 * 86_400_000)
}

pub fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn format_datetime(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The JSON value of one cell, in the public result format
/// (dates as strings, vectors and lists as arrays, blobs as base64).
pub fn cell_json(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let any = array.as_any();
    macro_rules! prim {
        ($t:ty) => {
            if let Some(a) = any.downcast_ref::<$t>() {
                return Value::from(a.value(row));
            }
        };
    }
    prim!(Int32Array);
    prim!(Int64Array);
    prim!(UInt32Array);
    prim!(UInt64Array);
    prim!(BooleanArray);
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Value::String(a.value(row).to_string());
    }
    if let Some(a) = any.downcast_ref::<Float32Array>() {
        return float_json(a.value(row) as f64);
    }
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return float_json(a.value(row));
    }
    if let Some(a) = any.downcast_ref::<Date32Array>() {
        return Value::String(format_date(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
        return Value::String(format_datetime(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<BinaryArray>() {
        return Value::String(base64::engine::general_purpose::STANDARD.encode(a.value(row)));
    }
    if let Some(a) = any.downcast_ref::<ListArray>() {
        let inner = a.value(row);
        return Value::Array(
            (0..inner.len())
                .map(|i| cell_json(inner.as_ref(), i))
                .collect(),
        );
    }
    if let Some(a) = any.downcast_ref::<FixedSizeListArray>() {
        let inner = a.value(row);
        return Value::Array(
            (0..inner.len())
                .map(|i| cell_json(inner.as_ref(), i))
                .collect(),
        );
    }
    if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        return Value::String(a.value(row).to_string());
    }
    Value::Null
}

fn float_json(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The canonical text of a key value, used to match edge endpoints to node keys
/// whatever the key's type (`"Alice"`, `42`).
/// Borrowed for a string key (a load reads millions: no copy each).
pub fn key_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Key text of one cell of a key column (String or integer types).
pub fn cell_key_text(array: &dyn Array, row: usize) -> String {
    match cell_json(array, row) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Convert a JSON key (from an edge line or a query) to the JSON the key column expects:
/// integer keys may arrive as strings (`"42"`). Borrowed when it is already that JSON.
pub fn coerce_key<'a>(v: &'a Value, key_type: &PropType) -> std::borrow::Cow<'a, Value> {
    use std::borrow::Cow;
    match (v, key_type) {
        (Value::String(s), PropType::Base(b)) if b.is_numeric() => s
            .parse::<i64>()
            .map(|n| Cow::Owned(Value::from(n)))
            .or_else(|_| s.parse::<u64>().map(|n| Cow::Owned(Value::from(n))))
            .unwrap_or(Cow::Borrowed(v)),
        _ => Cow::Borrowed(v),
    }
}
