//! Engine errors. The HTTP edge maps each variant to one status code.

use omnigraph_lang::LangError;
use omnigraph_storage::StorageError;
use serde::Serialize;

/// One refused line of a bulk load (1-based line number).
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

// What a refused merge reports (shared/engine/src/merge.rs re-exports these).

/// What kind of conflict stopped a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The same key inserted on both sides with different values.
    DivergentInsert,
    /// The same row updated on both sides in different ways.
    DivergentUpdate,
    /// A row deleted on one side and updated on the other.
    DeleteVsUpdate,
    /// An edge whose endpoint node does not exist in the merged graph.
    OrphanEdge,
    /// Two rows of the merged graph share a `@unique` value.
    UniqueViolation,
    /// A source node with more edges of a `@card`-limited type than it allows.
    CardinalityViolation,
    /// A merged row that breaks `@range` / `@check` of the target's schema.
    ValueConstraintViolation,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::DivergentInsert => "divergent_insert",
            ConflictKind::DivergentUpdate => "divergent_update",
            ConflictKind::DeleteVsUpdate => "delete_vs_update",
            ConflictKind::OrphanEdge => "orphan_edge",
            ConflictKind::UniqueViolation => "unique_violation",
            ConflictKind::CardinalityViolation => "cardinality_violation",
            ConflictKind::ValueConstraintViolation => "value_constraint_violation",
        }
    }
}

/// One reason a merge was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeConflict {
    pub kind: ConflictKind,
    /// `node:Person`, `edge:Knows`.
    pub table_key: String,
    /// The row: a node's key, or `from->to` of an edge.
    pub key: Option<String>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Schema or query text did not parse or type-check.
    #[error("{0}")]
    Lang(#[from] LangError),
    /// Bulk-load lines were refused (the first ones, in file order); nothing was loaded.
    #[error("{}", format_line_errors(.0))]
    Load(Vec<LineError>),
    /// A write would break a schema constraint; nothing was written.
    #[error("constraint violation: {0}")]
    Constraint(String),
    /// The request is well-formed but not valid for this graph (bad params, unknown query name, ...).
    #[error("{0}")]
    Invalid(String),
    /// Another writer published first and touched a table this change touched.
    #[error("manifest conflict on {table_key}: expected version {expected}, found {actual}")]
    Conflict {
        table_key: String,
        expected: u64,
        actual: u64,
    },
    /// Another writer published the graph version this change meant to publish.
    #[error("graph version {0} was published by another writer")]
    VersionTaken(u64),
    /// No graph at this location, or no such graph version.
    #[error("{0}")]
    NotFound(String),
    /// A graph version that version cleanup deleted (shared/engine/src/cleanup.rs).
    #[error("{0}")]
    Reclaimed(String),
    /// The location holds a deleted (tombstoned) graph.
    #[error("{0}")]
    Deleted(String),
    /// `init` at a location that already holds a graph.
    #[error("a graph already exists at {0}")]
    AlreadyExists(String),
    #[error("storage error: {0}")]
    Lance(#[from] lance::Error),
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored state that the engine cannot make sense of (corrupt manifest, ...).
    #[error("corrupt graph storage: {0}")]
    Corrupt(String),
    /// The embedding provider is not configured, does not serve the schema's model, returned
    /// vectors of the wrong dimension, or (`unavailable`) could not be reached.
    #[error("{message}")]
    Embedding { message: String, unavailable: bool },
    /// A read ran past its deadline (see `query::budget`); it was stopped.
    #[error("the read ran past its time limit of {limit_ms} ms and was stopped; narrow it (a `limit`, a key, fewer hops) or ask for a longer `timeout_ms` up to the server's maximum")]
    QueryTimeout { limit_ms: u64 },
    /// A read was cancelled (its caller went away); nobody sees this answer.
    #[error("the read was cancelled")]
    QueryCancelled,
    /// A read held more rows in memory than its row budget allows; it was stopped.
    #[error("the read holds more than {limit} rows in memory (result rows, groups or rows to sort) and was stopped; add a `limit`, an aggregate or a narrower match")]
    RowBudgetExceeded { limit: usize },
    /// A read without `limit` would return more rows than the server returns unasked.
    #[error("the read has no `limit` and returns more than {limit} rows; add `limit` (up to the row budget) or page with `order` and `limit`, or use POST /export for whole tables")]
    ResultTooLarge { limit: usize },
    /// A merge was refused for these conflicts; nothing was written.
    #[error("{}", format_merge_conflicts(.0))]
    MergeConflicts(Vec<MergeConflict>),
    /// A storage failure (Lance, object store, Arrow, I/O) told to several callers at once
    /// (every change of a group commit, shared/engine/src/mutate/group.rs): its message, and
    /// whether the store was unreachable.
    #[error("{message}")]
    Storage { message: String, unavailable: bool },
}

fn format_merge_conflicts(c: &[MergeConflict]) -> String {
    let first = c
        .iter()
        .take(3)
        .map(|c| format!("{}: {}", c.kind.as_str(), c.message))
        .collect::<Vec<_>>()
        .join("; ");
    format!("merge refused, {} conflict(s): {first}", c.len())
}

impl EngineError {
    /// True for errors caused by what the caller sent (a 4xx at the HTTP edge).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            EngineError::Lang(_)
                | EngineError::Load(_)
                | EngineError::Constraint(_)
                | EngineError::Invalid(_)
                | EngineError::Embedding {
                    unavailable: false,
                    ..
                }
        )
    }
}

