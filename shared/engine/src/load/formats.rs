//! Tabular load files: CSV and Parquet, one file per node or edge type, turned into the
//! records the JSONL loader takes (`{"type", "data"}` / `{"edge", "from", "to", "data"}`),
//! so that every check, the atomicity and the error reporting are the loader's own.
//!
//! - A node file's columns are the type's properties (its header row, for CSV); the key
//!   property is one of them.
//! - An edge file names its endpoints' keys in the columns `from` and `to`; its other
//!   columns are the edge's properties.
//! - CSV cells are text, converted by the property's type: integers and floats to the
//!   schema's width (a value that does not fit is refused, naming the file, line and
//!   column), `true`/`false`, dates and date-times as written (the loader checks them),
//!   lists and vectors as JSON arrays (`["a","b"]`, `[0.1,0.2]`). An empty cell is null.
//! - Parquet columns are read with their own types and checked by the loader like JSON
//!   values (an Int64 column into an I32 property is refused per value that does not fit).
//!
//! Records are numbered by their line in their file (CSV: the header is line 1; Parquet:
//! row number + 1), and each refused one names its file.

use std::io::Read;

use omnigraph_lang::{BaseType, Catalog, PropType};
use serde_json::{Map, Number, Value};

use crate::error::{EngineError, Result};

/// A tabular file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
}

impl std::str::FromStr for TableFormat {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "csv" => Ok(TableFormat::Csv),
            "parquet" => Ok(TableFormat::Parquet),
            _ => Err(EngineError::Invalid(format!(
                "unknown file format `{s}`: use csv or parquet"
            ))),
        }
    }
}

/// One file of one node or edge type.
pub struct TableFile {
    /// The node or edge type its rows are.
    pub type_name: String,
    /// How errors name it (its file name).
    pub label: String,
    pub format: TableFormat,
    /// The bytes; Parquet is read from a file (it needs to seek).
    pub source: TableSource,
}

pub enum TableSource {
    Reader(Box<dyn Read + Send>),
    File(std::fs::File),
}

/// One record for the loader: its file (an index into the files given to [`records`]),
/// its line in it, and the load line it stands for or why it is refused.
pub struct LoadRecord {
    pub file: usize,
    pub line: u64,
    pub item: std::result::Result<Map<String, Value>, String>,
}

/// The property types of the columns a file of `type_name` may have, and whether it is an
/// edge type.
fn column_types(catalog: &Catalog, type_name: &str) -> Result<(bool, Vec<(String, PropType)>)> {
    if let Some(node) = catalog.node(type_name) {
        let columns = node
            .properties
            .iter()
            .map(|p| (p.name.clone(), p.ty.clone()))
            .collect();
        return Ok((false, columns));
    }
    if let Some(edge) = catalog.edge(type_name) {
        let mut columns: Vec<(String, PropType)> = edge
            .properties
            .iter()
            .map(|p| (p.name.clone(), p.ty.clone()))
            .collect();
        columns.push(("from".into(), PropType::Base(BaseType::String)));
        columns.push(("to".into(), PropType::Base(BaseType::String)));
        return Ok((true, columns));
    }
    Err(EngineError::Invalid(format!(
        "unknown node or edge type `{type_name}`"
    )))
}

/// The load line for one row of a type: `data` holds the properties; an edge's `from` and
/// `to` are moved out of it.
fn record(type_name: &str, is_edge: bool, mut data: Map<String, Value>) -> Map<String, Value> {
    let mut line = Map::new();
    if is_edge {
        line.insert("edge".into(), Value::String(type_name.into()));
        line.insert("from".into(), data.remove("from").unwrap_or(Value::Null));
        line.insert("to".into(), data.remove("to").unwrap_or(Value::Null));
    } else {
        line.insert("type".into(), Value::String(type_name.into()));
    }
    line.insert("data".into(), Value::Object(data));
    line
}

/// The records of `files`, one file after another, read as they are consumed.
pub fn records(
    catalog: &Catalog,
    files: Vec<TableFile>,
) -> Result<Box<dyn Iterator<Item = Result<LoadRecord>> + Send>> {
    let mut parts: Vec<Box<dyn Iterator<Item = Result<LoadRecord>> + Send>> = vec![];
    for (index, file) in files.into_iter().enumerate() {
        let (is_edge, columns) = column_types(catalog, &file.type_name)?;
        let of = Of {
            index,
            label: file.label,
            type_name: file.type_name,
            is_edge,
        };
        parts.push(match (file.format, file.source) {
            (TableFormat::Csv, TableSource::Reader(r)) => Box::new(csv_records(of, columns, r)?),
            (TableFormat::Csv, TableSource::File(f)) => {
                Box::new(csv_records(of, columns, Box::new(f))?)
            }
            (TableFormat::Parquet, TableSource::File(f)) => Box::new(parquet_records(of, f)?),
            (TableFormat::Parquet, TableSource::Reader(_)) => {
                return Err(EngineError::Invalid(
                    "a Parquet file must be read from a file".into(),
                ))
            }
        });
    }
    Ok(Box::new(parts.into_iter().flatten()))
}

/// Which file records come from, and what its rows are.
struct Of {
    index: usize,
    label: String,
    type_name: String,
    is_edge: bool,
}

