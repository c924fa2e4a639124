//! The query language (.gq): parsing, type checking and query selection.

pub mod ast;
mod check;
pub mod parser;
pub mod typed;

pub use ast::QueryDecl;
pub use check::check_query;

use crate::catalog::Catalog;
use crate::error::{LangError, LangResult, DEFAULT_SOURCE_NAME};
use crate::span::Span;
use typed::TypedQuery;

/// Parses every query of a source given inline (errors name the source "request").
pub fn parse_queries(source: &str) -> LangResult<Vec<QueryDecl>> {
    parse_queries_named(source, DEFAULT_SOURCE_NAME)
}

/// Parses every query of a source; errors name `source_name`.
pub fn parse_queries_named(source: &str, source_name: &str) -> LangResult<Vec<QueryDecl>> {
    parser::parse_query_decls(source, source_name).map_err(|err| err.with_source_name(source_name))
}

/// Parses `source`, picks the query called `name` (optional when there is only one) and
/// checks it against `catalog`.
pub fn compile(catalog: &Catalog, source: &str, name: Option<&str>) -> LangResult<TypedQuery> {
    compile_named(catalog, source, name, DEFAULT_SOURCE_NAME)
}

/// `compile`, with errors naming `source_name`.
pub fn compile_named(
    catalog: &Catalog,
    source: &str,
    name: Option<&str>,
    source_name: &str,
) -> LangResult<TypedQuery> {
    let decls = parse_queries_named(source, source_name)?;
    let decl = select_query(&decls, name).map_err(|err| err.with_source_name(source_name))?;
    check_query(catalog, decl)
}

/// Parses and checks every query of a source (e.g. to validate a .gq file).
pub fn compile_all(
    catalog: &Catalog,
    source: &str,
    source_name: &str,
) -> LangResult<Vec<TypedQuery>> {
    parse_queries_named(source, source_name)?
        .iter()
        .map(|decl| check_query(catalog, decl))
        .collect()
}

fn select_query<'d>(decls: &'d [QueryDecl], name: Option<&str>) -> LangResult<&'d QueryDecl> {
    let names = || {
        let names: Vec<&str> = decls.iter().map(|d| d.name.name.as_str()).collect();
        format!("one of: {}", names.join(", "))
    };
    match (name, decls) {
        (_, []) => Err(
            LangError::coded("T15", "the source holds no query", Span::new(1, 1))
                .expected("`query name(...) { ... }`"),
        ),
        (None, [only]) => Ok(only),
        (None, [first, ..]) => Err(LangError::coded(
            "T15",
            format!(
                "the source holds {} queries; name the one to run",
                decls.len()
            ),
            first.span,
        )
        .expected(names())),
        (Some(wanted), _) => decls.iter().find(|d| d.name.name == wanted).ok_or_else(|| {
            LangError::coded("T15", format!("no query named `{wanted}`"), Span::new(1, 1))
                .expected(names())
                .found(format!("`{wanted}`"))
        }),
    }
}