impl EngineError {
    /// True when the object store could not be reached, timed out, or answered with a
    /// server error (after the client's own retries): nothing is wrong with the request
    /// or the graph, and the same request may succeed later (a 503 at the HTTP edge).
    pub fn is_storage_unavailable(&self) -> bool {
        if let EngineError::Storage { unavailable, .. } = self {
            return *unavailable;
        }
        omnigraph_storage::error::is_unavailable(self)
    }
}

/// Each storage error as the engine error of the same name.
impl From<StorageError> for EngineError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Invalid(m) => EngineError::Invalid(m),
            StorageError::VersionTaken(v) => EngineError::VersionTaken(v),
            StorageError::NotFound(m) => EngineError::NotFound(m),
            StorageError::Reclaimed(m) => EngineError::Reclaimed(m),
            StorageError::Deleted(m) => EngineError::Deleted(m),
            StorageError::AlreadyExists(m) => EngineError::AlreadyExists(m),
            StorageError::ObjectStore(e) => EngineError::ObjectStore(e),
            StorageError::Io(e) => EngineError::Io(e),
            StorageError::Corrupt(m) => EngineError::Corrupt(m),
        }
    }
}

impl EngineError {
    /// The same error again, for one more caller: a copy where the variant can be copied,
    /// and for a storage failure its message and whether the store was unreachable.
    pub fn duplicate(&self) -> EngineError {
        use EngineError as E;
        match self {
            E::Lang(e) => E::Lang(e.clone()),
            E::Load(lines) => E::Load(lines.clone()),
            E::Constraint(m) => E::Constraint(m.clone()),
            E::Invalid(m) => E::Invalid(m.clone()),
            E::Conflict {
                table_key,
                expected,
                actual,
            } => E::Conflict {
                table_key: table_key.clone(),
                expected: *expected,
                actual: *actual,
            },
            E::VersionTaken(v) => E::VersionTaken(*v),
            E::NotFound(m) => E::NotFound(m.clone()),
            E::Reclaimed(m) => E::Reclaimed(m.clone()),
            E::Deleted(m) => E::Deleted(m.clone()),
            E::AlreadyExists(m) => E::AlreadyExists(m.clone()),
            E::Corrupt(m) => E::Corrupt(m.clone()),
            E::Embedding {
                message,
                unavailable,
            } => E::Embedding {
                message: message.clone(),
                unavailable: *unavailable,
            },
            E::QueryTimeout { limit_ms } => E::QueryTimeout {
                limit_ms: *limit_ms,
            },
            E::QueryCancelled => E::QueryCancelled,
            E::RowBudgetExceeded { limit } => E::RowBudgetExceeded { limit: *limit },
            E::ResultTooLarge { limit } => E::ResultTooLarge { limit: *limit },
            E::MergeConflicts(c) => E::MergeConflicts(c.clone()),
            E::Storage {
                message,
                unavailable,
            } => E::Storage {
                message: message.clone(),
                unavailable: *unavailable,
            },
            e @ (E::Lance(_) | E::ObjectStore(_) | E::Arrow(_) | E::Io(_)) => E::Storage {
                message: e.to_string(),
                unavailable: e.is_storage_unavailable(),
            },
        }
    }
}

fn format_line_errors(errors: &[LineError]) -> String {
    let mut s = format!("{} bad line(s), nothing loaded", errors.len());
    for e in errors {
        s.push_str(&format!("; line {}: {}", e.line, e.message));
    }
    s
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
