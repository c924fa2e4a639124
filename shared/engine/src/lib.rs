//! The Omnigraph graph engine: graphs stored as Lance tables under one manifest.
//!
//! - `location`, `manifest`, `branch`, `tombstone`, `lease`, `table_key`, `crash_point`:
//!   the graph's storage without Lance, re-exported from shared/storage (the crate the
//!   control plane links instead of this one); `tag` adds tag creation to its tags.
//! - `table`/`staged_table`: Lance datasets per node/edge type; a change's writes to one,
//!   staged and committed detached.
//! - `index`: BTREE indexes on key, unique and @index columns, rebuilt after loads.
//! - `graph`: open/init a graph, pin snapshots, publish changes.
//! - `load`/`export`: the JSONL bulk format in and out.
//! - `columns`/`constraints`: schema types as Arrow columns; per-row rules.
//! - `query`/`mutate`: the .gq executor and mutations; `requests`: the entries for query
//!   text, one per request kind (read, change), with the compiled read and mutation types.
//! - `embedding`: the OpenAI-compatible embedding provider behind `@embed` and `nearest`.
//! - `maintenance`/`cleanup`: compaction and version cleanup.

pub use omnigraph_storage::{branch, crash_point, lease, location, manifest, table_key, tombstone};

pub mod cleanup;
pub mod columns;
pub mod constraints;
pub mod embedding;
pub mod error;
pub mod export;
pub mod graph;
pub mod identity;
pub mod index;
pub mod load;
pub mod maintenance;
mod maintenance_trigger;
pub mod merge;
pub mod metrics;
pub mod migrate;
pub mod mutate;
pub mod query;
pub mod requests;
pub mod staged_table;
pub mod storage_metrics;
pub mod table;
pub mod tag;

pub use branch::{BranchRef, Commit, MAIN};
pub use error::{EngineError, LineError, Result};
pub use export::{export, export_stream, ExportFilter};
pub use graph::{Change, Graph, SchemaChange, Snapshot};
pub use load::formats::{TableFile, TableFormat, TableSource};
pub use load::{load, load_files_on, load_on, LoadMode, LoadReport, TableLoadReport};
pub use manifest::{GraphManifest, TableEntry};
pub use merge::{ConflictKind, MergeConflict, MergeOutcome, MergeReport};
pub use migrate::{ApplyOptions, MigrationReport};
pub use mutate::MutationReport;
pub use omnigraph_storage::StorageError;
pub use query::{QueryBudget, QueryResult};
pub use requests::{
    change, read, ChangeAnswer, CompiledMutation, CompiledRead, QueryText, ReadAnswer, ReadAt,
};
pub use table_key::{TableKey, TableKind};
pub use tombstone::{purge, read_tombstone, write_tombstone, PurgeReport, Tombstone};