fn csv_records(
    of: Of,
    columns: Vec<(String, PropType)>,
    reader: Box<dyn Read + Send>,
) -> Result<impl Iterator<Item = Result<LoadRecord>> + Send> {
    let Of {
        index,
        label,
        type_name,
        is_edge,
    } = of;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| EngineError::Invalid(format!("{label}: cannot read the header row: {e}")))?
        .clone();
    let mut types = Vec::with_capacity(header.len());
    for name in header.iter() {
        match columns.iter().find(|(c, _)| c == name) {
            Some((_, ty)) => types.push((name.to_string(), ty.clone())),
            None => {
                return Err(EngineError::Invalid(format!(
                    "{label}: column `{name}` is not a property of {type_name}{}",
                    if is_edge { " (nor `from` or `to`)" } else { "" }
                )))
            }
        }
    }
    if is_edge && !(header.iter().any(|h| h == "from") && header.iter().any(|h| h == "to")) {
        return Err(EngineError::Invalid(format!(
            "{label}: an edge file needs the columns `from` and `to` (its endpoints' keys)"
        )));
    }
    let mut rows = csv.into_records();
    let mut line = 1u64;
    Ok(std::iter::from_fn(move || {
        let row = rows.next()?;
        line += 1;
        let item = match row {
            Err(e) => Err(format!("not a CSV row: {e}")),
            Ok(row) => {
                // The CSV reader's own line number, when a quoted cell spans lines.
                if let Some(pos) = row.position() {
                    line = pos.line();
                }
                let mut data = Map::new();
                let mut refused = None;
                for ((name, ty), cell) in types.iter().zip(row.iter()) {
                    match csv_cell(cell, ty) {
                        Ok(Value::Null) => {}
                        Ok(v) => {
                            data.insert(name.clone(), v);
                        }
                        Err(e) => {
                            refused = Some(format!("column `{name}`: {e}"));
                            break;
                        }
                    }
                }
                match refused {
                    Some(e) => Err(e),
                    None => Ok(record(&type_name, is_edge, data)),
                }
            }
        };
        Some(Ok(LoadRecord {
            file: index,
            line,
            item,
        }))
    }))
}

/// One CSV cell as the JSON value the loader takes for a property of type `ty`.
fn csv_cell(cell: &str, ty: &PropType) -> std::result::Result<Value, String> {
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    let base = match ty {
        PropType::List(_) | PropType::Vector(_) => {
            return match serde_json::from_str::<Value>(cell) {
                Ok(v @ Value::Array(_)) => Ok(v),
                _ => Err(format!("`{cell}` is not a JSON array")),
            }
        }
        PropType::Enum(_) => return Ok(Value::String(cell.into())),
        PropType::Base(b) => b,
    };
    let whole = |min: i128, max: i128| -> std::result::Result<Value, String> {
        match cell.trim().parse::<i128>() {
            Ok(n) if n >= min && n <= max => Ok(Value::Number(Number::from(n as i64))),
            Ok(_) => Err(format!("{cell} does not fit in {}", base.name())),
            Err(_) => Err(format!("`{cell}` is not an integer ({})", base.name())),
        }
    };
    match base {
        BaseType::I32 => whole(i32::MIN as i128, i32::MAX as i128),
        BaseType::I64 => whole(i64::MIN as i128, i64::MAX as i128),
        BaseType::U32 => whole(0, u32::MAX as i128),
        BaseType::U64 => match cell.trim().parse::<u64>() {
            Ok(n) => Ok(Value::Number(Number::from(n))),
            Err(_) => Err(format!("`{cell}` is not an integer that fits in U64")),
        },
        BaseType::F32 | BaseType::F64 => match cell.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("`{cell}` is not a finite number")),
            _ => Err(format!("`{cell}` is not a number ({})", base.name())),
        },
        BaseType::Bool => match cell.trim() {
            "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            _ => Err(format!("`{cell}` is not true or false")),
        },
        BaseType::String | BaseType::Date | BaseType::DateTime | BaseType::Blob => {
            Ok(Value::String(cell.into()))
        }
    }
}

fn parquet_records(
    of: Of,
    file: std::fs::File,
) -> Result<impl Iterator<Item = Result<LoadRecord>> + Send> {
    let Of {
        index,
        label,
        type_name,
        is_edge,
    } = of;
    let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| EngineError::Invalid(format!("{label}: not a Parquet file: {e}")))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| EngineError::Invalid(format!("{label}: {e}")))?;
    let mut line = 1u64;
    let mut pending: std::collections::VecDeque<Map<String, Value>> = Default::default();
    let mut batches = batches;
    Ok(std::iter::from_fn(move || {
        while pending.is_empty() {
            let batch = match batches.next()? {
                Ok(batch) => batch,
                Err(e) => {
                    return Some(Err(EngineError::Invalid(format!(
                        "{label}: unreadable Parquet after row {}: {e}",
                        line - 1
                    ))))
                }
            };
            match batch_rows(&batch) {
                Ok(rows) => pending.extend(rows),
                Err(e) => return Some(Err(EngineError::Invalid(format!("{label}: {e}")))),
            }
        }
        let data = pending.pop_front()?;
        line += 1;
        Some(Ok(LoadRecord {
            file: index,
            line,
            item: Ok(record(&type_name, is_edge, data)),
        }))
    }))
}

/// The rows of a batch as JSON objects (nulls left out).
fn batch_rows(batch: &arrow::record_batch::RecordBatch) -> Result<Vec<Map<String, Value>>> {
    let mut out = Vec::new();
    let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    let mut rows = Vec::with_capacity(batch.num_rows());
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(m)) => rows.push(m),
            _ => return Err(EngineError::Corrupt("a Parquet row as JSON".into())),
        }
    }
    Ok(rows)
}
