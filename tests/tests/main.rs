//! The end-to-end tests, one module per area, in one test binary (one link instead of one
//! per file): they start the workspace's real binaries on 127.0.0.1 with temp dirs.

mod admission;
mod branch_reads;
mod branches_http;
mod cli_branches;
mod cli_load;
mod cli_query;
mod cluster;
mod control_plane;
mod control_plane_lifecycle;
mod control_plane_registry;
mod cookbooks;
mod data_plane;
mod deployment_auth;
mod graph_storage;
mod hardening;
mod http_loads;
mod layering;
mod maintenance;
mod maintenance_crash;
mod merge_http;
mod metrics;
mod openapi;
mod query_budgets;
mod schema_apply_http;
mod search_http;
mod tags_http;
mod traces;
