//! The integration tests of omnigraph-lang, one module per area, in one test binary (one
//! link instead of one per file).

mod common;

mod cookbooks;
mod query_check_errors;
mod query_check_mutation;
mod query_check_read;
mod query_check_search;
mod query_parse;
mod robustness;
mod schema_parse;
mod schema_validate;
mod spec_examples;
