//! Data-plane request and response bodies (`/read`, `/change`, `/ingest`, `/schema`,
//! `/snapshot`, `/export`, and their aliases `/query`, `/mutate`, `/load`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// Content type of `/export` bodies and of `IngestRequest::data`.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// Query parameters: a JSON object, name -> value.
pub type QueryParams = Map<String, Value>;

/// `POST /read` (alias `/query`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "query_source": "query friends_of($name: String) { match { $p: Person { name: $name } $p knows $f } return { $f.name, $f.age } order { $f.name } }",
    "params": { "name": "Alice" }
}))]
pub struct ReadRequest {
    /// One or more queries in the query language.
    pub query_source: String,
    /// Which query of `query_source` to run; required when it holds several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<QueryParams>,
    /// Branch to read; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Read the graph as of this manifest version (see `SnapshotResponse`) instead of
    /// the branch head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<u64>,
    /// Read the commit this tag names (`POST /tags`) instead of a branch; not with
    /// `branch` or `snapshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Stop the read after this many milliseconds (408 `query_timeout`); at most the
    /// worker's maximum (300,000 by default), the worker's default (30,000) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub timeout_ms: Option<u64>,
}

/// Which consistent graph version a read saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub manifest_version: u64,
}

/// Answer of `POST /read`; `rows` are objects keyed by `columns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadResponse {
    pub query_name: String,
    pub target: ReadTarget,
    pub row_count: u64,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
}

/// `POST /change` (alias `/mutate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "query_source": "query birthday($name: String) { update Person set { age: 31 } where name = $name }",
    "params": { "name": "Alice" }
}))]
pub struct ChangeRequest {
    pub query_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub params: Option<QueryParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeResponse {
    pub branch: String,
    pub query_name: String,
    pub affected_nodes: u64,
    pub affected_edges: u64,
    /// The graph version that holds this change (changes that arrived together share one
    /// version: group commit); a read at `snapshot_version` >= it sees the change. When
    /// the change affected nothing, the version it was planned on.
    #[serde(default)]
    pub manifest_version: u64,
    /// The authenticated actor; absent in open mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// How `/ingest` combines new rows with existing ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestMode {
    /// Replace the contents of every table the data touches.
    Overwrite,
    /// Add rows; a key that already exists is an error.
    Append,
    /// Upsert by key.
    #[default]
    Merge,
}

impl IngestMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestMode::Overwrite => "overwrite",
            IngestMode::Append => "append",
            IngestMode::Merge => "merge",
        }
    }
}

/// `POST /ingest` (alias `/load`); body limit 32 MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "data": "{\"type\": \"Person\", \"data\": {\"name\": \"Dana\", \"age\": 41}}\n{\"edge\": \"Knows\", \"from\": \"Dana\", \"to\": \"Alice\"}\n",
    "mode": "merge"
}))]
pub struct IngestRequest {
    /// NDJSON, one node or edge per line (the format `/export` writes).
    pub data: String,
    #[serde(default)]
    pub mode: IngestMode,
    /// Target branch; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// When `branch` does not exist yet: create it from this branch first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// Query string of `POST /load/ndjson` (the body is the NDJSON itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoadNdjsonQuery {
    /// How the rows combine with those stored: `append` (new keys only), `merge` (upsert)
    /// or `overwrite` (each table the data names is replaced).
    pub mode: IngestMode,
    /// Branch to load into; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Create `branch` from this branch first when it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Answer with a stream of NDJSON lines instead: `{"progress": LoadProgress}` about
    /// every second while the body is read, then one `{"result": LoadNdjsonResponse}` or
    /// `{"error": ErrorBody}` (the status, 200, is sent before the outcome is known).
    #[serde(default)]
    pub progress: bool,
}

/// Query string of `POST /load/csv` and `POST /load/parquet` (the body is the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoadTableQuery {
    /// The node or edge type the file's rows are.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub type_name: String,
    /// As for `POST /load/ndjson`.
    pub mode: IngestMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default)]
    pub progress: bool,
}

/// One progress line of a `POST /load/ndjson?progress=true` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoadProgress {
    /// Bytes of NDJSON read so far (after decompression).
    pub bytes_read: u64,
    /// Lines read so far.
    pub lines_read: u64,
    pub seconds: f64,
    pub lines_per_second: f64,
}

/// Rows a load wrote for one node or edge type of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntitiesLoaded {
    /// The type's name in the schema.
    pub name: String,
    pub entities_loaded: u64,
}

/// `POST /load/ndjson`: what the load published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoadNdjsonResponse {
    pub branch: String,
    pub mode: IngestMode,
    /// The graph version the load published (visible to every read from now on).
    pub manifest_version: u64,
    pub nodes: Vec<EntitiesLoaded>,
    pub edges: Vec<EntitiesLoaded>,
    pub total_entities: u64,
    /// Bytes of NDJSON read (after decompression).
    pub bytes_read: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// Rows written to one table by a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TableLoadCount {
    /// e.g. `node:Person`, `edge:Knows`.
    pub table_key: String,
    pub rows_loaded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    pub uri: String,
    pub branch: String,
    pub mode: IngestMode,
    pub tables: Vec<TableLoadCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// `GET /schema`: the accepted schema text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemaResponse {
    pub schema_source: String,
}

