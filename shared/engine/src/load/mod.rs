//! Bulk load of JSONL (`{"type": ..., "data": {...}}` / `{"edge": ..., "from", "to", "data"}`)
//! as one atomic change, streamed in batches.
//!
//! Rows are validated line by line and written as uncommitted Lance data files as they are
//! read, so memory is bounded by the key sets (one entry per node), not the file. Checks that
//! need the whole file (endpoints that appear later, unique values, @card) run at the end.
//! Any bad line means nothing is published.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{make_builder, ArrayBuilder, ArrayRef};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use omnigraph_lang::{Catalog, PropType};
use serde_json::{Map, Value};
use smallvec::SmallVec;

mod checks;
pub mod formats;

use crate::columns::{
    append_json, cell_key_text, coerce_key, edge_schema, key_text, node_schema, DST_COLUMN,
    SRC_COLUMN,
};
use crate::constraints::RowRules;
use crate::embedding::{embedded_properties, fill_missing, needs_embedding, EmbeddedProperty};
use crate::error::{EngineError, LineError, Result};
use crate::graph::{Change, Graph, Snapshot};
use crate::staged_table::StagedTable;
use crate::table::{scan_columns, write_fragments};
use crate::table_key::{TableKey, TableKind};

use crate::table::ROW_ADDR;
/// Rows per batch handed to Lance.
const BATCH_ROWS: usize = 131_072;
/// Bad lines reported before the loader stops reading.
const MAX_REPORTED_ERRORS: usize = 20;
/// Batches being encoded in the background at once (bounds memory, overlaps parse and write).
const MAX_INFLIGHT_BATCHES: usize = 2;
/// Rows whose `@embed` vectors are computed in one go (one provider request per 64 texts).
const EMBED_BATCH_ROWS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Overwrite,
    Append,
    Merge,
}

impl FromStr for LoadMode {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "overwrite" => Ok(LoadMode::Overwrite),
            "append" => Ok(LoadMode::Append),
            "merge" => Ok(LoadMode::Merge),
            _ => Err(EngineError::Invalid(format!(
                "unknown load mode `{s}`: use overwrite, append or merge"
            ))),
        }
    }
}

