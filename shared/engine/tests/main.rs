//! The integration tests of omnigraph-engine, one module per area, in one test binary (one
//! link of the engine, Lance and DataFusion instead of one per file).

// rustc's query depth for the layout of `common::random_graph::check`'s future exceeds the
// default 128 once all the modules are one crate.
#![recursion_limit = "256"]

mod common;

mod branches;
mod graph_location;
mod group_commit;
mod identity;
mod indexes;
mod load_formats;
mod load_lines;
mod maintenance;
mod merge;
mod mutate;
mod query;
mod query_after_writes;
mod query_equivalence;
mod schema_apply;
mod search;
mod storage;
mod tags;
mod tombstone;
mod write_cost;