/// `POST /schema/apply`. Flat `schema_source`, unlike `CreateGraphRequest::schema`,
/// to match `SchemaResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "schema_source": "node Person { name: String @key  age: I32? }", "branch": "main" }))]
pub struct SchemaApplyRequest {
    /// The whole new schema. A renamed type or property names its old name with
    /// `@rename_from("old")`; anything else missing from it is dropped.
    pub schema_source: String,
    /// Delete the data of dropped types and properties from storage (by default they stay
    /// readable at earlier versions).
    #[serde(default)]
    pub allow_data_loss: bool,
    /// Plan and check the migration against the stored rows; publish nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Branch to migrate; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// Kind of one migration step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemaStepKind {
    AddType,
    DropType,
    RenameType,
    AddProperty,
    DropProperty,
    RenameProperty,
    SetNullable,
    ExtendEnum,
    AddIndex,
    DropIndex,
    AddConstraint,
    DropConstraint,
}

/// One step of a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemaStep {
    pub kind: SchemaStepKind,
    /// The table the step changes, by its new name (`node:Person`).
    pub table_key: String,
    /// What the step does, in words (`rename property Person.age to years`).
    pub description: String,
}

/// `POST /schema/apply`: the steps, and the version that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemaApplyResponse {
    pub branch: String,
    /// Whether a new version was published (false for a dry run or an unchanged schema).
    pub applied: bool,
    pub dry_run: bool,
    /// The branch head after the apply.
    pub manifest_version: u64,
    pub steps: Vec<SchemaStep>,
    /// Table directories whose data was deleted (`allow_data_loss`).
    pub deleted_paths: Vec<String>,
    /// Table directories kept despite `allow_data_loss` because another branch's head uses them.
    pub kept_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
}

/// Query string of `GET /snapshot` (and of other branch-scoped GETs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BranchQuery {
    /// Branch; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// One table of a graph version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotTable {
    pub table_key: String,
    pub table_path: String,
    pub table_version: u64,
    pub row_count: u64,
}

/// `GET /snapshot`: the manifest of a branch head: which version of which table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotResponse {
    pub branch: String,
    pub manifest_version: u64,
    pub tables: Vec<SnapshotTable>,
}

/// `POST /export`: streams NDJSON in the ingest format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "types": ["Person", "Knows"] }))]
pub struct ExportRequest {
    /// Node and edge type names to export; every type when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// `POST /maintenance`: compact (and clean up) now, instead of at the worker's next round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({ "branch": "main", "cleanup": true }))]
pub struct MaintenanceRequest {
    /// Compact this branch only; main and every branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Also delete old versions by the worker's retention (default true; nothing is
    /// deleted when the worker runs with cleanup off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<bool>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What `POST /maintenance` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaintenanceResponse {
    pub compactions: Vec<CompactionResult>,
    /// Absent when no cleanup ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupResult>,
    /// The request ran into the worker's time limit for maintenance
    /// (`--maintenance-timeout-ms`) and stopped: what is listed was done; the branches not
    /// listed, and the cleanup when absent, were not started. The next run goes on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deadline_reached: bool,
}

/// One branch's compaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompactionResult {
    pub branch: String,
    /// The graph version it published; absent when nothing needed compacting, or when it
    /// gave way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_version: Option<u64>,
    pub tables: Vec<CompactedTable>,
    /// Writers published to the tables first on every attempt: nothing was published.
    pub gave_way: bool,
    /// Stopped at the time limit before publishing: nothing was published (the files it
    /// wrote go with a later cleanup).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deadline_reached: bool,
}

/// One table a compaction rewrote: its small fragments (and those with many deleted
/// rows) merged; the others keep their files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompactedTable {
    pub table_key: String,
    pub fragments_before: u64,
    pub fragments_after: u64,
    /// Rows of the table.
    pub rows: u64,
    /// Rows of the fragments it rewrote.
    #[serde(default)]
    pub rows_rewritten: u64,
}

/// What a cleanup deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CleanupResult {
    pub graph_versions_deleted: u64,
    pub files_deleted: u64,
    pub bytes_deleted: u64,
    /// The oldest graph version of main still readable.
    pub oldest_kept_version: u64,
    /// Stopped at the time limit before deleting all it could (safe: the next run goes on).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deadline_reached: bool,
}

/// What the latest maintenance round of a graph did (recorded in the graph's storage by the
/// worker that ran it; shown by the control plane's `GET /graphs/{graph_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaintenanceRun {
    /// When it finished (RFC 3339, UTC).
    pub finished_at: String,
    /// The worker that ran it.
    pub worker_id: String,
    pub compactions: Vec<CompactionResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupResult>,
}

/// A graph's maintenance: who holds its lease, and what the latest round did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaintenanceState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<MaintenanceRun>,
}