impl std::fmt::Display for LoadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadMode::Overwrite => "overwrite",
            LoadMode::Append => "append",
            LoadMode::Merge => "merge",
        })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableLoadReport {
    pub table_key: String,
    pub rows_loaded: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadReport {
    pub mode: LoadMode,
    /// The graph version the load published.
    pub version: u64,
    pub tables: Vec<TableLoadReport>,
}

/// Load `input` into the main branch of `graph` as one new version.
pub async fn load(
    graph: &Arc<Graph>,
    input: impl BufRead + Send,
    mode: LoadMode,
    actor: &str,
) -> Result<LoadReport> {
    load_on(graph, crate::branch::MAIN, input, mode, actor).await
}

/// Load CSV or Parquet `files` (one node or edge type each: `formats`) into `branch` of
/// `graph` as one new version: all of them, or nothing. A refused record is named by its
/// file and its line in it.
pub async fn load_files_on(
    graph: &Arc<Graph>,
    branch: &str,
    files: Vec<formats::TableFile>,
    mode: LoadMode,
    actor: &str,
) -> Result<LoadReport> {
    let labels: Vec<String> = files.iter().map(|f| f.label.clone()).collect();
    let result = graph
        .write_on(branch, actor, |snap| async move {
            let records = formats::records(&snap.catalog, files)?;
            let mut loader = Loader::new(snap, mode);
            loader.read_records(records).await?;
            loader.finish().await
        })
        .await;
    match result {
        Ok((manifest, tables)) => Ok(LoadReport {
            mode,
            version: manifest.version,
            tables,
        }),
        // Each error's line says which file it is in (`FILE_SHIFT`).
        Err(EngineError::Load(errors)) => Err(EngineError::Load(
            errors
                .into_iter()
                .map(|e| {
                    let file = (e.line >> FILE_SHIFT) as usize;
                    let label = labels.get(file).map(String::as_str).unwrap_or("?");
                    LineError {
                        line: e.line & ((1 << FILE_SHIFT) - 1),
                        message: format!("{label}: {}", e.message),
                    }
                })
                .collect(),
        )),
        Err(e) => Err(e),
    }
}

/// Records of tabular files are numbered `file index << FILE_SHIFT | line in the file`
/// inside the loader, so that checks made at the end still know the file.
const FILE_SHIFT: u32 = 40;

/// Load `input` into `branch` of `graph` as one new version.
pub async fn load_on(
    graph: &Arc<Graph>,
    branch: &str,
    input: impl BufRead + Send,
    mode: LoadMode,
    actor: &str,
) -> Result<LoadReport> {
    let (manifest, tables) = graph
        .write_on(branch, actor, |snap| async move {
            let mut loader = Loader::new(snap, mode);
            loader.read_all(input).await?;
            loader.finish().await
        })
        .await?;
    Ok(LoadReport {
        mode,
        version: manifest.version,
        tables,
    })
}

struct Column {
    name: String,
    ty: PropType,
    required: bool,
}

/// Rows of one table collected into Arrow builders.
struct TableRows {
    schema: SchemaRef,
    columns: Vec<Column>,
    builders: Vec<Box<dyn ArrayBuilder>>,
    rows: usize,
    total: u64,
    rules: RowRules,
}

impl TableRows {
    fn new(schema: SchemaRef, columns: Vec<Column>, rules: RowRules) -> Self {
        let builders = schema
            .fields()
            .iter()
            .map(|f| make_builder(f.data_type(), BATCH_ROWS))
            .collect();
        TableRows {
            schema,
            columns,
            builders,
            rows: 0,
            total: 0,
            rules,
        }
    }

    /// Check one row and append it.
    fn push(&mut self, values: &[&Value]) -> std::result::Result<(), String> {
        for (col, v) in self.columns.iter().zip(values) {
            if col.required && v.is_null() {
                return Err(format!("missing required property `{}`", col.name));
            }
        }
        if !self.rules.is_empty() {
            let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
            self.rules.check(&names, values)?;
        }
        // A refused value may leave this batch's builders uneven; that is harmless because a
        // load with any refused line never flushes again and never publishes.
        for ((col, v), b) in self
            .columns
            .iter()
            .zip(values)
            .zip(self.builders.iter_mut())
        {
            append_json(b.as_mut(), &col.ty, v)
                .map_err(|e| format!("property `{}`: {e}", col.name))?;
        }
        self.rows += 1;
        self.total += 1;
        Ok(())
    }

    fn take_batch(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// Node keys of one type: those stored (with row addresses) and those in the file (with
/// their line numbers).
///
/// Looked up once per node line and twice per edge line: most of a load's time outside
/// parsing. A key of up to 23 bytes is held inline in the map's slot, so a lookup reads
/// no second cache line for its text.
#[derive(Default)]
struct NodeKeys {
    stored: Option<KeyMap>,
    file: KeyMap,
}

type KeyMap = foldhash::HashMap<smol_str::SmolStr, u64>;

struct PendingEndpoint {
    line: u64,
    node_type: String,
    key: String,
}

struct Loader {
    snap: Snapshot,
    catalog: Arc<Catalog>,
    mode: LoadMode,
    tables: BTreeMap<TableKey, TableRows>,
    staged: BTreeMap<TableKey, StagedTable>,
    keys: foldhash::HashMap<String, NodeKeys>,
    /// The table key of the line being read, its text reused from line to line (a key made
    /// for each line was an allocation per row).
    line_table: TableKey,
    /// Whether `line_table` has `@embed` properties.
    line_embeds: bool,
    /// `line_table` names a table whose rows exist (false until the first row).
    line_rows_ready: bool,
    edge_pairs: HashMap<String, HashSet<(String, String)>>,
    unique_values: HashMap<(String, usize), HashMap<String, (String, u64)>>,
    pending: Vec<PendingEndpoint>,
    /// Edges per source node in the file, for edge types with a @card maximum.
    src_counts: HashMap<String, HashMap<String, (u32, u64)>>,
    errors: Vec<LineError>,
    /// Node rows waiting for their `@embed` vectors (line, data), embedded in batches.
    waiting: BTreeMap<TableKey, Vec<(u64, Map<String, Value>)>>,
    /// The `@embed` properties of each node table met so far (see `ensure_table`).
    embedded: HashMap<TableKey, Vec<EmbeddedProperty>>,
    inflight: std::collections::VecDeque<(
        TableKey,
        u64,
        tokio::task::JoinHandle<Result<Vec<lance_table::format::Fragment>>>,
    )>,
    /// A table whose batch is full: written out before the next line is read.
    flush_due: Option<TableKey>,
    /// A table whose rows waiting for `@embed` vectors fill a batch: embedded before the
    /// next line is read.
    embed_due: Option<TableKey>,
}

/// Lines per chunk parsed on the blocking pool.
const PARSE_CHUNK_LINES: usize = 4096;
/// Text per chunk, at most (about: a line is not split).
const PARSE_CHUNK_BYTES: usize = 1 << 20;
/// Chunks read and parsing ahead of the loader.
const PARSE_AHEAD: usize = 2;

/// Lines of JSONL read but not parsed: their text one after the other, and each line's
/// number and place in it (blank lines are left out).
struct RawChunk {
    text: String,
    lines: Vec<(u64, std::ops::Range<usize>)>,
    /// The input ended.
    at_end: bool,
    /// The input failed at this line: the file ends there.
    unreadable: Option<LineError>,
}

impl RawChunk {
    fn read(input: &mut impl BufRead, line_no: &mut u64) -> RawChunk {
        let mut chunk = RawChunk {
            text: String::with_capacity(PARSE_CHUNK_BYTES + 4096),
            lines: Vec::with_capacity(PARSE_CHUNK_LINES),
            at_end: false,
            unreadable: None,
        };
        while chunk.lines.len() < PARSE_CHUNK_LINES && chunk.text.len() < PARSE_CHUNK_BYTES {
            *line_no += 1;
            let start = chunk.text.len();
            match input.read_line(&mut chunk.text) {
                Ok(0) => {
                    chunk.at_end = true;
                    break;
                }
                Ok(_) => {
                    if chunk.text[start..].trim().is_empty() {
                        chunk.text.truncate(start);
                    } else {
                        chunk.lines.push((*line_no, start..chunk.text.len()));
                    }
                }
                Err(e) => {
                    chunk.text.truncate(start);
                    chunk.unreadable = Some(LineError {
                        line: *line_no,
                        message: format!("unreadable line: {e}"),
                    });
                    break;
                }
            }
        }
        chunk
    }
}

/// The lines of a chunk, parsed (or why each is refused).
fn parse_chunk(
    text: &str,
    lines: Vec<(u64, std::ops::Range<usize>)>,
) -> Vec<(u64, std::result::Result<JsonLine, String>)> {
    lines
        .into_iter()
        .map(|(line_no, range)| (line_no, JsonLine::parse(&text[range])))
        .collect()
}

/// One JSONL line: its fields, parsed into their own values without an object map for
/// the line itself (a map per line, with a hashed key per field, was a tenth of parsing).
/// Other fields are ignored, as they were when a line was read as a map.
#[derive(serde::Deserialize)]
struct JsonLine {
    #[serde(rename = "type", default, deserialize_with = "present")]
    node: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    edge: Option<Value>,
    from: Option<Value>,
    to: Option<Value>,
    data: Option<Value>,
}

impl JsonLine {
    /// The line's fields, or why it is refused.
    fn parse(line: &str) -> std::result::Result<JsonLine, String> {
        if !line.trim_start().starts_with('{') {
            // Not an object: say so in the words a map reading used (valid JSON or not).
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(line) {
                Ok(_) => "expected a JSON object".into(),
                Err(e) => format!("invalid JSON: {e}"),
            });
        }
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))
    }

    fn parts(&self) -> LineParts<'_> {
        LineParts {
            node: self.node.as_ref(),
            edge: self.edge.as_ref(),
            from: self.from.as_ref(),
            to: self.to.as_ref(),
            data: self.data.as_ref(),
        }
    }
}

