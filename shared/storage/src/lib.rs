//! A graph's storage apart from its tables' contents, on local disk or S3 through
//! object_store alone (no Lance, Arrow or DataFusion): what the control plane needs to
//! create, describe, delete and purge graphs, and what the engine builds on
//! (shared/engine). The layout and commit protocol: docs/storage.md.
//!
//! - `location`: where a graph lives (local directory or `s3://`), one object-store path.
//! - `manifest`: graph versions, published by create-if-absent (the cross-process CAS).
//! - `create`: a new graph's incarnation and first manifest (its tables created later).
//! - `branch`/`tag`: branch refs and chains, commits, tags.
//! - `tombstone`: deleted graphs (the marker every process honours) and their purge.
//! - `lease`: which worker maintains a graph, and the record of its last round.
//! - `table_key`: table names and folders; `storage_metrics`: object-store metrics and
//!   spans; `crash_point`: crash tests' failure points.

pub mod branch;
pub mod crash_point;
pub mod create;
pub mod error;
pub mod lease;
pub mod location;
pub mod manifest;
pub mod storage_metrics;
pub mod table_key;
pub mod tag;
pub mod tombstone;

pub use create::create_graph;
pub use error::{Result, StorageError};
pub use location::GraphLocation;
pub use manifest::{GraphManifest, TableEntry};
pub use table_key::{TableKey, TableKind};
pub use tombstone::{purge, read_tombstone, write_tombstone, PurgeReport, Tombstone};
