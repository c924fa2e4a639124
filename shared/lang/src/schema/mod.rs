//! The schema language (.pg): parsing and validation into a `Catalog`.

pub mod ast;
mod constraints;
pub mod migration;
pub mod parser;
pub mod validate;

use crate::catalog::Catalog;
use crate::error::{LangResult, DEFAULT_SOURCE_NAME};

/// Parses and validates a schema given inline (errors name the source "request").
pub fn parse_schema(source: &str) -> LangResult<Catalog> {
    parse_schema_named(source, DEFAULT_SOURCE_NAME)
}

/// Parses and validates a schema; errors name `source_name` (a file name, or "request").
pub fn parse_schema_named(source: &str, source_name: &str) -> LangResult<Catalog> {
    parser::parse_schema_ast(source)
        .and_then(|ast| validate::validate_schema(&ast))
        .map_err(|err| err.with_source_name(source_name))
}
