//! Omnigraph's languages: the schema language (.pg) and the query language (.gq).
//! Parsing and type checking only; this crate never touches storage.
//!
//! - `parse_schema(text) -> Catalog`
//! - `parse_queries(text) -> Vec<QueryDecl>`, `check_query(&catalog, &decl) -> TypedQuery`
//! - `compile(&catalog, text, name) -> TypedQuery` (parse, select, check)
//!
//! Every failure is a positioned `LangError`; codes are listed in [`error`].

// `LangError` is a flat, public struct (its shape is part of the API: servers map its
// fields to JSON); errors are the cold path of a parser, so returning it unboxed is fine.
#![allow(clippy::result_large_err)]

pub mod catalog;
mod cursor;
pub mod error;
pub mod lexer;
pub mod query;
pub mod schema;
pub mod span;
pub mod types;

pub use catalog::*;
pub use error::{LangError, LangResult};
pub use query::ast::QueryDecl;
pub use query::typed::*;
pub use query::{
    check_query, compile, compile_all, compile_named, parse_queries, parse_queries_named,
};
pub use schema::migration::{plan_migration, Constraint, MigrationStep, TypeKind};
pub use schema::{parse_schema, parse_schema_named};
pub use span::{Ident, Span};