/// A field that is there, even as `null` (`"type": null` is a node type that is not a
/// string, not a missing one).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    use serde::Deserialize;
    Value::deserialize(d).map(Some)
}

/// The fields of a load line, from JSONL (`JsonLine`) or from a record of a tabular file.
#[derive(Clone, Copy)]
struct LineParts<'a> {
    node: Option<&'a Value>,
    edge: Option<&'a Value>,
    from: Option<&'a Value>,
    to: Option<&'a Value>,
    data: Option<&'a Value>,
}

impl<'a> LineParts<'a> {
    fn of_map(obj: &'a Map<String, Value>) -> Self {
        LineParts {
            node: obj.get("type"),
            edge: obj.get("edge"),
            from: obj.get("from"),
            to: obj.get("to"),
            data: obj.get("data"),
        }
    }
}

/// What the synchronous reading of one line came to.
///
/// A line is checked and appended without awaiting anything: awaiting per line made each
/// line's future (several hundred bytes, nested) be built and moved, a tenth of a load's
/// time. The rare steps that need storage happen between lines: reading a type's stored
/// keys (the line is then read again, as nothing was changed for it), writing out a full
/// batch, embedding waiting rows.
enum LineStep {
    /// Taken (`Ok`) or refused (`Err`: the reason, reported with the line).
    Done(std::result::Result<(), String>),
    /// The keys stored for this node type are needed first (append and merge loads).
    NeedStoredKeys(String),
    /// Not the line's fault: the load fails.
    Failed(EngineError),
}

impl Loader {
    fn new(snap: Snapshot, mode: LoadMode) -> Self {
        Loader {
            catalog: snap.catalog.clone(),
            snap,
            mode,
            tables: BTreeMap::new(),
            staged: BTreeMap::new(),
            keys: Default::default(),
            line_table: TableKey::node(""),
            line_embeds: false,
            line_rows_ready: false,
            edge_pairs: HashMap::new(),
            unique_values: HashMap::new(),
            pending: vec![],
            src_counts: HashMap::new(),
            errors: vec![],
            waiting: BTreeMap::new(),
            embedded: HashMap::new(),
            inflight: Default::default(),
            flush_due: None,
            embed_due: None,
        }
    }

    /// Reads JSONL: lines are read here in chunks and parsed on the blocking pool, a
    /// chunk or two ahead of the loader, which takes them in order (parsing is a third of
    /// the work per line; this puts it on the other core).
    async fn read_all(&mut self, mut input: impl BufRead) -> Result<()> {
        let mut line_no = 0u64;
        let mut ahead = std::collections::VecDeque::new();
        let mut unreadable = None;
        let mut reading = true;
        loop {
            while reading && ahead.len() < PARSE_AHEAD {
                let chunk = RawChunk::read(&mut input, &mut line_no);
                if let Some(e) = chunk.unreadable {
                    unreadable = Some(e);
                    reading = false;
                } else if chunk.at_end {
                    reading = false;
                }
                if !chunk.lines.is_empty() {
                    let (text, lines) = (chunk.text, chunk.lines);
                    ahead.push_back(tokio::task::spawn_blocking(move || {
                        parse_chunk(&text, lines)
                    }));
                }
            }
            let Some(next) = ahead.pop_front() else {
                break;
            };
            let parsed = next
                .await
                .map_err(|e| EngineError::Corrupt(format!("parser task failed: {e}")))?;
            for (line_no, item) in &parsed {
                let outcome = match item {
                    Ok(line) => self.take(*line_no, line.parts()).await?,
                    Err(message) => Err(message.clone()),
                };
                if self.refused(*line_no, outcome) {
                    return self.refusals();
                }
            }
            // Freed on the blocking pool too: a chunk's values are many small allocations.
            drop(tokio::task::spawn_blocking(move || drop(parsed)));
        }
        // An unreadable line ends the file; the lines before it were taken first, so that
        // their refusals are reported with it.
        if let Some(e) = unreadable {
            self.errors.push(e);
        }
        self.refusals()
    }

    /// Reads one parsed line (`object`), doing between lines what it needs from storage.
    /// Inline so that the per-line path builds no future.
    #[inline(always)]
    async fn take(
        &mut self,
        line_no: u64,
        obj: LineParts<'_>,
    ) -> Result<std::result::Result<(), String>> {
        let outcome = match self.object(line_no, obj) {
            LineStep::Done(outcome) => outcome,
            LineStep::NeedStoredKeys(node_type) => {
                Box::pin(self.take_after_stored_keys(line_no, obj, node_type)).await?
            }
            LineStep::Failed(e) => return Err(e),
        };
        if self.flush_due.is_some() || self.embed_due.is_some() {
            Box::pin(self.due_work()).await?;
        }
        Ok(outcome)
    }

    /// Reads the stored keys a line needs, then the line again.
    async fn take_after_stored_keys(
        &mut self,
        line_no: u64,
        obj: LineParts<'_>,
        mut node_type: String,
    ) -> Result<std::result::Result<(), String>> {
        loop {
            self.ensure_stored_keys(&node_type).await?;
            match self.object(line_no, obj) {
                LineStep::Done(outcome) => return Ok(outcome),
                LineStep::Failed(e) => return Err(e),
                LineStep::NeedStoredKeys(next) if next != node_type => node_type = next,
                LineStep::NeedStoredKeys(_) => {
                    return Err(EngineError::Corrupt(format!(
                        "the stored keys of {node_type} did not load"
                    )))
                }
            }
        }
    }

    /// The batch writes and embeddings lines made due.
    async fn due_work(&mut self) -> Result<()> {
        loop {
            if let Some(tk) = self.embed_due.take() {
                self.embed_waiting(&tk).await?;
            } else if let Some(tk) = self.flush_due.take() {
                self.flush(&tk).await?;
            } else {
                return Ok(());
            }
        }
    }

    /// Notes a refused line; true once enough are reported to stop reading.
    fn refused(&mut self, line: u64, outcome: std::result::Result<(), String>) -> bool {
        if let Err(message) = outcome {
            self.errors.push(LineError { line, message });
        }
        self.errors.len() >= MAX_REPORTED_ERRORS
    }

    /// The refused lines as the load's error, if there are any.
    fn refusals(&mut self) -> Result<()> {
        if !self.errors.is_empty() {
            return Err(EngineError::Load(std::mem::take(&mut self.errors)));
        }
        Ok(())
    }

    /// Like `read_all`, over the records of tabular files (`formats`).
    async fn read_records(
        &mut self,
        records: impl Iterator<Item = Result<formats::LoadRecord>>,
    ) -> Result<()> {
        for record in records {
            let record = record?;
            let line_no = ((record.file as u64) << FILE_SHIFT) | record.line;
            let outcome = match record.item {
                Ok(obj) => self.take(line_no, LineParts::of_map(&obj)).await?,
                Err(message) => Err(message),
            };
            if self.refused(line_no, outcome) {
                break;
            }
        }
        self.refusals()
    }

    /// One load line, parsed.
    fn object(&mut self, line_no: u64, obj: LineParts<'_>) -> LineStep {
        let empty = Map::new();
        let data = match obj.data {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(d)) => d,
            Some(_) => return LineStep::Done(Err("`data` must be an object".into())),
        };
        match (obj.node, obj.edge) {
            (Some(Value::String(t)), None) => self.node_line(line_no, t, data),
            (None, Some(Value::String(e))) => {
                let from = obj.from.unwrap_or(&Value::Null);
                let to = obj.to.unwrap_or(&Value::Null);
                self.edge_line(line_no, e, from, to, data)
            }
            _ => LineStep::Done(Err(
                "a line needs either \"type\" (a node) or \"edge\" (an edge), as a string".into(),
            )),
        }
    }

    /// The node type whose stored keys this load needs and has not read yet: a load that
    /// keeps what is stored (append, merge) checks keys and endpoints against them.
    fn stored_keys_missing(&self, node_type: &str) -> Option<LineStep> {
        let missing = self.mode != LoadMode::Overwrite
            && !self.keys.get(node_type).is_some_and(|k| k.stored.is_some());
        missing.then(|| LineStep::NeedStoredKeys(node_type.to_string()))
    }

    /// The keys of node type `type_name`, made on first use (no key text made per line).
    fn node_keys(&mut self, type_name: &str) -> &mut NodeKeys {
        if !self.keys.contains_key(type_name) {
            self.keys.insert(type_name.to_string(), NodeKeys::default());
        }
        self.keys.get_mut(type_name).expect("inserted above")
    }

    /// Points `line_table` at the table of `kind` and `type_name` and makes sure its rows
    /// are there.
    fn set_line_table(&mut self, kind: TableKind, type_name: &str) -> Result<()> {
        // Lines of one type usually follow each other: the table is looked up on a change.
        let same = self.line_rows_ready
            && self.line_table.kind == kind
            && self.line_table.type_name == type_name;
        if !same {
            self.line_rows_ready = false;
            self.line_table.kind = kind;
            self.line_table.type_name.clear();
            self.line_table.type_name.push_str(type_name);
            if !self.tables.contains_key(&self.line_table) {
                let tk = self.line_table.clone();
                self.ensure_table(&tk)?;
            }
            self.line_rows_ready = true;
            self.line_embeds = self
                .embedded
                .get(&self.line_table)
                .is_some_and(|e| !e.is_empty());
        }
        Ok(())
    }

    /// Appends a checked row to the line's table (`set_line_table`) and marks the table to
    /// be written out before the next line when its batch is full.
    fn push_line_row(&mut self, values: &[&Value]) -> std::result::Result<(), String> {
        let rows = self
            .tables
            .get_mut(&self.line_table)
            .expect("set_line_table made it");
        rows.push(values)?;
        if rows.rows >= BATCH_ROWS && self.errors.is_empty() {
            self.flush_due = Some(self.line_table.clone());
        }
        Ok(())
    }

    fn node_line(&mut self, line_no: u64, type_name: &str, data: &Map<String, Value>) -> LineStep {
        let refuse = |message: String| LineStep::Done(Err(message));
        // The catalog is shared (an Arc): held apart from `self` so that the node type is
        // borrowed, not cloned, for each line.
        let catalog = self.catalog.clone();
        let Some(node) = catalog.node(type_name) else {
            return refuse(format!("unknown node type `{type_name}`"));
        };
        let data = match crate::identity::complete_node_data(node, data) {
            Ok(data) => data,
            Err(e) => return refuse(e),
        };
        let data = data.as_ref();
        if let Some(unknown) = data.keys().find(|k| node.property(k).is_none()) {
            return refuse(format!("unknown property `{unknown}` on {type_name}"));
        }
        let Some(key) = data.get(&node.key).and_then(key_text) else {
            return refuse(format!("missing key property `{}`", node.key));
        };
        if let Some(need) = self.stored_keys_missing(type_name) {
            return need;
        }
        let mode = self.mode;
        let keys = self.node_keys(type_name);
        if let Some(first) = keys.file.get(&*key) {
            return refuse(format!(
                "duplicate key `{key}` for {type_name} (first on line {first})"
            ));
        }
        if mode == LoadMode::Append && keys.stored.as_ref().is_some_and(|s| s.contains_key(&*key)) {
            return refuse(format!(
                "{type_name} `{key}` already exists (append mode adds new keys only)"
            ));
        }
        for (i, set) in node.unique.iter().enumerate() {
            let value = unique_value(set, data);
            if let Some(value) = value {
                let seen = self
                    .unique_values
                    .entry((type_name.to_string(), i))
                    .or_default();
                if let Some((_, first)) = seen.get(&value) {
                    return refuse(format!(
                        "duplicate value for @unique({}) (first on line {first})",
                        set.join(", ")
                    ));
                }
                seen.insert(value, (key.to_string(), line_no));
            }
        }
        if let Err(e) = self.set_line_table(TableKind::Node, type_name) {
            return LineStep::Failed(e);
        }
        let embedded = match self.line_embeds {
            true => self
                .embedded
                .get(&self.line_table)
                .map_or(&[][..], Vec::as_slice),
            false => &[][..],
        };
        if !embedded.is_empty() && needs_embedding(embedded, |name| data.get(name)) {
            // Checked and appended once its vectors are computed (see `embed_waiting`).
            self.node_keys(type_name)
                .file
                .insert(smol_str::SmolStr::new(&*key), line_no);
            let tk = self.line_table.clone();
            let waiting = self.waiting.entry(tk.clone()).or_default();
            waiting.push((line_no, data.clone()));
            if waiting.len() >= EMBED_BATCH_ROWS {
                self.embed_due = Some(tk);
            }
            return LineStep::Done(Ok(()));
        }
        let values: SmallVec<[&Value; 8]> = node
            .properties
            .iter()
            .map(|p| data.get(&p.name).unwrap_or(&Value::Null))
            .collect();
        if let Err(e) = self.push_line_row(&values) {
            return refuse(e);
        }
        self.node_keys(type_name)
            .file
            .insert(smol_str::SmolStr::new(&*key), line_no);
        LineStep::Done(Ok(()))
    }

    fn edge_line(
        &mut self,
        line_no: u64,
        edge_name: &str,
        from: &Value,
        to: &Value,
        data: &Map<String, Value>,
    ) -> LineStep {
        let refuse = |message: String| LineStep::Done(Err(message));
        let catalog = self.catalog.clone();
        let Some(edge) = catalog.edge(edge_name) else {
            return refuse(format!("unknown edge type `{edge_name}`"));
        };
        if let Some(unknown) = data.keys().find(|k| edge.property(k).is_none()) {
            return refuse(format!("unknown property `{unknown}` on edge {edge_name}"));
        }
        let (Some(from_key), Some(to_key)) = (key_text(from), key_text(to)) else {
            return refuse("an edge needs \"from\" and \"to\" keys (strings or integers)".into());
        };
        for end_type in [&edge.from, &edge.to] {
            if let Some(need) = self.stored_keys_missing(end_type) {
                return need;
            }
        }
        for (i, set) in edge.unique.iter().enumerate() {
            let Some(value) = edge_unique_value(set, &from_key, &to_key, data) else {
                continue;
            };
            let seen = self
                .unique_values
                .entry((edge_name.to_string(), i))
                .or_default();
            if let Some((_, first)) = seen.get(&value) {
                return refuse(format!(
                    "duplicate value for @unique({}) of {edge_name} (first on line {first})",
                    set.join(", ")
                ));
            }
            seen.insert(value, (format!("{from_key} -> {to_key}"), line_no));
        }
        if self.mode == LoadMode::Merge {
            let pairs = self.edge_pairs.entry(edge_name.to_string()).or_default();
            if !pairs.insert((from_key.to_string(), to_key.to_string())) {
                return refuse(format!(
                    "duplicate edge {edge_name} {from_key} -> {to_key} in the file"
                ));
            }
        }
        if let Err(e) = self.set_line_table(TableKind::Edge, edge_name) {
            return LineStep::Failed(e);
        }
        let string_key = PropType::Base(omnigraph_lang::BaseType::String);
        let key_type = |node_type: &str| {
            catalog
                .node(node_type)
                .map_or(&string_key, |n| &n.key_property().ty)
        };
        let from_v = coerce_key(from, key_type(&edge.from));
        let to_v = coerce_key(to, key_type(&edge.to));
        let mut values: SmallVec<[&Value; 8]> = SmallVec::new();
        values.push(&from_v);
        values.push(&to_v);
        values.extend(
            edge.properties
                .iter()
                .map(|p| data.get(&p.name).unwrap_or(&Value::Null)),
        );
        if let Err(e) = self.push_line_row(&values) {
            return refuse(e);
        }
        if let Some(max) = edge.card.and_then(|c| c.max) {
            let counts = self.src_counts.entry(edge_name.to_string()).or_default();
            let n = counts.entry(from_key.to_string()).or_insert((0, line_no));
            n.0 += 1;
            n.1 = line_no;
            if n.0 > max {
                return refuse(format!(
                    "@card: {} `{from_key}` would have more than {max} {edge_name} edge(s)",
                    edge.from
                ));
            }
        }
        // Endpoints last: a refused line leaves none pending.
        self.check_endpoint(line_no, &edge.from, &from_key);
        self.check_endpoint(line_no, &edge.to, &to_key);
        LineStep::Done(Ok(()))
    }

    /// An endpoint is fine if the file has the node, or storage has it and this load keeps
    /// it (the caller made sure the stored keys are read); otherwise it is checked at the end.
    fn check_endpoint(&mut self, line: u64, node_type: &str, key: &str) {
        let known = self.keys.get(node_type).is_some_and(|k| {
            k.file.contains_key(key)
                || (self.mode != LoadMode::Overwrite
                    && k.stored.as_ref().is_some_and(|s| s.contains_key(key)))
        });
        if !known {
            // The node may come later in the file (or, in overwrite mode, survive if its
            // type is not replaced).
            self.pending.push(PendingEndpoint {
                line,
                node_type: node_type.to_string(),
                key: key.to_string(),
            });
        }
    }

    async fn ensure_stored_keys(&mut self, node_type: &str) -> Result<()> {
        if self.keys.get(node_type).is_some_and(|k| k.stored.is_some()) {
            return Ok(());
        }
        let node = self
            .catalog
            .node(node_type)
            .ok_or_else(|| EngineError::Corrupt(format!("no node type {node_type}")))?;
        let ds = self.snap.table(&TableKey::node(node_type)).await?;
        let mut stored = KeyMap::default();
        for batch in scan_columns(&ds, &[node.key.as_str()], true).await? {
            let keys = batch.column(0);
            let addrs = batch
                .column_by_name(ROW_ADDR)
                .ok_or_else(|| EngineError::Corrupt("scan without row address".into()))?;
            let addrs = addrs
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .ok_or_else(|| EngineError::Corrupt("row address type".into()))?;
            for i in 0..batch.num_rows() {
                stored.insert(cell_key_text(keys.as_ref(), i).into(), addrs.value(i));
            }
        }
        self.keys.entry(node_type.to_string()).or_default().stored = Some(stored);
        Ok(())
    }

    fn ensure_table(&mut self, tk: &TableKey) -> Result<()> {
        if self.tables.contains_key(tk) {
            return Ok(());
        }
        let (schema, columns, rules) = match tk.kind {
            TableKind::Node => {
                let node = self
                    .catalog
                    .node(&tk.type_name)
                    .ok_or_else(|| EngineError::Corrupt(tk.to_string()))?;
                self.embedded.insert(tk.clone(), embedded_properties(node));
                let cols = node
                    .properties
                    .iter()
                    .map(|p| Column {
                        name: p.name.clone(),
                        ty: p.ty.clone(),
                        required: !p.nullable,
                    })
                    .collect();
                (
                    node_schema(node),
                    cols,
                    RowRules::new(&node.ranges, &node.checks)?,
                )
            }
            TableKind::Edge => {
                let edge = self
                    .catalog
                    .edge(&tk.type_name)
                    .ok_or_else(|| EngineError::Corrupt(tk.to_string()))?;
                let key_ty = |t: &str| {
                    self.catalog
                        .node(t)
                        .map(|n| n.key_property().ty.clone())
                        .unwrap_or(PropType::Base(omnigraph_lang::BaseType::String))
                };
                let mut cols = vec![
                    Column {
                        name: SRC_COLUMN.into(),
                        ty: key_ty(&edge.from),
                        required: true,
                    },
                    Column {
                        name: DST_COLUMN.into(),
                        ty: key_ty(&edge.to),
                        required: true,
                    },
                ];
                cols.extend(edge.properties.iter().map(|p| Column {
                    name: p.name.clone(),
                    ty: p.ty.clone(),
                    required: !p.nullable,
                }));
                (
                    edge_schema(&self.catalog, edge),
                    cols,
                    RowRules::new(&edge.ranges, &edge.checks)?,
                )
            }
        };
        self.tables
            .insert(tk.clone(), TableRows::new(schema, columns, rules));
        Ok(())
    }

    /// Marks `tk` to be written out before the next line when its batch is full.
    fn maybe_flush(&mut self, tk: &TableKey) {
        if self.errors.is_empty() && self.tables.get(tk).is_some_and(|t| t.rows >= BATCH_ROWS) {
            self.flush_due = Some(tk.clone());
        }
    }

    async fn flush(&mut self, tk: &TableKey) -> Result<()> {
        let rows = self.tables.get_mut(tk).expect("flushed table exists");
        if rows.rows == 0 {
            return Ok(());
        }
        let batch = rows.take_batch()?;
        let n = batch.num_rows() as u64;
        let base = self.snap.table(tk).await?;
        self.inflight
            .push_back((tk.clone(), n, tokio::spawn(write_fragments(base, batch))));
        while self.inflight.len() > MAX_INFLIGHT_BATCHES {
            self.collect_one().await?;
        }
        Ok(())
    }

    async fn collect_one(&mut self) -> Result<()> {
        if let Some((tk, n, handle)) = self.inflight.pop_front() {
            let fragments = handle
                .await
                .map_err(|e| EngineError::Corrupt(format!("writer task failed: {e}")))??;
            let staged = self.staged_mut(&tk).await?;
            staged.add_fragments(fragments, n);
        }
        Ok(())
    }

    async fn staged_mut(&mut self, tk: &TableKey) -> Result<&mut StagedTable> {
        if !self.staged.contains_key(tk) {
            let mut staged = StagedTable::new(self.snap.table(tk).await?);
            if self.mode == LoadMode::Overwrite {
                staged.set_overwrite();
            }
            staged.rebuild_indexes_of(crate::index::index_specs(&self.snap.catalog, tk));
            self.staged.insert(tk.clone(), staged);
        }
        Ok(self.staged.get_mut(tk).expect("inserted above"))
    }

    /// Flush the rest, run whole-file checks, and hand over the change.
    /// Computes the vectors of the rows waiting in `tk` and appends them; a refused row is a
    /// line error, as if refused when read.
    async fn embed_waiting(&mut self, tk: &TableKey) -> Result<()> {
        let Some(mut rows) = self.waiting.remove(tk) else {
            return Ok(());
        };
        let node = self
            .catalog
            .node(&tk.type_name)
            .ok_or_else(|| EngineError::Corrupt(tk.to_string()))?
            .clone();
        fill_missing(
            &embedded_properties(&node),
            &mut rows,
            |(_, data), name| data.get(name).cloned(),
            |(_, data), name, value| {
                data.insert(name.to_string(), value);
            },
        )
        .await?;
        for (line, data) in &rows {
            let values: Vec<&Value> = node
                .properties
                .iter()
                .map(|p| data.get(&p.name).unwrap_or(&Value::Null))
                .collect();
            let table = self.tables.get_mut(tk).expect("table ensured");
            if let Err(message) = table.push(&values) {
                self.errors.push(LineError {
                    line: *line,
                    message,
                });
            }
        }
        self.maybe_flush(tk);
        Ok(())
    }

    async fn finish(mut self) -> Result<(Change, Vec<TableLoadReport>)> {
        let waiting: Vec<TableKey> = self.waiting.keys().cloned().collect();
        for tk in &waiting {
            self.embed_waiting(tk).await?;
        }
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| e.line);
            self.errors.truncate(MAX_REPORTED_ERRORS);
            return Err(EngineError::Load(std::mem::take(&mut self.errors)));
        }
        let keys: Vec<TableKey> = self.tables.keys().cloned().collect();
        for tk in &keys {
            self.flush(tk).await?;
            self.staged_mut(tk).await?;
        }
        while !self.inflight.is_empty() {
            self.collect_one().await?;
        }
        self.run_checks().await?;
        let mut change = Change::new();
        let mut report = vec![];
        for (tk, rows) in &self.tables {
            report.push(TableLoadReport {
                table_key: tk.to_string(),
                rows_loaded: rows.total,
            });
        }
        // Edges were validated against node tables this load did not write: a concurrent
        // writer that changes them must make this load conflict rather than re-apply.
        for edge in self.tables.keys().filter(|k| k.kind == TableKind::Edge) {
            if let Some(e) = self.catalog.edge(&edge.type_name) {
                change.read_deps.insert(TableKey::node(&e.from));
                change.read_deps.insert(TableKey::node(&e.to));
            }
        }
        change.staged = std::mem::take(&mut self.staged);
        Ok((change, report))
    }
}

/// The value of an edge's @unique set, where `from`/`to` are the endpoints' key texts
/// (as `check_unique_against_stored` reads them back from the stored edges).
fn edge_unique_value(
    set: &[String],
    from: &str,
    to: &str,
    data: &Map<String, Value>,
) -> Option<String> {
    let parts: Vec<Value> = set
        .iter()
        .map(|p| match p.as_str() {
            "from" => Value::String(from.to_string()),
            "to" => Value::String(to.to_string()),
            other => data.get(other).cloned().unwrap_or(Value::Null),
        })
        .collect();
    if parts.iter().any(Value::is_null) {
        return None; // nulls never collide
    }
    Some(serde_json::to_string(&parts).unwrap_or_default())
}

fn unique_value(set: &[String], data: &Map<String, Value>) -> Option<String> {
    let parts: Vec<&Value> = set
        .iter()
        .map(|p| data.get(p).unwrap_or(&Value::Null))
        .collect();
    if parts.iter().any(|v| v.is_null()) {
        return None; // nulls never collide
    }
    Some(serde_json::to_string(&parts).unwrap_or_default())
}
